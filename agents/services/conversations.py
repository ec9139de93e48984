"""Writes about conversations and messages, and the one-turn-at-a-time queue."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User
from agents.models import Agent, Conversation, ConversationEvent, Message
from projects.models import Project

from .events import error_emit, event_emit, message_created_emit, message_payload

logger = logging.getLogger(__name__)

LEASE_MARGIN = 30.0  # seconds past the turn time limit before another worker may take over


@transaction.atomic
def conversation_create(
    *, project: Project, agent: Agent, created_by: User | None = None, title: str = ""
) -> Conversation:
    if agent.project_id != project.pk:
        raise ValidationError({"agent_id": ["No such agent in this project."]})
    return Conversation.objects.create(project=project, agent=agent, created_by=created_by, title=title[:200])


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


@transaction.atomic
def agent_to_agent_conversation(*, asker: Agent, target: Agent) -> Conversation:
    """The conversation in which `asker` puts questions to `target` (same project only)."""
    if asker.project_id != target.project_id:
        raise ValidationError({"agent": ["Agents can only talk within one project."]})
    conversation = (
        Conversation.objects.select_for_update()
        .filter(project_id=asker.project_id, agent=target, asker_agent=asker)
        .first()
    )
    if conversation is None:
        conversation = Conversation.objects.create(
            project_id=asker.project_id,
            agent=target,
            asker_agent=asker,
            title=f"{asker.name} asks {target.name}",
        )
    return conversation


def _inbound_message(
    *,
    conversation: Conversation,
    content: str,
    sender_user: User | None,
    sender_system: str | None,
    sender_agent: Agent | None,
    client_id: str | None,
    status: str,
) -> Message:
    content = (content or "").strip()
    if not content:
        raise ValidationError({"content": ["This field may not be blank."]})
    if len(content) > settings.AGENT_MAX_MESSAGE_CHARS:
        raise ValidationError({"content": [f"At most {settings.AGENT_MAX_MESSAGE_CHARS} characters."]})
    if client_id is not None and len(client_id) > 100:
        raise ValidationError({"client_id": ["At most 100 characters."]})
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.USER,
        sender_user=sender_user,
        sender_agent=sender_agent,
        sender_system=sender_system or "",
        receiver_agent=conversation.agent,
        content=content,
        status=status,
        client_id=client_id or None,
    )


def message_send(
    *,
    conversation: Conversation,
    content: str,
    sender_user: User | None = None,
    sender_system: str | None = None,
    client_id: str | None = None,
) -> Message:
    """Store an inbound message, emit `message.created`, and queue the turn (on commit).

    Idempotent on `client_id` within the conversation: a repeat returns the first message
    and changes nothing. Messages sent during a turn wait, in order.
    """
    if client_id:
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            message = _inbound_message(
                conversation=conversation,
                content=content,
                sender_user=sender_user,
                sender_system=sender_system,
                sender_agent=None,
                client_id=client_id,
                status=Message.Status.QUEUED,
            )
            message_created_emit(message)
            transaction.on_commit(lambda: _enqueue(conversation.pk))
    except IntegrityError:
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is None:
            raise
        return existing
    return message


def _enqueue(conversation_id: uuid.UUID) -> None:
    from agents.tasks import conversation_process

    conversation_process.apply_async(args=[str(conversation_id)], queue=settings.AGENT_TURN_QUEUE)


@transaction.atomic
def conversation_cancel(*, conversation: Conversation) -> Message | None:
    """Ask the running turn to stop; it keeps what was written and ends as `cancelled`."""
    running = (
        Message.objects.select_for_update()
        .filter(conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.RUNNING)
        .order_by("created_at")
        .first()
    )
    if running is None:
        return None
    running.cancel_requested = True
    running.save(update_fields=["cancel_requested", "updated_at"])
    transaction.on_commit(lambda: _cancel_inference(running.pk))
    return running


def _cancel_inference(message_id: uuid.UUID) -> None:
    from .runtime import step_request_id

    try:
        from inference.client import cancel

        for step in range(settings.AGENT_MAX_TOOL_STEPS + 1):  # whichever model step is running
            cancel(step_request_id(message_id, step))
    except Exception:  # the runtime also sees cancel_requested and stops on its own
        logger.warning("could not forward cancel of %s to the inference worker", message_id, exc_info=True)


# --- the lease: one turn at a time per conversation ---------------------------------------------


def _lease_seconds() -> float:
    return float(settings.AGENT_TURN_TIMEOUT) + LEASE_MARGIN


def lease_claim(*, conversation_id: uuid.UUID | str, token: uuid.UUID) -> bool:
    now = timezone.now()
    return bool(
        Conversation.objects.filter(pk=conversation_id)
        .filter(Q(lease_token__isnull=True) | Q(lease_until__lt=now) | Q(lease_token=token))
        .update(lease_token=token, lease_until=now + timedelta(seconds=_lease_seconds()))
    )


def lease_release(*, conversation_id: uuid.UUID | str, token: uuid.UUID) -> None:
    Conversation.objects.filter(pk=conversation_id, lease_token=token).update(
        lease_token=None, lease_until=None
    )


def stale_turns_fail(*, conversation_id: uuid.UUID | str) -> int:
    """Fail assistant messages left `running` by a worker that died (call with the lease held)."""
    count = 0
    for message in Message.objects.filter(
        conversation_id=conversation_id, role=Message.Role.ASSISTANT, status=Message.Status.RUNNING
    ):
        tokens = ConversationEvent.objects.filter(
            conversation_id=conversation_id, type="token", payload__message_id=str(message.pk)
        ).order_by("seq")
        message_fail(
            message=message,
            code="worker_lost",
            detail="The worker running this turn stopped.",
            content="".join(e.payload.get("text", "") for e in tokens),
        )
        count += 1
    return count


def stale_turns_reap() -> int:
    """Fail turns whose worker died (nothing renewed their lease), and restart queues whose task
    was lost. Run every minute by Celery beat. Returns how many conversations it touched."""
    now = timezone.now()
    started_before = now - timedelta(seconds=_lease_seconds())
    stuck = set(
        Message.objects.filter(
            role=Message.Role.ASSISTANT, status=Message.Status.RUNNING, started_at__lt=started_before
        ).values_list("conversation_id", flat=True)
    )
    waiting = set(
        Message.objects.filter(
            role=Message.Role.USER, status=Message.Status.QUEUED, created_at__lt=now - timedelta(seconds=60)
        ).values_list("conversation_id", flat=True)
    )
    touched = 0
    for conversation_id in stuck | waiting:
        token = uuid.uuid4()
        if not lease_claim(conversation_id=conversation_id, token=token):
            continue  # a live worker holds it
        try:
            stale_turns_fail(conversation_id=conversation_id)
        finally:
            lease_release(conversation_id=conversation_id, token=token)
        if _next_queued(conversation_id) is not None:
            _enqueue(conversation_id)
        touched += 1
    return touched


def message_fail(*, message: Message, code: str, detail: str, content: str | None = None) -> Message:
    with transaction.atomic():
        message.status = Message.Status.FAILED
        message.error = f"{code}: {detail}"
        if content is not None:
            message.content = content
        message.finished_at = timezone.now()
        message.save(update_fields=["status", "error", "content", "finished_at", "updated_at"])
        error_emit(conversation_id=message.conversation_id, code=code, detail=detail, message_id=message.pk)
        event_emit(
            conversation_id=message.conversation_id,
            type="message.completed",
            payload={
                "message": message_payload(message),
                "usage": message.usage or {},
                "timings": message.timings or {},
            },
        )
    return message


def _next_queued(conversation_id: uuid.UUID | str) -> Message | None:
    return (
        Message.objects.filter(
            conversation_id=conversation_id, role=Message.Role.USER, status=Message.Status.QUEUED
        )
        .order_by("created_at")
        .first()
    )


def conversation_process_queue(*, conversation_id: uuid.UUID | str) -> int:
    """Run the queued turns of one conversation in order, if no other worker is. Returns turns run."""
    from .runtime import turn_run

    token = uuid.uuid4()
    turns = 0
    while True:
        if not lease_claim(conversation_id=conversation_id, token=token):
            return turns  # another worker holds the lease; it will see our message
        try:
            stale_turns_fail(conversation_id=conversation_id)
            while (inbound := _next_queued(conversation_id)) is not None:
                lease_claim(conversation_id=conversation_id, token=token)  # renew for this turn
                conversation = Conversation.objects.select_related("agent", "project").get(pk=conversation_id)
                turn_run(conversation=conversation, inbound=inbound)
                turns += 1
        finally:
            lease_release(conversation_id=conversation_id, token=token)
        if _next_queued(conversation_id) is None:  # nothing slipped in while we released
            return turns


def agent_run_once(
    *,
    agent: Agent,
    conversation: Conversation,
    content: str,
    sender_system: str | None = None,
    sender_agent: Agent | None = None,
    timeout: float | None = None,
) -> Message:
    """Run one whole turn in this process and return the final assistant message
    (completed, failed or cancelled). Waits its turn if the conversation is busy."""
    from .runtime import turn_run

    if conversation.agent_id != agent.pk or conversation.project_id != agent.project_id:
        raise ValidationError({"conversation": ["This conversation is not with this agent."]})
    timeout = float(timeout or settings.AGENT_TURN_TIMEOUT)
    wait_until = time.monotonic() + timeout
    token = uuid.uuid4()
    claimed = lease_claim(conversation_id=conversation.pk, token=token)
    while not claimed and time.monotonic() < wait_until:
        time.sleep(0.2)
        claimed = lease_claim(conversation_id=conversation.pk, token=token)
    with transaction.atomic():
        inbound = _inbound_message(
            conversation=conversation,
            content=content,
            sender_user=None,
            sender_system=sender_system,
            sender_agent=sender_agent,
            client_id=None,
            status=Message.Status.RUNNING if claimed else Message.Status.FAILED,
        )
        message_created_emit(inbound)
    if not claimed:
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            sender_agent=agent,
            receiver_agent=sender_agent,
            receiver_system=sender_system or "",
            reply_to=inbound,
            status=Message.Status.RUNNING,
        )
        return message_fail(
            message=reply, code="busy", detail="The conversation was busy for the whole time limit."
        )
    try:
        stale_turns_fail(conversation_id=conversation.pk)
        conversation = Conversation.objects.select_related("agent", "project").get(pk=conversation.pk)
        remaining = max(1.0, wait_until - time.monotonic())
        return turn_run(conversation=conversation, inbound=inbound, timeout=remaining)
    finally:
        lease_release(conversation_id=conversation.pk, token=token)
        if _next_queued(conversation.pk) is not None:
            _enqueue(conversation.pk)
