"""The web side's way to the inference worker. Every other app uses this module, never the tasks.

    from inference import client

    vectors = client.embed(["first text", "second"], project=project)
    for event in client.chat_stream(messages=[{"role": "user", "content": "Hi"}], project=project):
        if event["type"] == "tokens": ...        # {"type": "tokens", "text": "..."}
        elif event["type"] == "done": ...        # text, usage, timings, finish_reason, tool_calls
        elif event["type"] == "error": ...       # code, detail
    client.cancel(request_id)

Async variants for ASGI code (SSE views, consumers): `achat_stream`, `aembed`, `acancel`,
`aworker_status`. Nothing here loads a model or imports llama_cpp.

- `InferenceUnavailable`: no inference worker is alive, or none picked the request up within
  INFERENCE_WORKER_TIMEOUT (INFERENCE_QUEUE_TIMEOUT while a live worker is busy with
  earlier requests): the API answers 503, never hangs.
- `InferenceError`: the request reached a worker and failed there, or cannot be served
  (unknown model, prompt longer than the context): `code` and `detail` say which.
- A stream whose worker dies during the answer (killed, out of memory) ends with an `error`
  event `worker_lost` once the worker's heartbeat has expired (HEARTBEAT_TTL, 15 s), and one
  that goes silent with `timeout` after INFERENCE_STREAM_TIMEOUT: never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from .registry import CHAT, EMBEDDING, UnknownModel, get_model
from .worker import CANCEL_TTL, cancel_key, heartbeat_alive, heartbeats, redis_client

__all__ = [
    "InferenceError",
    "InferenceUnavailable",
    "acancel",
    "achat_stream",
    "aembed",
    "aworker_status",
    "cancel",
    "chat",
    "chat_stream",
    "embed",
    "new_request_id",
    "worker_status",
]

logger = logging.getLogger(__name__)

# Redis (the channel layer, heartbeats, cancel flags, the broker) not answering.
BUS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, KombuOperationalError)
BUS_DOWN = "The message bus (Redis) is not reachable."


@contextlib.contextmanager
def _bus_required() -> Iterator[None]:
    """Redis not answering before a worker took the request: InferenceUnavailable (a 503)."""
    try:
        yield
    except BUS_ERRORS as exc:
        raise InferenceUnavailable(BUS_DOWN) from exc


REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
POLL_SECONDS = 0.5
WORKER_CHECK_SECONDS = 2.0  # during an answer: how often a silent stream checks its worker's heartbeat


def _queue_cap() -> float:
    return max(settings.INFERENCE_QUEUE_TIMEOUT, settings.INFERENCE_WORKER_TIMEOUT)


def _give_up(waited: float, *, alive: Callable[[], bool]) -> bool:  # alive: asked only if needed
    """Whether a request that no worker has started after `waited` seconds should fail.

    Within INFERENCE_WORKER_TIMEOUT: wait. After it: wait on only while a worker is alive (it is
    busy with earlier requests), and never past INFERENCE_QUEUE_TIMEOUT.
    """
    if waited < settings.INFERENCE_WORKER_TIMEOUT:
        return False
    return waited >= _queue_cap() or not alive()


class InferenceUnavailable(Exception):
    code = "no_inference_worker"

    def __init__(self, detail: str = "No inference worker answered in time.") -> None:
        super().__init__(detail)
        self.detail = detail


class InferenceError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def new_request_id() -> str:
    return uuid.uuid4().hex


def _id(obj: Any) -> str | None:
    if obj is None:
        return None
    return str(getattr(obj, "pk", obj))


def _check_request_id(request_id: str | None) -> str:
    request_id = request_id or new_request_id()
    if not REQUEST_ID_RE.match(request_id):
        raise ValueError("request_id must be 1-64 characters of letters, digits, '_', '.', '-'")
    return request_id


def _model_name(model: str | None, kind: str) -> str:
    try:
        return get_model(model, kind=kind).name
    except UnknownModel as exc:
        raise InferenceError("unknown_model", str(exc)) from exc


# --- worker status ---------------------------------------------------------------------------
def worker_heartbeats() -> list[dict[str, Any]]:
    """Each live worker's last heartbeat (hostname, pid, models, llama_cpp version...)."""
    return heartbeats(queue=settings.INFERENCE_QUEUE)


