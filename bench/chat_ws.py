"""Chat over the WebSocket against raw llama-cpp-python, on the same model and prompts.

    .venv/bin/python bench/chat_ws.py [--runs 5] [--max-tokens 128]

Raw: `Llama.create_chat_completion(stream=True)` in this process. Platform: a `websockets`
client sends `message.send` to a real daphne; a `default`-queue Celery worker runs the turn
(agent runtime: prompt, event log, token batching), a real inference worker runs the model,
and the token events come back through Redis (channel layer) and the socket. Both sides use
greedy decoding (temperature 0) on the same messages (the agent's system prompt + the
question, a new conversation each run, so no history), one at a time on the same cores.

Prints, per side, the median tokens/s (completion tokens over the time from the request to
the last token) and time to first token, their ratio, and the send → first token time.

Isolated from `make run` and the tests: database `bench_chat` (created and migrated when
missing), Redis DB 10, inference queue `inference-chatbench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ENV = {
    "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
    "TEST_DATABASE_NAME": "bench_chat",
    "DJANGO_DATABASE_NAME": "bench_chat",
    "TEST_REDIS_DB": "10",
    "INFERENCE_QUEUE": "inference-chatbench",
    "AGENT_TURN_TIMEOUT": "600",  # a loaded machine must not turn a slow run into a failure
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

SYSTEM = "You are a helpful assistant."


def messages_for(run: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question(run)}]


def make_agent(max_tokens: int):
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from agents.services import agent_create
    from projects.services import project_create

    user, _ = User.objects.get_or_create(email="chatbench@example.com")
    project = project_create(name=f"chat bench {time.time():.0f}", created_by=user)
    agent = agent_create(
        project=project, name="Bench", system_prompt=SYSTEM, temperature=0.0, top_p=1.0, max_tokens=max_tokens
    )
    return str(AccessToken.for_user(user)), user, project, agent


def celery(queue: str, pool: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "platform_site", "worker", "-Q", queue, "-P", pool,
        "-c", "2" if pool == "threads" else "1", "-n", f"chatbench-{queue}-{os.getpid()}@%h",
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


async def run_ws(ws_base: str, token: str, project, agent, user, content: str) -> dict[str, float]:
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    from agents.services import conversation_create

    conversation = await sync_to_async(conversation_create)(project=project, agent=agent, created_by=user)
    url = f"{ws_base}/ws/projects/{project.pk}/conversations/{conversation.pk}/?token={token}"
    async with connect(url) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "message.send", "content": content}))
        first = last = None
        events = 0
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if event["type"] == "token":
                now = time.perf_counter()
                first = first or now
                last = now
                events += 1
            elif event["type"] == "message.completed" and event["message"]["role"] == "assistant":
                if event["message"]["status"] != "completed":
                    raise RuntimeError(event["message"]["error"])
                tokens = event["usage"]["completion_tokens"]
                break
            elif event["type"] == "error":
                raise RuntimeError(event)
    assert first is not None and last is not None, "no token came back"
    return {"ttft": first - started, "total": last - started, "tokens": tokens, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description="WebSocket chat against raw llama-cpp-python.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    setup_database(sync_tools=True)
    from llama_cpp import Llama

    from inference.engine import resolve_gpu_layers
    from inference.registry import CHAT, get_model

    token, user, project, agent = make_agent(args.max_tokens)
    spec = get_model(None, kind=CHAT)
    port = free_port()
    processes = [
        spawn(celery(ENV["INFERENCE_QUEUE"], "solo"), "bench-chat-inference.log"),
        spawn(celery("default", "threads"), "bench-chat-default.log"),
        spawn(daphne(port), "bench-chat-daphne.log"),
    ]  # fmt: skip
    ws_base = f"ws://127.0.0.1:{port}"
    try:
        wait_for_worker("bench-chat-inference.log")
        wait_for_port(port)
        llm = Llama(
            str(spec.path), n_ctx=spec.n_ctx, n_threads=spec.n_threads, n_threads_batch=spec.n_threads,
            n_batch=min(spec.n_batch, spec.n_ctx), n_gpu_layers=resolve_gpu_layers(spec), verbose=False,
        )  # fmt: skip
        run_raw(llm, messages_for(999), 8)  # warm both sides up
        asyncio.run(run_ws(ws_base, token, project, agent, user, question(998)))
        raw, ws = [], []
        for run in range(args.runs):
            raw.append(run_raw(llm, messages_for(run), args.max_tokens))
            ws.append(asyncio.run(run_ws(ws_base, token, project, agent, user, question(run))))
            print(
                f"run {run + 1}: raw {raw[-1]['tokens']} tokens, ttft {raw[-1]['ttft'] * 1000:.0f} ms | "
                f"websocket {ws[-1]['tokens']} tokens in {ws[-1]['events']} token events, "
                f"send→first token {ws[-1]['ttft'] * 1000:.0f} ms"
            )
        llm.close()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
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
    ws_tps, ws_ttft = summary(ws)
    added = statistics.median(w["ttft"] - r["ttft"] for w, r in zip(ws, raw, strict=True)) * 1000
    print()
    print(f"model {spec.name}, {args.runs} runs, max_tokens {args.max_tokens}, {spec.n_threads} threads")
    print(f"raw llama-cpp-python  : {raw_tps:6.1f} tokens/s, time to first token {raw_ttft:5.0f} ms")
    print(f"WebSocket chat client : {ws_tps:6.1f} tokens/s, send → first token  {ws_ttft:5.0f} ms")
    print(f"ratio (websocket/raw) : {ws_tps / raw_tps:.3f}")
    print(f"added time to first token: {added:.0f} ms")


if __name__ == "__main__":
    main()
