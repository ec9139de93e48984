"""The inference API: access (outsider 404, viewer 403), bounded inputs, throttling, no worker → 503.

The end-to-end tests run against the real inference worker of the session (`inference_worker`)."""

import json

import numpy as np
import pytest
from django.test import override_settings
from django.urls import reverse

from inference.api import InferenceProjectThrottle, InferenceUserThrottle
from inference.models import InferenceUsage
from inference.worker import heartbeat_key, heartbeat_put, heartbeat_remove, redis_client


def generate_url(project):
    return reverse("inference:generate", kwargs={"project_id": project.id})


def embed_url(project):
    return reverse("inference:embed", kwargs={"project_id": project.id})


def no_raise(client):
    """drf-standardized-errors reports 5xx answers as request exceptions, which the test
    client would re-raise: look at the answer instead."""
    client.raise_request_exception = False
    return client


def first_error(response):
    body = response.json()
    assert body["errors"], body
    return body["errors"][0]


# --- access -------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("url", [generate_url, embed_url])
def test_outsider_gets_404(api_client, outsider, project, url):
    response = api_client(outsider).post(url(project), {"prompt": "hi", "texts": ["hi"]}, format="json")
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("url", [generate_url, embed_url])
def test_viewer_gets_403(api_client, viewer, project, url):
    response = api_client(viewer).post(url(project), {"prompt": "hi", "texts": ["hi"]}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_anonymous_gets_401(anon_client, project):
    assert anon_client.post(generate_url(project), {"prompt": "hi"}, format="json").status_code == 401
    assert anon_client.get(reverse("inference:model-list")).status_code == 401


# --- bounded inputs -----------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 16001}, "prompt"),
        ({"prompt": "hi", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "hi", "max_tokens": 100000}, "max_tokens"),
        ({"prompt": "hi", "max_tokens": "many"}, "max_tokens"),
        ({"prompt": "hi", "temperature": 2.5}, "temperature"),
        ({"prompt": "hi", "temperature": -1}, "temperature"),
        ({"prompt": "hi", "top_p": 1.5}, "top_p"),
        ({"prompt": "hi", "model": "no-such-model"}, "model"),
        ({"prompt": "hi", "model": "all-minilm-l6-v2"}, "model"),  # an embedding model
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}] * 65}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 9000}] * 2}, "messages"),
        ({"prompt": "hi", "stream": "perhaps"}, "stream"),
    ],
)
def test_generate_rejects_bad_input_naming_the_field(api_client, member, project, body, field):
    response = api_client(member).post(generate_url(project), body, format="json")
    assert response.status_code == 400, response.content
    error = first_error(response)
    assert (error["attr"] or "").split(".")[0] == field, error


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "texts"),
        ({"texts": []}, "texts"),
        ({"texts": "not a list"}, "texts"),
        ({"texts": ["ok", "  "]}, "texts"),
        ({"texts": ["x" * 4001]}, "texts"),
        ({"texts": ["a"] * 65}, "texts"),
        ({"texts": ["a"], "model": "smollm2-135m-instruct"}, "model"),  # a chat model
        ({"texts": ["a"], "model": "nope"}, "model"),
    ],
)
def test_embed_rejects_bad_input_naming_the_field(api_client, member, project, body, field):
    response = api_client(member).post(embed_url(project), body, format="json")
    assert response.status_code == 400, response.content
    error = first_error(response)
    assert (error["attr"] or "").split(".")[0] == field, error


