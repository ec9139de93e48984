"""What bench/inference_stream.py and bench/chat_ws.py share: ports, the bench database, the
inference worker's start, the prompts, and the raw llama-cpp-python side of the comparison.

Import it after setting the bench's environment (database, Redis DB, queue): nothing here
touches Django at import time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

TOPICS = [
    "lighthouses",
    "bees",
    "volcanoes",
    "glaciers",
    "trains",
    "libraries",
    "owls",
    "tides",
    "comets",
    "forests",
]


def question(run: int) -> str:
    """A new question per run, so that neither side gains from llama.cpp's prompt cache."""
    return f"Write a short paragraph about {TOPICS[run % len(TOPICS)]} (run {run})."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def setup_database(*, sync_tools: bool = False) -> None:
    """The default models, and the bench's database (created and migrated when missing)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("prepare_models", verbosity=0)
    connection.creation.create_test_db(verbosity=0, keepdb=True, serialize=False)
    # create_test_db points this process at the bench database already.
    if sync_tools:
        call_command("sync_tools", verbosity=0)


def spawn(args: list[str], log_name: str) -> subprocess.Popen:
    """A child process of the bench, logging to var/<log_name>."""
    log = open(BASE_DIR / "var" / log_name, "w")  # noqa: SIM115 (kept for the child's lifetime)
    return subprocess.Popen(
        args, cwd=BASE_DIR, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def daphne(port: int) -> list[str]:
    return [str(BASE_DIR / ".venv" / "bin" / "daphne"), "-b", "127.0.0.1", "-p", str(port),
            "platform_site.asgi:application"]  # fmt: skip


def wait_for_worker(log_name: str, timeout: float = 120) -> None:
    from inference.client import worker_status

    deadline = time.monotonic() + timeout
    while worker_status() is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the inference worker did not start; see var/{log_name}")
        time.sleep(0.2)


def run_raw(llm: Any, messages: list[dict[str, str]], max_tokens: int) -> dict[str, float]:
    """Raw llama-cpp-python streaming, timed from the call to the last token."""
    started = time.perf_counter()
    first = last = None
    tokens = 0
    for chunk in llm.create_chat_completion(
        messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
    ):
        if chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            first = first or now
            last = now
            tokens += 1
    assert first is not None and last is not None, "no token came back"
    return {"ttft": first - started, "total": last - started, "tokens": tokens}
