"""Redis, the channel layer that carries tokens from the inference worker, goes away in the
middle of an answer: the stream ends with an `error` event `bus_unavailable` (never a hang or a
500), an agent turn ends `failed` with that reason and keeps what was streamed, the worker
survives, and answers again once Redis is back. With the channel layer down before a request,
the API answers 503.

The channel layer here is a redis-server of the test's own (the broker and the heartbeats stay
on the session's Redis), so that stopping it touches nothing else of the run."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from agents import services
from agents.models import ConversationEvent
from agents.tests.factories import AgentFactory, ConversationFactory
from inference import client
from inference.worker import heartbeats
from tests.fixtures.workers import start_celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

STREAM_TIMEOUT = 240.0  # an answer that ends in bus_unavailable did not wait this out


@pytest.fixture
def worker_on_bus(inference_worker, bus, settings):
    queue = f"inference-bus-{uuid.uuid4().hex[:6]}"
    settings.INFERENCE_QUEUE = queue
    settings.INFERENCE_STREAM_TIMEOUT = STREAM_TIMEOUT
    settings.AGENT_TURN_TIMEOUT = STREAM_TIMEOUT
    worker = start_celery_worker(
        queues=[queue],
        db_name=connection.settings_dict["NAME"],
        env={"INFERENCE_QUEUE": queue, "TEST_CHANNEL_LAYER_URL": bus.url},
        ready=lambda w: any(beat.get("pid") == w.process.pid for beat in heartbeats(queue=queue)),
    )
    yield worker
    worker.process.kill()  # it may still be finishing an answer nobody reads
    worker.process.wait(10)


LONG = [{"role": "user", "content": "Write a very long story about the sea, with many chapters."}]


def test_a_stream_that_loses_redis_ends_with_bus_unavailable_and_the_worker_recovers(worker_on_bus, bus):
    events = []
    for event in client.chat_stream(messages=LONG, max_tokens=1000, temperature=1.0):
        events.append(event)
        if len(events) == 1:
            assert event["type"] == "tokens"
            bus.kill()

    kinds = [event["type"] for event in events]
    assert kinds[-1] == "error" and set(kinds[:-1]) == {"tokens"}
    assert events[-1]["code"] == "bus_unavailable"
    assert "Redis" in events[-1]["detail"]
    assert worker_on_bus.alive

    bus.start()  # Redis is back: the same worker answers the next request
    done = client.chat(messages=[{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert done["usage"]["completion_tokens"] >= 1
    assert worker_on_bus.alive


def test_an_agent_turn_that_loses_redis_fails_and_keeps_what_was_streamed(worker_on_bus, bus, project):
    services.tool_registry_sync()
    agent = AgentFactory(project=project, name="Storyteller", max_tokens=1000, temperature=1.0)
    conversation = ConversationFactory(agent=agent, project=project)
    outcome = {}

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
    bus.kill()
    thread.join(STREAM_TIMEOUT + 30)
    assert not thread.is_alive()

    reply = outcome["reply"]
    assert reply.status == "failed" and reply.error.startswith("bus_unavailable")
    events = list(ConversationEvent.objects.filter(conversation=conversation).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # stored, in order, none lost
    streamed = "".join(
        e.payload["text"] for e in events if e.type == "token" and e.payload["message_id"] == str(reply.pk)
    )
    assert streamed and reply.content == streamed
    assert [e.payload["code"] for e in events if e.type == "error"] == ["bus_unavailable"]
    assert events[-1].type == "message.completed" and events[-1].payload["message"]["status"] == "failed"


def test_generate_with_the_channel_layer_down_answers_503(inference_worker, bus, api_client, member, project):
    bus.kill()
    http = api_client(member)
    http.raise_request_exception = False
    for stream in (False, True):
        response = http.post(
            f"/api/projects/{project.pk}/inference/generate/",
            {"prompt": "Hello", "max_tokens": 8, "stream": stream},
            format="json",
        )
        assert response.status_code == 503, response.content
        error = response.json()["errors"][0]
        assert error["code"] == "no_inference_worker" and "Redis" in error["detail"]


def test_generate_and_embed_with_redis_down_answer_503(
    inference_worker, bus, settings, api_client, member, project
):
    settings.CELERY_BROKER_URL = bus.url  # where this process looks for the workers' heartbeats
    bus.kill()
    http = api_client(member)
    http.raise_request_exception = False
    for path, body in (
        ("generate", {"prompt": "Hello", "max_tokens": 8}),
        ("embed", {"texts": ["Hello"]}),
    ):
        response = http.post(f"/api/projects/{project.pk}/inference/{path}/", body, format="json")
        assert response.status_code == 503, response.content
        error = response.json()["errors"][0]
        assert error["code"] == "no_inference_worker" and "Redis" in error["detail"]