# --- throttling ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_throttled_per_user(api_client, member, project, monkeypatch):
    monkeypatch.setattr(InferenceUserThrottle, "THROTTLE_RATES", {"inference_user": "2/min"})
    monkeypatch.setattr(InferenceProjectThrottle, "THROTTLE_RATES", {"inference_project": "100/min"})
    client = api_client(member)
    codes = [client.post(embed_url(project), {}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]


@pytest.mark.django_db
def test_throttled_per_project_across_its_members(api_client, owner, member, project, monkeypatch):
    monkeypatch.setattr(InferenceUserThrottle, "THROTTLE_RATES", {"inference_user": "100/min"})
    monkeypatch.setattr(InferenceProjectThrottle, "THROTTLE_RATES", {"inference_project": "2/min"})
    assert api_client(owner).post(embed_url(project), {}, format="json").status_code == 400
    assert api_client(member).post(embed_url(project), {}, format="json").status_code == 400
    assert api_client(owner).post(generate_url(project), {}, format="json").status_code == 429


# --- no worker ----------------------------------------------------------------------------------
@pytest.mark.django_db
@override_settings(INFERENCE_QUEUE="inference-nobody-runs")
def test_no_worker_running_answers_503(api_client, member, project):
    client = no_raise(api_client(member))
    for url, body in ((generate_url, {"prompt": "hi"}), (embed_url, {"texts": ["hi"]})):
        response = client.post(url(project), body, format="json")
        assert response.status_code == 503
        assert first_error(response)["code"] == "no_inference_worker"


@pytest.mark.django_db
@override_settings(
    INFERENCE_QUEUE="inference-nobody-consumes", INFERENCE_WORKER_TIMEOUT=1.0, INFERENCE_QUEUE_TIMEOUT=1.0
)
@pytest.mark.parametrize("stream", [False, True])
def test_worker_that_never_takes_the_request_answers_503(api_client, member, project, stream):
    """A heartbeat says a worker is alive, but nothing consumes the queue: 503, not a hang."""
    key = heartbeat_key("inference-nobody-consumes", "ghost", 1)
    heartbeat_put(queue="inference-nobody-consumes", key=key, payload={"models": []}, ttl=60)
    try:
        client = no_raise(api_client(member))
        response = client.post(generate_url(project), {"prompt": "hi", "stream": stream}, format="json")
        assert response.status_code == 503
        assert first_error(response)["code"] == "no_inference_worker"
        response = client.post(embed_url(project), {"texts": ["hi"]}, format="json")
        assert response.status_code == 503
    finally:
        heartbeat_remove(queue="inference-nobody-consumes", key=key)
        redis_client().delete("inference-nobody-consumes")


@pytest.mark.django_db
@override_settings(
    INFERENCE_QUEUE="inference-worker-dies", INFERENCE_WORKER_TIMEOUT=1.0, INFERENCE_QUEUE_TIMEOUT=3600
)
def test_a_request_stops_waiting_when_the_worker_is_gone(api_client, member, project):
    """A live worker may keep a request waiting in the queue (it is busy), but once its
    heartbeat is gone the request fails with a 503, however long the queue timeout."""
    key = heartbeat_key("inference-worker-dies", "ghost", 1)
    heartbeat_put(queue="inference-worker-dies", key=key, payload={"models": []}, ttl=3)
    try:
        client = no_raise(api_client(member))
        response = client.post(generate_url(project), {"prompt": "hi"}, format="json")
        assert response.status_code == 503
        response = client.post(embed_url(project), {"texts": ["hi"]}, format="json")
        assert response.status_code == 503
    finally:
        heartbeat_remove(queue="inference-worker-dies", key=key)
        redis_client().delete("inference-worker-dies")


# --- end to end, with the real worker -----------------------------------------------------------
def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_generate_streams_server_sent_events(inference_worker, api_client, member, project):
    body = {"prompt": "Name three colours.", "max_tokens": 24, "stream": True}
    response = api_client(member).post(generate_url(project), body, format="json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = parse_sse(b"".join(response))

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"token"}
    done = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "token") == done["text"]
    assert done["usage"]["completion_tokens"] > 0
    assert done["model"] == "smollm2-135m-instruct"
    assert InferenceUsage.objects.filter(project=project, user=member, kind="chat").count() == 1


@pytest.mark.django_db(transaction=True)
def test_generate_json(inference_worker, api_client, owner, project):
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the capital of France? Answer in one word."},
        ],
        "max_tokens": 8,
        "temperature": 0,
    }
    response = api_client(owner).post(generate_url(project), body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["text"] and data["finish_reason"] in ("stop", "length")
    assert 0 < data["usage"]["completion_tokens"] <= 8
    assert data["timings"]["time_to_first_token_ms"] is not None


@pytest.mark.django_db(transaction=True)
def test_embed_api(inference_worker, api_client, member, project):
    texts = ["The cat sits on the mat.", "A cat is sitting on a rug.", "Quarterly tax filing deadlines."]
    response = api_client(member).post(embed_url(project), {"texts": texts}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    vectors = np.array(data["embeddings"])
    assert data["dimensions"] == 384 and vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.django_db(transaction=True)
def test_models_list_shows_the_registry_and_the_worker(inference_worker, api_client, viewer):
    response = api_client(viewer).get(reverse("inference:model-list"))
    assert response.status_code == 200
    models = {row["name"]: row for row in response.json()["results"]}
    chat, embedding = models["smollm2-135m-instruct"], models["all-minilm-l6-v2"]
    assert chat["kind"] == "chat" and chat["default"] and chat["loaded"]
    assert embedding["kind"] == "embedding" and embedding["dimensions"] == 384
    assert embedding["device"] == "cpu" and embedding["gpu_layers"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_prompt_longer_than_the_context_is_a_400_on_prompt(inference_worker, api_client, member, project):
    prompt = "lorem ipsum dolor sit amet " * 550  # within the character bound, beyond 2048 tokens
    response = api_client(member).post(generate_url(project), {"prompt": prompt}, format="json")
    assert response.status_code == 400, response.content
    error = first_error(response)
    assert error["attr"] == "prompt" and error["code"] == "context_length_exceeded"