def worker_status() -> dict[str, Any] | None:
    """None when no inference worker is alive; else how many, and the models they serve.

    `{"workers": 1, "models": [{"name", "kind", "device": "cpu"|"gpu", "gpu_layers", ...}],
    "failed_models": [names]}`, from the heartbeats that workers write to Redis every few seconds.
    """
    beats = worker_heartbeats()
    if not beats:
        return None
    models: dict[str, dict[str, Any]] = {}
    for beat in beats:
        for model in beat.get("models", []):
            models.setdefault(model["name"], model)
    # Models that a worker could not load (a damaged or missing file): requests for them get a
    # 502 `model_unavailable`; the others are served.
    failed = {name for beat in beats for name in beat.get("failed", [])} - set(models)
    return {
        "workers": len(beats),
        "models": sorted(models.values(), key=lambda m: m["name"]),
        "failed_models": sorted(failed),
    }


async def aworker_status() -> dict[str, Any] | None:
    return await sync_to_async(worker_status, thread_sensitive=False)()


def _require_worker() -> None:
    if worker_status() is None:
        raise InferenceUnavailable("No inference worker is running.")


# --- cancellation ----------------------------------------------------------------------------
def cancel(request_id: str) -> None:
    """Ask the worker to stop generating `request_id`; it stops before its next token."""
    redis_client().set(cancel_key(_check_request_id(request_id)), 1, ex=CANCEL_TTL)


async def acancel(request_id: str) -> None:
    await sync_to_async(cancel, thread_sensitive=False)(request_id)


# --- embeddings ------------------------------------------------------------------------------
def embed(
    texts: list[str],
    *,
    project: Any = None,
    user: Any = None,
    model: str | None = None,
    timeout: float | None = None,
) -> list[list[float]]:
    """Unit-length vectors for `texts`, in order, from the embedding model (default one if None).

    Waits for a worker to start on it as `InferenceUnavailable` explains, then up to `timeout`
    (default INFERENCE_STREAM_TIMEOUT) for the result.
    """
    from .tasks import embed as embed_task

    if not texts:
        return []
    name = _model_name(model, EMBEDDING)
    request_id = new_request_id()
    with _bus_required():
        _require_worker()
        result = embed_task.apply_async(
            kwargs={
                "texts": list(texts), "model": name, "project_id": _id(project),
                "user_id": _id(user), "request_id": request_id,
            },
            queue=settings.INFERENCE_QUEUE,
            expires=_queue_cap(),
            task_id=request_id,
        )  # fmt: skip
    try:
        waited_since = time.monotonic()
        while True:  # until a worker starts on it (the task tracks STARTED)
            try:
                out = result.get(timeout=POLL_SECONDS, disable_sync_subtasks=False)
                break
            except CeleryTimeout:
                if result.state != "PENDING":
                    wait = timeout if timeout is not None else settings.INFERENCE_STREAM_TIMEOUT
                    out = _embedding_result(result, wait)
                    break
                if _give_up(time.monotonic() - waited_since, alive=lambda: worker_status() is not None):
                    result.revoke()
                    raise InferenceUnavailable() from None
    except TaskRevokedError:  # expired in the queue before a worker took it
        raise InferenceUnavailable() from None
    except BUS_ERRORS as exc:
        raise InferenceError(
            "bus_unavailable", "The connection to Redis was lost during the embedding."
        ) from exc
    finally:
        with contextlib.suppress(*BUS_ERRORS):
            result.forget()
    if "error" in out:
        raise InferenceError(out["error"]["code"], out["error"]["detail"])
    return out["vectors"]


