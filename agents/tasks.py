"""Celery tasks (the `default` queue): they take ids and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="agents.tasks.conversation_process", acks_late=True, ignore_result=True)
def conversation_process(conversation_id: str) -> int:
    """Run the queued turns of a conversation, one at a time, in order."""
    from agents.services import conversation_process_queue

    return conversation_process_queue(conversation_id=conversation_id)


@shared_task(name="agents.tasks.stale_turns_reap", ignore_result=True)
def stale_turns_reap() -> int:
    """Fail turns left running by a dead worker; restart lost queues (Celery beat, every minute)."""
    from agents.services.conversations import stale_turns_reap as reap

    return reap()
