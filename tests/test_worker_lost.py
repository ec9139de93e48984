"""The inference worker dies in the middle of an answer (killed, out of memory, its machine
gone): the stream ends with an `error` event `worker_lost` once the worker's heartbeat has
expired, instead of waiting out INFERENCE_STREAM_TIMEOUT; an agent turn ends `failed` with that
reason, keeps what was streamed, and the conversation stays usable. Each test kills a real
worker of its own, on a queue of its own."""

from __future__ import annotations

import re
import signal
import threading
import time

import pytest

from agents import services
from inference import client
from tests.fixtures.workers import start_private_inference_worker
from tests.interrupting import (
    STREAM_TIMEOUT,
    assert_failed_keeping_its_text,
    interrupted_stream,
    interrupted_turn,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


@pytest.fixture
def session_queue(inference_worker, settings):
    """The session's inference worker's queue (started before this test moves to its own)."""
    return settings.INFERENCE_QUEUE


@pytest.fixture
def doomed_worker(session_queue, settings):
    settings.INFERENCE_STREAM_TIMEOUT = STREAM_TIMEOUT
    settings.AGENT_TURN_TIMEOUT = STREAM_TIMEOUT
    worker = start_private_inference_worker(settings, name="doomed")
    yield worker
    worker.stop()


def kill(worker) -> None:
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(10)


def test_a_stream_whose_worker_dies_ends_with_worker_lost(doomed_worker):
    events = interrupted_stream(lambda: kill(doomed_worker))
    assert events[-1]["code"] == "worker_lost"
    assert "stopped during the answer" in events[-1]["detail"]


def test_an_agent_turn_whose_worker_dies_fails_and_the_conversation_goes_on(
    doomed_worker, session_queue, project, settings
):
    reply = interrupted_turn(project, lambda: kill(doomed_worker))
    assert_failed_keeping_its_text(reply, "worker_lost")

    # The next message is answered by a live worker.
    settings.INFERENCE_QUEUE = session_queue
    agent = reply.conversation.agent
    services.agent_update(agent=agent, max_tokens=16)
    agent.refresh_from_db()
    again = services.agent_run_once(agent=agent, conversation=reply.conversation, content="Say hello.")
    assert again.status == "completed", again.error


def test_an_embedding_whose_worker_dies_fails_with_worker_lost(doomed_worker):
    from inference.worker import redis_client

    sentence = "the tide comes in over the flats and goes out again. "
    texts = [f"Paragraph {i}: " + sentence * 70 for i in range(64)]  # the largest batch allowed
    outcome = {}

    def embed() -> None:
        try:
            outcome["vectors"] = client.embed(texts)
        except Exception as exc:  # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=embed)
    thread.start()
    # Kill it once it has started on the batch (the task's STARTED state is in the result backend).
    redis = redis_client()
    deadline = time.monotonic() + 60
    while not any(
        re.search(rb'"status": ?"STARTED"', redis.get(key) or b"")
        for key in redis.scan_iter("celery-task-meta-*")
    ):
        assert thread.is_alive() and time.monotonic() < deadline, f"the embedding never started: {outcome}"
        time.sleep(0.02)
    kill(doomed_worker)
    thread.join(STREAM_TIMEOUT + 30)
    assert not thread.is_alive()

    error = outcome.get("error")
    assert isinstance(error, client.InferenceError), outcome
    assert error.code == "worker_lost"
