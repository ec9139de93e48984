"""The whole chat path through real processes: daphne (ASGI), the `default` worker running the
turn, the inference worker running the model, Redis as the channel layer, and a `websockets`
client. Nothing here is faked; assertions are on structure, never on the model's words."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from asgiref.sync import async_to_sync
from websockets.asyncio.client import connect

from agents.models import Conversation, Message
from agents.tests.factories import AgentFactory, ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 120


@pytest.fixture
def chat(project, tools):
    agent = AgentFactory(project=project, name="E2E", max_tokens=40, system_prompt="Answer briefly.")
    return ConversationFactory(agent=agent, project=project)


@pytest.fixture
def tools(db):
    from agents.services import tool_registry_sync

    return tool_registry_sync()


def url(server, conversation, token=None):
    path = f"{server.ws_url}/ws/projects/{conversation.project_id}/conversations/{conversation.pk}/"
    return f"{path}?token={token}" if token else path


async def next_event(ws, timeout=TIMEOUT):
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if event["type"] != "ping":
            return event


async def until_completed(ws, received):
    """Collect events until the assistant's message.completed."""
    while True:
        event = await next_event(ws)
        received.append(event)
        if event["type"] == "message.completed" and event["message"]["role"] == "assistant":
            return event


def test_send_stream_reconnect_and_resume(
    daphne_server, inference_worker, default_worker, chat, member, access_token
):
    token = access_token(member)

    async def scenario():
        # 1. Send, and receive the whole answer live: ordered seqs, tokens, message.completed.
        received = []
        async with connect(url(daphne_server, chat, token)) as ws:
            await ws.send(json.dumps({"type": "message.send", "content": "Say hello.", "client_id": "e2e-1"}))
            completed = await until_completed(ws, received)
        seqs = [e["seq"] for e in received]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        assert received[0]["type"] == "message.created" and received[0]["message"]["role"] == "user"
        assert received[1]["type"] == "message.created" and received[1]["message"]["role"] == "assistant"
        answer_id = completed["message"]["id"]
        tokens = [e for e in received if e["type"] == "token"]
        assert tokens and all(e["message_id"] == answer_id for e in tokens)
        assert "".join(e["text"] for e in tokens) == completed["message"]["content"]
        assert completed["message"]["status"] == "completed" and completed["usage"]["completion_tokens"] > 0
        last_seen = seqs[-1]

        # 2. Send a second message and drop the socket after the first token.
        partial = []
        async with connect(url(daphne_server, chat, token)) as ws:
            await ws.send(json.dumps({"type": "message.send", "content": "Name a fruit."}))
            while not partial or partial[-1]["type"] != "token":
                partial.append(await next_event(ws))
        last_seen = partial[-1]["seq"]

        # 3. Wait until that turn is over (nobody is watching).
        def turn_over():
            return (
                Message.objects.filter(conversation=chat, role="assistant", status="completed").count() == 2
            )

        for _ in range(TIMEOUT * 5):
            if await asyncio.to_thread(turn_over):
                break
            await asyncio.sleep(0.2)
        final_seq = (await asyncio.to_thread(Conversation.objects.get, pk=chat.pk)).last_seq
        assert final_seq > last_seen

        # 4. Reconnect (token in the subprotocol this time) and resume: exactly the missed events.
        async with connect(url(daphne_server, chat), subprotocols=["bearer", token]) as ws:
            assert ws.subprotocol == "bearer"
            await ws.send(json.dumps({"type": "resume", "after_seq": last_seen}))
            missed = [await next_event(ws) for _ in range(final_seq - last_seen)]
            assert [e["seq"] for e in missed] == list(range(last_seen + 1, final_seq + 1))
            assert missed[-1]["type"] == "message.completed"
            with pytest.raises(TimeoutError):
                await next_event(ws, timeout=1.0)  # nothing more, nothing twice
            second = missed[-1]["message"]
            partial_tokens = [e for e in partial if e["type"] == "token"]
            all_tokens = partial_tokens + [e for e in missed if e["type"] == "token"]
            assert "".join(e["text"] for e in all_tokens) == second["content"]

            # 5. Then it is live: a new message arrives on the same socket.
            await ws.send(json.dumps({"type": "message.send", "content": "Thanks."}))
            event = await next_event(ws)
            assert event["type"] == "message.created" and event["seq"] == final_seq + 1

        # The idempotent first message was stored once.
        assert await asyncio.to_thread(lambda: Message.objects.filter(client_id="e2e-1").count()) == 1

    async_to_sync(scenario)()


def test_real_daphne_closes_bad_tokens_and_strangers(daphne_server, chat, outsider, access_token):
    async def close_code(address):
        async with connect(address) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        return closed.value.rcvd.code

    outsider_token = access_token(outsider)

    async def scenario():
        assert await close_code(url(daphne_server, chat, "bad-token")) == 4401
        assert await close_code(url(daphne_server, chat, outsider_token)) == 4404

    async_to_sync(scenario)()


def test_the_terminal_chat_client_streams_an_answer(
    daphne_server, inference_worker, default_worker, chat, member
):
    """The README's client (agents/chat_client.py) against real daphne and workers, its input piped."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    member.set_password("chat-client-pass-1")
    member.save()
    result = subprocess.run(
        [
            sys.executable, "-m", "agents.chat_client", "--url", daphne_server.http_url,
            "--email", member.email, "--project", str(chat.project_id), "--conversation", str(chat.pk),
        ],
        input="Say hello.\n", capture_output=True, text=True, timeout=TIMEOUT + 30, cwd=settings.BASE_DIR,
        env={**os.environ, "CHAT_PASSWORD": "chat-client-pass-1", "CHAT_WAIT": str(TIMEOUT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"conversation {chat.pk}" in result.stderr
    assert "agent> " in result.stdout and " tokens)" in result.stdout, result.stdout
    answer = Message.objects.get(conversation=chat, role="assistant")
    assert answer.status == Message.Status.COMPLETED
    assert answer.content.strip() and answer.content.strip() in result.stdout  # streamed as stored
