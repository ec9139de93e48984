"""The per-conversation event log: every protocol event gets the next `seq`, is stored, and is
sent to the conversation's Channels group once its transaction commits."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from agents.models import ConversationEvent, Message

logger = logging.getLogger(__name__)


def conversation_group(conversation_id: uuid.UUID | str) -> str:
    return f"conversation.{conversation_id}"


def _broadcast(conversation_id: uuid.UUID | str, wire: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            conversation_group(conversation_id), {"type": "conversation.event", "event": wire}
        )
    except Exception:  # the event is stored: a client that missed it replays it with `resume`
        logger.exception("could not broadcast event %s of conversation %s", wire.get("seq"), conversation_id)


@transaction.atomic
def event_emit(*, conversation_id: uuid.UUID | str, type: str, payload: dict[str, Any]) -> ConversationEvent:
    """Store the event with the conversation's next seq; send it on commit.

    The seq comes from one UPDATE … RETURNING on the conversation row, whose lock is held
    until this transaction commits: events commit in seq order.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE agents_conversation SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise ValueError(f"No conversation {conversation_id}")
    event = ConversationEvent.objects.create(
        conversation_id=conversation_id, seq=row[0], type=type, payload=payload
    )
    wire = event.as_wire()
    transaction.on_commit(lambda: _broadcast(conversation_id, wire))
    return event


def message_payload(message: Message) -> dict[str, Any]:
    """A message as the REST API shows it (JSON-ready)."""
    from agents.serializers import MessageSerializer

    return dict(MessageSerializer(message).data)


def message_created_emit(message: Message) -> ConversationEvent:
    return event_emit(
        conversation_id=message.conversation_id,
        type="message.created",
        payload={"message": message_payload(message)},
    )


def error_emit(
    *, conversation_id: uuid.UUID | str, code: str, detail: str, message_id: Any = None
) -> ConversationEvent:
    payload: dict[str, Any] = {"code": code, "detail": detail}
    if message_id is not None:
        payload["message_id"] = str(message_id)
    return event_emit(conversation_id=conversation_id, type="error", payload=payload)
