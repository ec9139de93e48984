"""A small terminal chat client for the WebSocket chat (API.md, "WebSocket chat").

    python -m agents.chat_client --email you@example.com --project <project_id>
    python -m agents.chat_client --email you@example.com --project <id> --agent <agent_id>
    python -m agents.chat_client --email you@example.com --project <id> --conversation <id>

It logs in (POST /api/auth/token/; the password is asked for, or taken from CHAT_PASSWORD),
opens a conversation with the agent (the project's first agent unless --agent is given;
--conversation continues an existing one), then streams answers token by token as they
arrive. Type a message and press Enter. Commands: /cancel stops the answer being written,
/quit leaves. If the socket drops, it reconnects and sends `resume` with the last seq it
saw, so nothing is missed or shown twice. At the end of its input (Ctrl-D, or a pipe:
`echo "Hello" | python -m agents.chat_client …`) it waits for the answers still being written
(at most CHAT_WAIT seconds, default 180), then leaves. Needs `httpx` and `websockets`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def _ws_base(http_url: str) -> str:
    parts = urlsplit(http_url)
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, "", "", ""))


def _login(base: str, email: str, password: str) -> str:
    import httpx

    response = httpx.post(f"{base}/api/auth/token/", json={"email": email, "password": password}, timeout=30)
    if response.status_code != 200:
        sys.exit(f"login failed ({response.status_code}): {response.text[:300]}")
    return response.json()["access"]


def _conversation(base: str, token: str, project: str, agent: str | None, conversation: str | None) -> str:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    if conversation:
        return conversation
    if agent is None:
        agents = httpx.get(f"{base}/api/projects/{project}/agents/", headers=headers, timeout=30)
        agents.raise_for_status()
        results = agents.json()["results"]
        if not results:
            sys.exit("this project has no agent yet: create one first (README, 'Agents and chat')")
        agent = results[0]["id"]
        print(f"chatting with {results[0]['name']}", file=sys.stderr)
    response = httpx.post(
        f"{base}/api/projects/{project}/conversations/",
        json={"agent_id": agent, "title": "chat client"},
        headers=headers,
        timeout=30,
    )
    if response.status_code != 201:
        sys.exit(f"could not open a conversation ({response.status_code}): {response.text[:300]}")
    return response.json()["id"]


class Client:
    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url = ws_url
        self.token = token
        self.last_seq = 0
        self.ws: Any = None
        self.writing: str | None = None
        self.awaiting = 0  # messages sent whose answer has not completed yet

    def show(self, event: dict) -> None:
        kind = event.get("type")
        if event.get("seq") is not None:
            self.last_seq = max(self.last_seq, event["seq"])
        if kind == "token":
            if self.writing != event["message_id"]:
                self.writing = event["message_id"]
                print("\nagent> ", end="")
            print(event["text"], end="", flush=True)
        elif kind == "message.completed":
            message = event["message"]
            if message["role"] == "assistant":
                usage = event.get("usage") or {}
                note = (
                    "" if message["status"] == "completed" else f" [{message['status']}: {message['error']}]"
                )
                print(f"\n  ({usage.get('completion_tokens', 0)} tokens){note}\nyou> ", end="", flush=True)
                self.writing = None
                self.awaiting = max(0, self.awaiting - 1)
        elif kind == "tool.call":
            print(f"\n  [tool {event['tool']}({json.dumps(event['arguments'])})]", end="", flush=True)
        elif kind == "tool.result":
            print(f"\n  [result: {json.dumps(event['result'])[:200]}]", end="", flush=True)
        elif kind == "error":
            print(f"\n  [error {event.get('code')}: {event.get('detail')}]", flush=True)
            if event.get("seq") is None and not event.get("message_id"):
                self.awaiting = max(0, self.awaiting - 1)  # our input was refused: no answer comes

    async def reader(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                protocols: Any = ["bearer", self.token]
                async with connect(self.ws_url, subprotocols=protocols) as ws:
                    self.ws = ws
                    if self.last_seq:
                        await ws.send(json.dumps({"type": "resume", "after_seq": self.last_seq}))
                    async for raw in ws:
                        self.show(json.loads(raw))
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                if code in (4401, 4404):
                    print(
                        f"\nclosed by the server ({code}): bad token or no such conversation", file=sys.stderr
                    )
                    os._exit(1)
            except OSError as exc:
                print(f"\n  [connection lost: {exc}; retrying]", file=sys.stderr)
            self.ws = None
            await asyncio.sleep(1)

    async def writer(self) -> None:
        print("you> ", end="", flush=True)
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if line.strip() == "/quit":
                return
            if not line:  # end of input: let the answers being written finish
                await self.wait_for_answers(float(os.environ.get("CHAT_WAIT", "180")))
                print()
                return
            line = line.strip()
            if not line:
                continue
            while self.ws is None:
                await asyncio.sleep(0.1)
            if line == "/cancel":
                await self.ws.send(json.dumps({"type": "generation.cancel"}))
            else:
                await self.ws.send(json.dumps({"type": "message.send", "content": line}))
                self.awaiting += 1

    async def wait_for_answers(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.awaiting and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)


async def _run(client: Client) -> None:
    reader = asyncio.create_task(client.reader())
    try:
        await client.writer()
    finally:
        reader.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agents.chat_client", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("CHAT_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--email", required=True)
    parser.add_argument("--project", required=True, help="the project's id")
    parser.add_argument("--agent", help="an agent id (default: the project's first agent)")
    parser.add_argument("--conversation", help="continue this conversation instead of opening one")
    args = parser.parse_args(argv)
    password = os.environ.get("CHAT_PASSWORD") or getpass.getpass("password: ")
    base = args.url.rstrip("/")
    token = _login(base, args.email, password)
    conversation = _conversation(base, token, args.project, args.agent, args.conversation)
    print(f"conversation {conversation} (/cancel, /quit)", file=sys.stderr)
    ws_url = f"{_ws_base(base)}/ws/projects/{args.project}/conversations/{conversation}/"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(Client(ws_url, token)))


if __name__ == "__main__":
    main()
