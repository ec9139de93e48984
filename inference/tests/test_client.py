"""The web-side client against a real inference worker (a subprocess started by the session)."""

import json

import pytest

from inference import client
from inference.models import InferenceUsage, UsageStatus

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Name three colours."}]


def test_chat_stream_tokens_add_up_to_the_final_text(inference_worker, project, member):
    events = list(client.chat_stream(messages=QUESTION, max_tokens=24, project=project, user=member))

    tokens = [e for e in events if e["type"] == "tokens"]
    done = events[-1]
    assert done["type"] == "done", done
    assert tokens and all(e["text"] for e in tokens)
    assert "".join(e["text"] for e in tokens) == done["text"]
    assert done["usage"]["completion_tokens"] > 0 and done["usage"]["prompt_tokens"] > 0
    assert done["finish_reason"] in ("stop", "length")
    usage = InferenceUsage.objects.get(request_id=done["request_id"])
    assert usage.project_id == project.id and usage.user_id == member.id
    assert usage.kind == "chat" and usage.status == UsageStatus.OK
    assert usage.completion_tokens == done["usage"]["completion_tokens"]
    assert usage.time_to_first_token_ms is not None


def test_embed_dimensions_and_similarity(inference_worker, project):
    import numpy as np

    texts = ["The cat sits on the mat.", "A cat is sitting on a rug.", "Quarterly tax filing deadlines."]
    vectors = np.array(client.embed(texts, project=project))

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    related, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert related > unrelated
    assert InferenceUsage.objects.filter(project=project, kind="embedding").count() == 1


def test_cancel_stops_the_generation_between_tokens(inference_worker, project):
    request_id = client.new_request_id()
    events = []
    for event in client.chat_stream(
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        max_tokens=400, temperature=0.8, project=project, request_id=request_id,
    ):  # fmt: skip
        events.append(event)
        if len(events) == 2:
            client.cancel(request_id)
    done = events[-1]
    assert done["type"] == "done"
    assert done["finish_reason"] == "cancelled"
    assert done["usage"]["completion_tokens"] < 400
    assert InferenceUsage.objects.get(request_id=request_id).status == UsageStatus.CANCELLED


def test_leaving_the_stream_early_cancels_it(inference_worker, project):
    import time

    request_id = client.new_request_id()
    stream = client.chat_stream(
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        max_tokens=400, project=project, request_id=request_id,
    )  # fmt: skip
    assert next(stream)["type"] == "tokens"
    stream.close()
    for _ in range(300):  # the worker records the request when it stops
        usage = InferenceUsage.objects.filter(request_id=request_id).first()
        if usage is not None:
            break
        time.sleep(0.1)
    assert usage is not None and usage.status == UsageStatus.CANCELLED
    assert usage.completion_tokens < 400


def test_forced_tool_choice_returns_a_tool_call(inference_worker):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    done = client.chat(
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=64,
    )
    assert done["finish_reason"] == "tool_calls"
    (call,) = done["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)


def test_grammar_constrains_the_answer(inference_worker):
    done = client.chat(
        messages=[{"role": "user", "content": "Is the sky blue? Answer yes or no."}],
        grammar='root ::= "yes" | "no"',
        max_tokens=4,
    )
    assert done["text"] in ("yes", "no")


def test_a_bad_grammar_is_an_error_event(inference_worker):
    events = list(client.chat_stream(messages=QUESTION, grammar="root ::= (", max_tokens=4))
    assert events[-1]["type"] == "error" and events[-1]["code"] == "invalid_grammar"


def test_unknown_model_raises(inference_worker):
    with pytest.raises(client.InferenceError) as info:
        list(client.chat_stream(messages=QUESTION, model="nope"))
    assert info.value.code == "unknown_model"
    with pytest.raises(client.InferenceError):
        client.embed(["x"], model="smollm2-135m-instruct")


def test_worker_status_lists_loaded_models_and_devices(inference_worker):
    status = client.worker_status()
    assert status is not None and status["workers"] >= 1
    models = {model["name"]: model for model in status["models"]}
    assert {"smollm2-135m-instruct", "all-minilm-l6-v2"} <= set(models)
    assert all(model["device"] in ("cpu", "gpu") for model in models.values())


def test_healthz_reports_the_inference_worker(inference_worker, client_=None):
    from django.test import Client

    body = Client().get("/healthz").json()
    assert body["checks"]["inference"]["status"] == "ok"
    assert {m["name"] for m in body["checks"]["inference"]["models"]} >= {"all-minilm-l6-v2"}
