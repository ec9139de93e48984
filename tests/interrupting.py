"""Shared by the tests that take something away in the middle of an answer (the inference
worker, Redis): a long answer, a turn interrupted at its first token, and what must hold after."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection

from agents import services
from agents.models import ConversationEvent, Message
from agents.tests.factories import AgentFactory, ConversationFactory
from inference import client

# Far longer than the 15 s heartbeat: an answer that ends in `worker_lost` or `bus_unavailable`
# did not wait out the stream's time limit (that one ends in `timeout`).
STREAM_TIMEOUT = 240.0
LONG = [{"role": "user", "content": "Write a very long story about the sea, with many chapters."}]


def interrupted_stream(interrupt: Callable[[], None]) -> list[dict[str, Any]]:
    """The events of a long `chat_stream`, with `interrupt()` called at its first tokens."""
    events = []
    stream: Iterator[dict[str, Any]] = client.chat_stream(messages=LONG, max_tokens=1000, temperature=1.0)
    for event in stream:
        events.append(event)
        if len(events) == 1:
            assert event["type"] == "tokens", event
            interrupt()
    kinds = [event["type"] for event in events]
    assert kinds[-1] == "error" and set(kinds[:-1]) == {"tokens"}, kinds
    return events


def interrupted_turn(project: Any, interrupt: Callable[[], None]) -> Message:
    """A long agent turn, run in a thread, with `interrupt()` called once its first token is
    stored; its final assistant message."""
    services.tool_registry_sync()
    agent: Any = AgentFactory(project=project, name="Storyteller", max_tokens=1000, temperature=1.0)
    conversation: Any = ConversationFactory(agent=agent, project=project)
    outcome: dict[str, Message] = {}

    def turn() -> None:
        try:
            outcome["reply"] = services.agent_run_once(
                agent=agent, conversation=conversation, content=LONG[0]["content"]
            )
        finally:
            connection.close()

    thread = threading.Thread(target=turn)
    thread.start()
    deadline = time.monotonic() + 120
    while not ConversationEvent.objects.filter(conversation=conversation, type="token").exists():
        assert thread.is_alive() and time.monotonic() < deadline, "no token came"
        time.sleep(0.05)
    interrupt()
    thread.join(STREAM_TIMEOUT + 30)
    assert not thread.is_alive()
    return outcome["reply"]


def assert_failed_keeping_its_text(reply: Message, code: str) -> None:
    """Failed with `code`, exactly the streamed text kept, one `error` event, the log in order."""
    assert reply.status == "failed" and reply.error.startswith(code), reply.error
    events = list(ConversationEvent.objects.filter(conversation=reply.conversation_id).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    streamed = "".join(
        e.payload["text"] for e in events if e.type == "token" and e.payload["message_id"] == str(reply.pk)
    )
    assert streamed and reply.content == streamed  # nothing lost, nothing half-written
    errors = [e for e in events if e.type == "error"]
    assert [e.payload["code"] for e in errors] == [code]
    assert errors[0].payload["message_id"] == str(reply.pk)
    assert events[-1].type == "message.completed" and events[-1].payload["message"]["status"] == "failed"