def _embedding_result(result: Any, wait: float) -> dict[str, Any]:
    """The result of an embedding a worker has started: `timeout` after `wait` s, and
    `worker_lost` once no inference worker beats any more (it died on the batch)."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        try:
            return result.get(timeout=max(0.01, min(WORKER_CHECK_SECONDS, left)), disable_sync_subtasks=False)
        except CeleryTimeout:
            if time.monotonic() >= deadline:
                raise InferenceError("timeout", "The embedding took too long.") from None
            if worker_status() is None:
                detail = "The inference worker stopped during the embedding."
                raise InferenceError("worker_lost", detail) from None


async def aembed(
    texts: list[str],
    *,
    project: Any = None,
    user: Any = None,
    model: str | None = None,
    timeout: float | None = None,
) -> list[list[float]]:
    return await sync_to_async(embed, thread_sensitive=False)(
        texts, project=project, user=user, model=model, timeout=timeout
    )


# --- chat ------------------------------------------------------------------------------------
async def achat_stream(
    *,
    messages: list[dict[str, Any]],
    model: str | None = None,
    max_tokens: int = 256,
    temperature: float = 0.7,
    top_p: float = 0.95,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: dict[str, Any] | str | None = None,
    grammar: str | None = None,
    project: Any = None,
    user: Any = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Stream a chat completion: `tokens` events, then one `done` or `error` event.

    Raises InferenceUnavailable before any event when no worker takes the request in time
    (see the module's docstring). `timeout` bounds the wait for each next event (default
    INFERENCE_STREAM_TIMEOUT). Leaving the loop early cancels the generation.
    """
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

    from .tasks import chat as chat_task

    request_id = _check_request_id(request_id)
    name = _model_name(model, CHAT)
    with _bus_required():
        if await aworker_status() is None:
            raise InferenceUnavailable("No inference worker is running.")
    event_timeout = timeout if timeout is not None else settings.INFERENCE_STREAM_TIMEOUT
    # A layer of our own: channels_redis's receive state belongs to one event loop.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    # The worker sends this request's events straight to this channel (`reply_channel`).
    channel = await layer.new_channel("inference.")
    finished = False
    try:
        kwargs = {
            "request_id": request_id, "messages": messages, "model": name,
            "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
            "tools": tools, "tool_choice": tool_choice, "grammar": grammar,
            "project_id": _id(project), "user_id": _id(user), "enqueued_at": time.time(),
            "reply_channel": channel,
        }  # fmt: skip
        with _bus_required():
            await sync_to_async(chat_task.apply_async, thread_sensitive=False)(
                kwargs=kwargs, queue=settings.INFERENCE_QUEUE, expires=_queue_cap()
            )
            message = await _first_message(layer, channel)
        worker_key = message.get("worker")  # the "started" event names the worker's heartbeat
        while True:
            kind = message.get("type")
            if kind == "inference.tokens":
                yield {"type": "tokens", "text": message["text"]}
            elif kind == "inference.done":
                finished = True
                yield {
                    "type": "done",
                    "request_id": request_id,
                    "text": message["text"],
                    "usage": message["usage"],
                    "timings": message["timings"],
                    "finish_reason": message["finish_reason"],
                    "tool_calls": message["tool_calls"],
                }
                return
            elif kind == "inference.error":
                finished = True
                yield {"type": "error", "code": message["code"], "detail": message["detail"]}
                return
            try:
                message = await _next_message(layer, channel, timeout=event_timeout, worker_key=worker_key)
                continue
            except TimeoutError:
                code, detail = "timeout", "The worker stopped answering."
            except WorkerLost:
                code, detail = "worker_lost", "The inference worker stopped during the answer."
            except BUS_ERRORS:
                logger.warning("inference: lost Redis during request %s", request_id, exc_info=True)
                code, detail = "bus_unavailable", "The connection to Redis was lost during the answer."
            # Stop the worker, should it be alive (only slow to beat) and Redis reachable again.
            await _cancel_quietly(request_id)
            finished = True
            yield {"type": "error", "code": code, "detail": detail}
            return
    finally:
        if not finished:  # the caller left, or no worker took it: make sure nothing runs on
            await _cancel_quietly(request_id)
        await asyncio.shield(_close(layer))


async def _receive(
    layer: Any, channel: str, *, wait: float, silence: Callable[[float], Awaitable[float]]
) -> dict[str, Any]:
    """The next message on `channel`. After each `wait` s without one, `silence(waited)` raises
    to give up or answers how long to wait next. The pending receive is cancelled on the way out."""
    receive = asyncio.ensure_future(layer.receive(channel))
    waited_since = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({receive}, timeout=wait)
            if done:
                return receive.result()
            wait = await silence(time.monotonic() - waited_since)
    finally:
        if not receive.done():  # given up, or the caller left
            receive.cancel()


