"""The chat socket: ws(s)://HOST/ws/projects/{project_id}/conversations/{conversation_id}/

Protocol (API.md): authenticate with the access token (`?token=` or the subprotocol
`bearer, <token>`), pass the same tenant gate as REST, then
- client → server: `message.send`, `generation.cancel`, `resume`;
- server → client: the conversation's stored events (each with its `seq`), in seq order
  without gaps or repeats, plus `ping` heartbeats and `error`s about this socket's own input
  (those two are not stored: their `seq` is null).
If the channel layer (Redis) goes away, the socket gets an `error` `bus_unavailable` (seq null)
and is closed with 1013 (try again later); the events go on being stored in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError

from accounts.models import User
from inference.client import BUS_ERRORS
from projects.selectors import project_user_has_perm
from projects.tenancy import CONTRIBUTE
from projects.usage import QuotaExceeded, quota_check

from . import selectors, services
from .services.events import conversation_group

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TRY_AGAIN_LATER = 1013  # the channel layer (Redis) went away: reconnect, then `resume`
BUS_LOST = "The server lost its connection to Redis. Reconnect and resume after your last seq."
REPLAY_CHUNK = 500


def _user_for_token(token: str) -> User | None:
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken

    if not token:
        return None
    try:
        access = AccessToken(token)  # type: ignore[arg-type]  # a raw token string is accepted
        user_id = access[api_settings.USER_ID_CLAIM]
    except (TokenError, KeyError):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def _gate(user: User, project_id: str, conversation_id: str):
    access, conversation = selectors.conversation_for_user(
        project_id=project_id, conversation_id=conversation_id, user=user
    )
    can_send = project_user_has_perm(user=user, project=access.project, perm=CONTRIBUTE)
    return conversation, can_send


def _events_after(conversation_id, after: int, upto: int | None = None) -> list[dict[str, Any]]:
    qs = selectors.event_list(conversation=conversation_id, after=after)
    if upto is not None:
        qs = qs.filter(seq__lt=upto)
    return [e.as_wire() for e in qs[:REPLAY_CHUNK]]


def _last_seq(conversation_id) -> int:
    from .models import Conversation

    return Conversation.objects.filter(pk=conversation_id).values_list("last_seq", flat=True).first() or 0


def _error_detail(exc: DRFValidationError) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        return "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(map(str, detail))
    return str(detail)


class ChatConsumer(AsyncWebsocketConsumer):
    conversation: Any = None
    user: User | None = None
    can_send = False
    last_seq = 0
    group: str | None = None
    _ping_task: asyncio.Task | None = None

    _accepted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except BUS_ERRORS:
            logger.warning("chat socket: lost the channel layer", exc_info=True)
            if self._ping_task is not None:
                self._ping_task.cancel()
            error = {"type": "error", "seq": None, "code": "bus_unavailable", "detail": BUS_LOST}
            with contextlib.suppress(Exception):  # the client may be gone as well
                if not self._accepted:  # so that the client sees the close code, not an HTTP 403
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.send", "text": json.dumps(error)})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol=subprotocol, headers=headers)
        self._accepted = True

    async def connect(self) -> None:
        self._lock = asyncio.Lock()
        token, subprotocol = self._token()
        user = await database_sync_to_async(_user_for_token)(token)
        if user is None:
            await self._reject(CLOSE_UNAUTHENTICATED, subprotocol)
            return
        kwargs = self.scope["url_route"]["kwargs"]
        try:
            self.conversation, self.can_send = await database_sync_to_async(_gate)(
                user, str(kwargs["project_id"]), str(kwargs["conversation_id"])
            )
        except NotFound:
            await self._reject(CLOSE_NOT_FOUND, subprotocol)
            return
        self.user = user
        self.group = conversation_group(self.conversation.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Live from here: every event after the current last seq (group joined first: no gap).
        self.last_seq = await database_sync_to_async(_last_seq)(self.conversation.pk)
        await self.accept(subprotocol=subprotocol)
        self._ping_task = asyncio.create_task(self._pings())

    def _token(self) -> tuple[str, str | None]:
        protocols = [p.strip() for p in self.scope.get("subprotocols") or []]
        if len(protocols) >= 2 and protocols[0].lower() == "bearer":
            return protocols[1], protocols[0]
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        return (query.get("token") or [""])[0], None

    async def _reject(self, code: int, subprotocol: str | None) -> None:
        # Accept, then close with the code at once: a close before accept would be an HTTP 403
        # and the client would never see 4401/4404. No data is sent.
        await self.accept(subprotocol=subprotocol)
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self._ping_task is not None:
            self._ping_task.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _pings(self) -> None:
        interval = min(float(settings.AGENT_WS_PING_SECONDS), 20.0)
        try:
            while True:
                await asyncio.sleep(interval)
                await self._send({"type": "ping", "seq": None})
        except asyncio.CancelledError:
            pass

    async def _send(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event, default=str))

    async def _error(self, code: str, detail: str) -> None:
        await self._send({"type": "error", "seq": None, "code": code, "detail": detail})

    # --- server → client: stored events, in order -----------------------------------------------

    async def conversation_event(self, message: dict[str, Any]) -> None:
        """A stored event from the group. Fills any gap from the log, drops repeats."""
        event = message["event"]
        async with self._lock:
            seq = int(event["seq"])
            if seq <= self.last_seq:
                return
            while seq > self.last_seq + 1:
                missing = await database_sync_to_async(_events_after)(
                    self.conversation.pk, self.last_seq, seq
                )
                if not missing:
                    break
                for item in missing:
                    await self._send(item)
                    self.last_seq = item["seq"]
            await self._send(event)
            self.last_seq = seq

    async def _replay(self, after: int) -> None:
        async with self._lock:
            cursor = after
            while True:
                chunk = await database_sync_to_async(_events_after)(self.conversation.pk, cursor)
                for item in chunk:
                    await self._send(item)
                    cursor = item["seq"]
                if len(chunk) < REPLAY_CHUNK:
                    break
            self.last_seq = max(cursor, after)

    # --- client → server -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", errors="replace")
        if len(raw.encode("utf-8")) > settings.AGENT_WS_MAX_MESSAGE_BYTES:
            await self._error("message_too_large", f"At most {settings.AGENT_WS_MAX_MESSAGE_BYTES} bytes.")
            return
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            await self._error("malformed_json", "The message is not valid JSON.")
            return
        if not isinstance(data, dict):
            await self._error("malformed_json", "The message must be a JSON object.")
            return
        kind = data.get("type")
        if kind == "message.send":
            await self._message_send(data)
        elif kind == "generation.cancel":
            await self._cancel()
        elif kind == "resume":
            after = data.get("after_seq", 0)
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                await self._error("invalid", "after_seq: a non-negative integer.")
                return
            await self._replay(after)
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def _message_send(self, data: dict[str, Any]) -> None:
        if not self.can_send:
            await self._error("permission_denied", "Your role in this project does not allow sending.")
            return
        content = data.get("content")
        client_id = data.get("client_id")
        if not isinstance(content, str):
            await self._error("invalid", "content: a string is required.")
            return
        if client_id is not None and not isinstance(client_id, str):
            await self._error("invalid", "client_id: a string.")
            return
        try:  # over the daily token quota: an `error` event with `reset_at`, nothing stored
            await database_sync_to_async(lambda: quota_check(project=self.conversation.project))()
        except QuotaExceeded as exc:
            await self._send({"type": "error", "seq": None, **exc.as_event()})
            return
        try:
            await database_sync_to_async(services.message_send)(
                conversation=self.conversation, content=content, sender_user=self.user, client_id=client_id
            )
        except DRFValidationError as exc:
            await self._error("invalid", _error_detail(exc))

    async def _cancel(self) -> None:
        if not self.can_send:
            await self._error("permission_denied", "Your role in this project does not allow cancelling.")
            return
        message = await database_sync_to_async(services.conversation_cancel)(conversation=self.conversation)
        if message is None:
            await self._error("nothing_running", "No generation is running.")
