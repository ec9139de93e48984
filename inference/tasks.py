"""Tasks of the inference worker (queue `inference`): chat completion and embedding.

They are enqueued by `inference.client` only. Chat streams its events straight to the
caller's own channel-layer channel (`reply_channel`: one Redis write per event):

    {"type": "inference.started", "request_id", "worker"}          (the worker's heartbeat key)
    {"type": "inference.tokens",  "request_id", "text"}            (batched, see below)
    {"type": "inference.done",    "request_id", "text", "usage", "timings", "finish_reason",
                                  "tool_calls"}
    {"type": "inference.error",   "request_id", "code", "detail"}

Tokens go out as soon as the first one is ready, then at most once per
INFERENCE_STREAM_BATCH_MS; the sender merges whatever the bus has not taken yet.
llama.cpp is imported lazily (inside the engine): the web process imports this module too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from platform_site import metrics

from . import worker  # importing it connects the worker's start-up signals
from .models import UsageKind, UsageStatus
from .registry import UnknownModel
from .services import usage_record
from .worker import cancel_key, get_sender, redis_client

logger = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 0.1  # a cancel takes effect within 100 ms; fewer Redis calls per token
CANCEL_RETRY_SECONDS = 5.0  # after a failed check (Redis away): not one warning per token


def _cancel_checker(request_id: str):  # type: ignore[no-untyped-def]
    client = redis_client()
    key = cancel_key(request_id)
    state = {"next": 0.0, "cancelled": False}

    def should_stop() -> bool:
        now = time.monotonic()
        if not state["cancelled"] and now >= state["next"]:
            state["next"] = now + CANCEL_CHECK_SECONDS
            try:
                state["cancelled"] = bool(client.exists(key))
            except redis.RedisError:  # Redis is gone: generate on, and ask again in a while
                state["next"] = now + CANCEL_RETRY_SECONDS
                logger.warning("inference: cancel check failed", exc_info=True)
        return bool(state["cancelled"])

    return should_stop


def _record(**fields: Any) -> None:
    try:
        usage_record(**fields)
    except Exception:  # usage is bookkeeping: never fail the answer for it
        logger.exception("inference: could not record usage")
    if fields.get("kind") == UsageKind.CHAT:  # Prometheus: tokens generated, time to first token
        metrics.observe_generation(
            model=fields["model"], prompt_tokens=fields.get("prompt_tokens", 0),
            completion_tokens=fields.get("completion_tokens", 0),
            time_to_first_token_ms=fields.get("time_to_first_token_ms"),
        )  # fmt: skip


@shared_task(name="inference.tasks.chat", ignore_result=True, acks_late=False)
def chat(
    *,
    request_id: str,
    messages: list[dict[str, Any]],
    model: str | None = None,
    max_tokens: int = 256,
    temperature: float = 0.7,
    top_p: float = 0.95,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: dict[str, Any] | str | None = None,
    grammar: str | None = None,
    project_id: str | None = None,
    user_id: str | None = None,
    reply_channel: str,
    enqueued_at: float | None = None,
) -> None:
    from .engine import ChatResult, EngineError, get_engine

    started = time.monotonic()
    queued_ms = int(max(0.0, time.time() - enqueued_at) * 1000) if enqueued_at else None

    sender = get_sender()
    should_stop = _cancel_checker(request_id)
    if should_stop():  # the caller gave up while this waited in the queue
        return

    def emit(kind: str, **fields: Any) -> None:
        sender.send(reply_channel, {"type": f"inference.{kind}", "request_id": request_id, **fields})

    emit("started", worker=worker.my_heartbeat_key())

    result = ChatResult()
    batch_seconds = settings.INFERENCE_STREAM_BATCH_MS / 1000
    pending: list[str] = []
    last_flush = 0.0
    usage = {
        "project_id": project_id,
        "user_id": user_id,
        "model": model or settings.INFERENCE_DEFAULT_CHAT_MODEL,
        "kind": UsageKind.CHAT,
        "request_id": request_id,
    }
    try:
        stream = get_engine().chat_stream(
            messages=messages, model=model, max_tokens=max_tokens, temperature=temperature,
            top_p=top_p, tools=tools, tool_choice=tool_choice, grammar=grammar,
            should_stop=should_stop, result=result,
        )  # fmt: skip
        for piece in stream:
            pending.append(piece)
            now = time.monotonic()
            if now - last_flush >= batch_seconds:
                emit("tokens", text="".join(pending))
                pending.clear()
                last_flush = now
        if pending:
            emit("tokens", text="".join(pending))
    except (EngineError, UnknownModel, SoftTimeLimitExceeded, Exception) as exc:
        code, detail = _error(exc)
        _record(
            **usage, status=UsageStatus.ERROR, error_code=code,
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
        emit("error", code=code, detail=detail)
        sender.flush()
        return

    duration_ms = int((time.monotonic() - started) * 1000)
    ttft = result.time_to_first_token_ms
    cancelled = result.finish_reason == "cancelled"
    _record(
        **usage,
        status=UsageStatus.CANCELLED if cancelled else UsageStatus.OK,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        duration_ms=duration_ms,
        time_to_first_token_ms=ttft,
        finish_reason=result.finish_reason,
    )
    decode_seconds = max(1e-6, (result.duration_ms - (ttft or 0)) / 1000)
    sender.send(
        reply_channel,
        {
            "type": "inference.done",
            "request_id": request_id,
            "text": result.text,
            "finish_reason": result.finish_reason,
            "tool_calls": result.tool_calls,
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
            },
            "timings": {
                "queued_ms": queued_ms,
                "time_to_first_token_ms": ttft,
                "duration_ms": duration_ms,
                "tokens_per_second": round(max(0, result.completion_tokens - 1) / decode_seconds, 2),
            },
        },
    )
    sender.flush()


@shared_task(name="inference.tasks.embed", acks_late=False, track_started=True)
def embed(
    *,
    texts: list[str],
    model: str | None = None,
    project_id: str | None = None,
    user_id: str | None = None,
    request_id: str = "",
) -> dict[str, Any]:
    """Vectors for `texts`, or `{"error": {"code", "detail"}}` (no exception crosses the bus)."""
    from .engine import get_engine

    started = time.monotonic()
    usage = {
        "project_id": project_id,
        "user_id": user_id,
        "model": model or settings.INFERENCE_DEFAULT_EMBEDDING_MODEL,
        "kind": UsageKind.EMBEDDING,
        "request_id": request_id,
    }
    try:
        vectors, tokens = get_engine().embed(texts=texts, model=model)
    except Exception as exc:
        code, detail = _error(exc)
        _record(**usage, status=UsageStatus.ERROR, error_code=code)
        return {"error": {"code": code, "detail": detail}}
    duration_ms = int((time.monotonic() - started) * 1000)
    _record(**usage, prompt_tokens=tokens, duration_ms=duration_ms)
    return {"vectors": vectors, "prompt_tokens": tokens, "duration_ms": duration_ms}


def _error(exc: BaseException) -> tuple[str, str]:
    from .engine import EngineError

    if isinstance(exc, EngineError):
        return exc.code, exc.detail
    if isinstance(exc, UnknownModel):
        return "unknown_model", str(exc)
    if isinstance(exc, SoftTimeLimitExceeded):
        return "timeout", "The generation took longer than the worker's time limit."
    logger.exception("inference: task failed")
    return "inference_failed", "The model failed on this request."
