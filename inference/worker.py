"""The inference worker process: model loading at start-up, its heartbeat, the channel-layer
sender, and the Redis keys that the web side and the worker share.

A Celery worker that consumes `settings.INFERENCE_QUEUE` loads every registry model once per
process when it starts (`worker_process_init` in a prefork child, `worker_ready` for the solo
and threads pools), warms them up, and then writes a heartbeat to Redis every few seconds:
that is how the web side knows that a worker is alive and what it serves. Other workers
(the `default` queue) load nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

import redis
from celery import signals
from django.conf import settings

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL = 15
CANCEL_TTL = 600


# --- keys shared with the web side (client.py) ---------------------------------------------
def heartbeat_index(queue: str) -> str:
    """A sorted set of the queue's heartbeat keys, scored by when each expires."""
    return f"inference:workers:{queue}"


def heartbeat_pattern(queue: str) -> str:
    """Matches every heartbeat key of `queue` (prefer `heartbeats()`, which needs no SCAN)."""
    return f"inference:worker:{queue}:*"


def heartbeat_key(queue: str, hostname: str, pid: int) -> str:
    return f"inference:worker:{queue}:{hostname}:{pid}"


def heartbeat_put(*, queue: str, key: str, payload: dict[str, Any], ttl: int = HEARTBEAT_TTL) -> None:
    client = redis_client()
    with client.pipeline() as pipe:
        pipe.set(key, json.dumps(payload), ex=ttl)
        pipe.zadd(heartbeat_index(queue), {key: time.time() + ttl})
        pipe.expire(heartbeat_index(queue), ttl * 4)
        pipe.execute()


def heartbeat_remove(*, queue: str, key: str) -> None:
    client = redis_client()
    with client.pipeline() as pipe:
        pipe.delete(key)
        pipe.zrem(heartbeat_index(queue), key)
        pipe.execute()


def heartbeat_alive(key: str) -> bool:
    """Whether the worker that wrote heartbeat `key` is still alive (its key has not expired)."""
    return bool(redis_client().exists(key))


def heartbeats(*, queue: str) -> list[dict[str, Any]]:
    """The live heartbeats of the workers of `queue`: two Redis round trips, no SCAN."""
    client = redis_client()
    index = heartbeat_index(queue)
    client.zremrangebyscore(index, "-inf", time.time())
    keys = cast(list[bytes], client.zrange(index, 0, -1))
    if not keys:
        return []
    return [json.loads(raw) for raw in cast(list[bytes | None], client.mget(keys)) if raw]


def cancel_key(request_id: str) -> str:
    return f"inference:cancel:{request_id}"


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def redis_client() -> redis.Redis:
    """Redis for heartbeats and cancel flags: the broker's database (isolated per test run)."""
    return _redis(settings.CELERY_BROKER_URL)


# --- start-up and shutdown -------------------------------------------------------------------
_state: dict[str, Any] = {"inference": False, "prefork": False, "hostname": socket.gethostname()}
_started = threading.Event()
_stop = threading.Event()


def _consumed_queues(instance: Any) -> set[str]:
    try:
        return set(instance.app.amqp.queues.consume_from or {})
    except Exception:
        return set()


@signals.celeryd_after_setup.connect
def _on_after_setup(sender: str, instance: Any, **kwargs: Any) -> None:
    queues = _consumed_queues(instance)
    _state["inference"] = settings.INFERENCE_QUEUE in queues
    _state["hostname"] = str(sender)
    pool = getattr(instance, "pool_cls", "")
    _state["prefork"] = "prefork" in f"{getattr(pool, '__module__', '')}{pool}".lower()
    _state["pool"] = "prefork" if _state["prefork"] else str(getattr(pool, "__module__", pool))


@signals.worker_process_init.connect
def _on_process_init(**kwargs: Any) -> None:
    if _state["inference"]:
        start()


@signals.worker_ready.connect
def _on_ready(**kwargs: Any) -> None:
    if _state["inference"] and not _state["prefork"]:
        start()


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _on_shutdown(**kwargs: Any) -> None:
    if _started.is_set():
        stop()