async def _first_message(layer: Any, channel: str) -> dict[str, Any]:
    """The worker's first event ("started"), or InferenceUnavailable (see _give_up)."""

    async def silence(waited: float) -> float:
        if waited >= settings.INFERENCE_WORKER_TIMEOUT:
            status = await aworker_status()
            if _give_up(waited, alive=functools.partial(bool, status)):
                raise InferenceUnavailable()
        return POLL_SECONDS

    return await _receive(layer, channel, wait=POLL_SECONDS, silence=silence)


class WorkerLost(Exception):
    """The worker that took the request stopped beating before it finished."""


async def _next_message(
    layer: Any, channel: str, *, timeout: float, worker_key: str | None
) -> dict[str, Any]:
    """The next event; TimeoutError after `timeout` s of silence; WorkerLost as soon as the
    worker serving the request has no heartbeat (killed, out of memory, its machine gone): it
    is noticed within HEARTBEAT_TTL + WORKER_CHECK_SECONDS instead of the whole `timeout`."""

    async def silence(waited: float) -> float:
        left = timeout - waited
        if left <= 0:
            raise TimeoutError
        if worker_key and not await sync_to_async(heartbeat_alive, thread_sensitive=False)(worker_key):
            raise WorkerLost
        return min(WORKER_CHECK_SECONDS, left)

    return await _receive(layer, channel, wait=min(WORKER_CHECK_SECONDS, timeout), silence=silence)


async def _cancel_quietly(request_id: str) -> None:
    try:
        await acancel(request_id)
    except BUS_ERRORS:  # Redis is gone: the worker stops at max_tokens or its time limit
        logger.warning("inference: could not cancel request %s", request_id, exc_info=True)


async def _close(layer: Any) -> None:
    """Close the layer's connections (quietly when Redis is gone)."""
    close = getattr(layer, "close_pools", None)
    if close is not None:
        with contextlib.suppress(*BUS_ERRORS):
            await close()


_END = object()


def chat_stream(
    *,
    messages: list[dict[str, Any]],
    model: str | None = None,
    max_tokens: int = 256,
    temperature: float = 0.7,
    top_p: float = 0.95,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: dict[str, Any] | str | None = None,
    grammar: str | None = None,
    project: Any = None,
    user: Any = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Generator[dict[str, Any], None, None]:
    """The sync form of `achat_stream` (for sync views and Celery tasks): same events.

    It runs `achat_stream` on an event loop in a thread of its own. Closing the iterator
    early (break, an exception) cancels the generation.
    """
    kwargs = {
        "messages": messages, "model": model, "max_tokens": max_tokens,
        "temperature": temperature, "top_p": top_p, "tools": tools, "tool_choice": tool_choice,
        "grammar": grammar, "project": project, "user": user,
        "request_id": _check_request_id(request_id), "timeout": timeout,
    }  # fmt: skip
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    handle: dict[str, Any] = {}
    ready = threading.Event()

    async def pump() -> None:
        handle["loop"] = asyncio.get_running_loop()
        handle["task"] = asyncio.current_task()
        ready.set()
        try:
            async for event in achat_stream(**kwargs):
                events.put(("event", event))
        except BaseException as exc:  # handed over to the caller's thread
            events.put(("raise", exc))
        finally:
            events.put(("end", _END))

    thread = threading.Thread(target=asyncio.run, args=(pump(),), name="inference-chat", daemon=True)
    thread.start()
    ready.wait()
    try:
        while True:
            kind, value = events.get()
            if kind == "event":
                yield value
            elif kind == "raise":
                if isinstance(value, asyncio.CancelledError):
                    return
                raise value
            else:
                return
    finally:
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may have just closed
                handle["loop"].call_soon_threadsafe(handle["task"].cancel)
            thread.join(timeout=5)


def chat(**kwargs: Any) -> dict[str, Any]:
    """A whole chat completion: the `done` event of `chat_stream` (same arguments).

    Raises InferenceError for an `error` event, InferenceUnavailable as chat_stream does.
    """
    for event in chat_stream(**kwargs):
        if event["type"] == "done":
            return event
        if event["type"] == "error":
            raise InferenceError(event["code"], event["detail"])
    raise InferenceError("no_answer", "The stream ended without an answer.")
