"""Streaming through the platform against raw llama-cpp-python, on the same model and prompts.

    .venv/bin/python bench/inference_stream.py [--runs 5] [--max-tokens 128]

Raw: `Llama.create_chat_completion(stream=True)` in this process. Platform: the same request
as `POST /api/projects/{id}/inference/generate/` with `stream: true`, through daphne →
Celery (queue of its own) → a real inference worker → the channel layer → the SSE view →
an HTTP client reading the events. Both use greedy decoding (temperature 0) on the same
prompt, one at a time, so they decode the same tokens on the same cores. Each run uses a new
prompt, first raw then platform, so that neither gains from llama.cpp's prompt cache.

Prints, per side, the median time to first token and tokens/s (completion tokens over the
time from the request to the last token), their ratio (target ≥ 0.95), and the time to first
token that the platform adds (target ≤ 50 ms).

It runs isolated from `make run` and the tests: a database `bench_inference` (created and
migrated when missing), Redis DB 9, and the Celery queue `inference-bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ENV = {
    "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
    "TEST_DATABASE_NAME": "bench_inference",
    "DJANGO_DATABASE_NAME": "bench_inference",
    "TEST_REDIS_DB": "9",
    "INFERENCE_QUEUE": "inference-bench",
    "THROTTLE_INFERENCE_USER": "10000/min",
    "THROTTLE_INFERENCE_PROJECT": "10000/min",
}
os.environ.update(ENV)

from streaming_common import (  # noqa: E402  (after the environment above)
    daphne,
    free_port,
    question,
    run_raw,
    setup_database,
    spawn,
    wait_for_port,
    wait_for_worker,
)


def messages_for(run: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": question(run)}]


def make_user_and_project() -> tuple[str, str]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from projects.services import project_create

    user, _ = User.objects.get_or_create(email="bench@example.com")
    project = project_create(name=f"bench {time.time():.0f}", created_by=user)
    return str(AccessToken.for_user(user)), str(project.id)


def run_platform(http, url: str, token: str, messages, max_tokens: int) -> dict[str, float]:
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "stream": True}
    started = time.perf_counter()
    first = last = None
    done = None
    with http.stream("POST", url, json=body, headers={"Authorization": f"Bearer {token}"}) as response:
        response.raise_for_status()
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "token":
                    last = time.perf_counter()  # as on the raw side: up to the last token
                    first = first or last
                elif event == "done":
                    done = json.loads(line[6:])
                elif event == "error":
                    raise RuntimeError(line)
    assert first is not None and last is not None and done is not None, "no token or no done event came back"
    timings = done.get("timings") or {}
    return {
        "ttft": first - started, "total": last - started, "tokens": done["usage"]["completion_tokens"],
        "queued_ms": timings.get("queued_ms") or 0,
        "worker_ttft_ms": timings.get("time_to_first_token_ms") or 0,
        "worker_tps": timings.get("tokens_per_second") or 0.0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Platform streaming against raw llama-cpp-python.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    import httpx

    setup_database()
    from llama_cpp import Llama

    from inference.engine import resolve_gpu_layers
    from inference.registry import CHAT, get_model

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the children
    token, project_id = make_user_and_project()
    spec = get_model(None, kind=CHAT)
    port = free_port()
    worker = spawn(
        [sys.executable, "-m", "celery", "-A", "platform_site", "worker", "-Q", ENV["INFERENCE_QUEUE"],
         "-P", "solo", "-n", f"bench-{os.getpid()}@%h", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        "bench-worker.log",
    )  # fmt: skip
    server = spawn(daphne(port), "bench-daphne.log")
    try:
        wait_for_worker("bench-worker.log")
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/api/projects/{project_id}/inference/generate/"
        llm = Llama(
            str(spec.path), n_ctx=spec.n_ctx, n_threads=spec.n_threads, n_threads_batch=spec.n_threads,
            n_batch=min(spec.n_batch, spec.n_ctx), n_gpu_layers=resolve_gpu_layers(spec), verbose=False,
        )  # fmt: skip
        with httpx.Client(timeout=120) as http:
            run_raw(llm, messages_for(999), 8)  # warm both sides up
            run_platform(http, url, token, messages_for(998), 8)
            raw, platform = [], []
            for run in range(args.runs):
                raw.append(run_raw(llm, messages_for(run), args.max_tokens))
                platform.append(run_platform(http, url, token, messages_for(run), args.max_tokens))
                print(
                    f"run {run + 1}: raw {raw[-1]['tokens']} tokens, ttft {raw[-1]['ttft'] * 1000:.0f} ms | "
                    f"platform {platform[-1]['tokens']} tokens, ttft {platform[-1]['ttft'] * 1000:.0f} ms"
                )
        llm.close()
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    def summary(rows):
        return (
            statistics.median(r["tokens"] / r["total"] for r in rows),
            statistics.median(r["ttft"] for r in rows) * 1000,
        )

    raw_tps, raw_ttft = summary(raw)
    platform_tps, platform_ttft = summary(platform)
    pairs = list(zip(platform, raw, strict=True))
    added = statistics.median(p["ttft"] - r["ttft"] for p, r in pairs) * 1000
    paired_ratio = statistics.median(
        (p["tokens"] / p["total"]) / (r["tokens"] / r["total"]) for p, r in pairs
    )
    print()
    print(f"model {spec.name}, {args.runs} runs, max_tokens {args.max_tokens}, {spec.n_threads} threads")
    print(f"raw llama-cpp-python : {raw_tps:6.1f} tokens/s, time to first token {raw_ttft:5.0f} ms")
    print(f"through the platform : {platform_tps:6.1f} tokens/s, time to first token {platform_ttft:5.0f} ms")
    print(f"ratio (platform/raw) : {platform_tps / raw_tps:.3f}   (target >= 0.95)")
    print(f"median ratio of the paired runs: {paired_ratio:.3f}")
    print(f"added time to first token: {added:.0f} ms   (target <= 50 ms)")
    print(
        "where it goes (medians): request -> task start on the worker "
        f"{statistics.median(p['queued_ms'] for p in platform):.0f} ms; the worker's own time to first token "
        f"{statistics.median(p['worker_ttft_ms'] for p in platform):.0f} ms (raw {raw_ttft:.0f} ms); "
        f"decoding on the worker {statistics.median(p['worker_tps'] for p in platform):.1f} tokens/s"
    )


if __name__ == "__main__":
    main()
