"""A model whose file does not load (damaged, or not a GGUF at all): the inference worker still
starts and serves the other models, reports the broken one, and a request for it is a 502
`model_unavailable`, never a hang or a 500. A real worker of its own, on a queue of its own."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from inference import client
from tests.fixtures.workers import start_private_inference_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


@pytest.fixture
def worker_with_a_broken_model(tmp_path, settings):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(256))  # the magic number, then nothing a model needs
    models_file = tmp_path / "models.json"
    models_file.write_text(json.dumps({"broken-chat": {"kind": "chat", "file": str(broken), "n_ctx": 512}}))
    # This process (the API) and the worker share the registry and the queue.
    settings.INFERENCE_MODELS_FILE = str(models_file)
    worker = start_private_inference_worker(
        settings, name="broken", env={"INFERENCE_MODELS_FILE": str(models_file)}
    )
    yield worker
    worker.stop()


def test_the_worker_serves_the_others_and_the_broken_model_is_a_502(
    worker_with_a_broken_model, api_client, member, project
):
    status = client.worker_status()
    assert status is not None
    assert status["failed_models"] == ["broken-chat"]
    assert {"smollm2-135m-instruct", "all-minilm-l6-v2"} <= {m["name"] for m in status["models"]}
    health = Client().get("/healthz").json()["checks"]["inference"]
    assert health["status"] == "ok" and health["failed_models"] == ["broken-chat"]

    url = f"/api/projects/{project.pk}/inference/generate/"
    http = api_client(member)
    http.raise_request_exception = False  # a 5xx is also signalled as an exception (drf-standardized-errors)
    broken = http.post(url, {"prompt": "Hello", "model": "broken-chat", "max_tokens": 8})
    assert broken.status_code == 502, broken.content
    body = broken.json()
    assert body["errors"][0]["code"] == "model_unavailable"
    assert "broken-chat" in body["errors"][0]["detail"]

    working = http.post(url, {"prompt": "Say hello.", "max_tokens": 8})
    assert working.status_code == 200, working.content
    assert working.json()["usage"]["completion_tokens"] >= 1