def start() -> None:
    """Load and warm up the models, then start the heartbeat. Once per process."""
    if _started.is_set():
        return
    from .engine import get_engine

    engine = get_engine()
    started = time.monotonic()
    engine.load_all()
    names = ", ".join(engine.models) or "no model"
    logger.info(f"inference worker ready: {names} loaded in {time.monotonic() - started:.1f} s")
    _started.set()
    _stop.clear()
    write_heartbeat()
    threading.Thread(target=_heartbeat_loop, name="inference-heartbeat", daemon=True).start()


def stop() -> None:
    from .engine import get_engine

    _stop.set()
    with contextlib.suppress(redis.RedisError):
        heartbeat_remove(queue=settings.INFERENCE_QUEUE, key=_my_heartbeat_key())
    get_engine().close()
    _started.clear()


def _my_heartbeat_key() -> str:
    return heartbeat_key(settings.INFERENCE_QUEUE, _state["hostname"], os.getpid())


def my_heartbeat_key() -> str | None:
    """This worker's heartbeat key, or None in a process that writes no heartbeat."""
    return _my_heartbeat_key() if _started.is_set() else None


def heartbeat_payload() -> dict[str, Any]:
    import llama_cpp

    from .engine import get_engine

    engine = get_engine()
    return {
        "hostname": _state["hostname"],
        "pid": os.getpid(),
        "queue": settings.INFERENCE_QUEUE,
        "pool": _state.get("pool", ""),
        "llama_cpp": llama_cpp.__version__,
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "models": engine.describe(),
        "failed": sorted(engine.failed),
        "at": time.time(),
    }


def write_heartbeat() -> None:
    heartbeat_put(queue=settings.INFERENCE_QUEUE, key=_my_heartbeat_key(), payload=heartbeat_payload())


def _heartbeat_loop() -> None:
    while not _stop.wait(HEARTBEAT_SECONDS):
        try:
            write_heartbeat()
        except Exception:
            logger.warning("inference: heartbeat failed", exc_info=True)


# --- the channel-layer sender ---------------------------------------------------------------
class ChannelSender:
    """Sends events to channel-layer channels from a thread of its own, in order.

    Generation never waits on the bus: `send` only queues. When tokens come faster than Redis
    takes them, the queued token events for a channel are merged into one message.
    """

    def __init__(self) -> None:
        from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

        self._layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self._loop = asyncio.new_event_loop()
        self._failing = False
        self._queue: asyncio.Queue[tuple[str | None, Any]] | None = None
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="inference-channel-sender", daemon=True
        )
        self._thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._queue = asyncio.Queue()
        self._loop.create_task(self._drain())
        ready.set()
        self._loop.run_forever()

    def send(self, channel: str, message: dict[str, Any]) -> None:
        assert self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (channel, message))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far has been handed to the channel layer."""
        assert self._queue is not None
        done: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (None, done))
        done.result(timeout)

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            for channel, message in coalesce(items):
                if channel is None:
                    message.set_result(True)
                    continue
                try:
                    await self._layer.send(channel, message)
                    self._failing = False
                except Exception:
                    if not self._failing:  # once per outage, not once per batch of tokens
                        logger.warning("inference: channel layer send failed", exc_info=True)
                    self._failing = True


def coalesce(items: Iterable[tuple[str | None, Any]]) -> list[tuple[str | None, Any]]:
    """Merge runs of token events for the same channel into one event."""
    out: list[tuple[str | None, Any]] = []
    for channel, message in items:
        if (
            out
            and channel is not None
            and out[-1][0] == channel
            and message.get("type") == "inference.tokens"
            and out[-1][1].get("type") == "inference.tokens"
        ):
            out[-1] = (channel, {**out[-1][1], "text": out[-1][1]["text"] + message["text"]})
        else:
            out.append((channel, message))
    return out


_sender: ChannelSender | None = None
_sender_pid: int | None = None
_sender_lock = threading.Lock()


def get_sender() -> ChannelSender:
    """This process's sender (a new one after a fork: threads do not survive it)."""
    global _sender, _sender_pid
    with _sender_lock:
        if _sender is None or _sender_pid != os.getpid():
            _sender = ChannelSender()
            _sender_pid = os.getpid()
        return _sender
