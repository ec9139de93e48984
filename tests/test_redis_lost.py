"""Redis, the channel layer that carries tokens from the inference worker, goes away in the
middle of an answer: the stream ends with an `error` event `bus_unavailable` (never a hang or a
500), an agent turn ends `failed` with that reason and keeps what was streamed, the worker
survives, and answers again once Redis is back. With the channel layer down before a request,
the API answers 503.

The channel layer here is a redis-server of the test's own (the broker and the heartbeats stay
on the session's Redis), so that stopping it touches nothing else of the run."""

from __future__ import annotations

import pytest

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
def worker_on_bus(inference_worker, bus, settings):
    settings.INFERENCE_STREAM_TIMEOUT = STREAM_TIMEOUT
    settings.AGENT_TURN_TIMEOUT = STREAM_TIMEOUT
    worker = start_private_inference_worker(settings, name="bus", env={"TEST_CHANNEL_LAYER_URL": bus.url})
    yield worker
    worker.process.kill()  # it may still be finishing an answer nobody reads
    worker.process.wait(10)


def test_a_stream_that_loses_redis_ends_with_bus_unavailable_and_the_worker_recovers(worker_on_bus, bus):
    events = interrupted_stream(bus.kill)
    assert events[-1]["code"] == "bus_unavailable"
    assert "Redis" in events[-1]["detail"]
    assert worker_on_bus.alive

    bus.start()  # Redis is back: the same worker answers the next request
    done = client.chat(messages=[{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert done["usage"]["completion_tokens"] >= 1
    assert worker_on_bus.alive


def test_an_agent_turn_that_loses_redis_fails_and_keeps_what_was_streamed(worker_on_bus, bus, project):
    assert_failed_keeping_its_text(interrupted_turn(project, bus.kill), "bus_unavailable")


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
