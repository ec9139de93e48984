"""The chat socket through the real ASGI application (routing, origin check, consumer) and
the real Redis channel layer. The end-to-end test with a real daphne is in tests/test_chat_e2e.py."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from agents import services
from agents.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def turns_wait_in_a_queue_of_their_own(settings):
    """These tests are about the socket: the turns they queue must not be run by a default
    worker that another test of the session started (its events would arrive here, and its
    writes would race the flush at teardown). They wait in a queue no worker reads, emptied after."""
    from tests.fixtures.workers import purge_queues

    settings.AGENT_TURN_QUEUE = "test-consumer-held"
    yield
    purge_queues([settings.AGENT_TURN_QUEUE])


def ws_path(conversation, project=None, token=None):
    project = project or conversation.project
    path = f"/ws/projects/{project.pk}/conversations/{conversation.pk}/"
    return f"{path}?token={token}" if token else path


def communicator(path, subprotocols=None):
    from platform_site.asgi import application

    return WebsocketCommunicator(application, path, subprotocols=subprotocols)


async def receive(comm, timeout=5):
    return json.loads(await comm.receive_from(timeout=timeout))


async def close_code(comm):
    connected, _ = await comm.connect()
    assert connected  # accepted, then closed at once: no data before the close
    output = await comm.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return output["code"]


class TestAuthentication:
    def test_bad_or_missing_token_closes_4401(self, conversation):
        async def scenario():
            for path in (ws_path(conversation), ws_path(conversation, token="not-a-jwt")):
                assert await close_code(communicator(path)) == 4401

        async_to_sync(scenario)()

    def test_refresh_token_is_not_an_access_token(self, conversation, owner):
        from rest_framework_simplejwt.tokens import RefreshToken

        refresh = str(RefreshToken.for_user(owner))

        async def scenario():
            assert await close_code(communicator(ws_path(conversation, token=refresh))) == 4401

        async_to_sync(scenario)()

    def test_expired_access_token_closes_4401(self, conversation, owner):
        from datetime import timedelta

        from rest_framework_simplejwt.tokens import AccessToken

        token = AccessToken.for_user(owner)
        token.set_exp(lifetime=-timedelta(seconds=1))  # expired a second ago

        async def scenario():
            for comm in (
                communicator(ws_path(conversation, token=str(token))),
                communicator(ws_path(conversation), subprotocols=["bearer", str(token)]),
            ):
                assert await close_code(comm) == 4401

        async_to_sync(scenario)()

    def test_outsider_closes_4404(self, conversation, outsider, access_token):
        async def scenario():
            assert await close_code(communicator(ws_path(conversation, token=access_token(outsider)))) == 4404

        async_to_sync(scenario)()

    def test_another_projects_conversation_closes_4404(
        self, project, other_conversation, owner, access_token
    ):
        async def scenario():
            path = ws_path(other_conversation, project=project, token=access_token(owner))
            assert await close_code(communicator(path)) == 4404

        async_to_sync(scenario)()

    def test_subprotocol_bearer(self, conversation, member, access_token):
        async def scenario():
            comm = communicator(ws_path(conversation), subprotocols=["bearer", access_token(member)])
            connected, subprotocol = await comm.connect()
            assert connected and subprotocol == "bearer"
            assert await comm.receive_nothing(timeout=0.3)
            await comm.disconnect()

        async_to_sync(scenario)()


class TestProtocol:
    def test_member_sends_and_gets_message_created(self, conversation, member, access_token):
        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(member)))
            assert (await comm.connect())[0]
            await comm.send_json_to({"type": "message.send", "content": "Hello", "client_id": "k1"})
            event = await receive(comm)
            assert event["type"] == "message.created" and event["seq"] == 1
            assert event["message"]["content"] == "Hello" and event["message"]["client_id"] == "k1"
            # The same client_id again: nothing new is stored or sent.
            await comm.send_json_to({"type": "message.send", "content": "Hello", "client_id": "k1"})
            assert await comm.receive_nothing(timeout=0.5)
            await comm.disconnect()

        async_to_sync(scenario)()
        assert Message.objects.filter(conversation=conversation).count() == 1

    def test_bad_input_gets_an_error_and_the_socket_stays_open(
        self, conversation, member, access_token, settings
    ):
        settings.AGENT_WS_MAX_MESSAGE_BYTES = 1000

        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(member)))
            assert (await comm.connect())[0]
            for raw, code in [
                ("{not json", "malformed_json"),
                ("[1, 2]", "malformed_json"),
                (json.dumps({"type": "dance"}), "unknown_type"),
                (json.dumps({"type": "message.send", "content": "x" * 2000}), "message_too_large"),
                (json.dumps({"type": "message.send", "content": ""}), "invalid"),
                (json.dumps({"type": "message.send"}), "invalid"),
                (json.dumps({"type": "resume", "after_seq": -1}), "invalid"),
            ]:
                await comm.send_to(text_data=raw)
                event = await receive(comm)
                assert event["type"] == "error" and event["code"] == code, (raw, event)
                assert event["seq"] is None  # about this socket's input: not part of the log
            await comm.send_json_to({"type": "message.send", "content": "still here"})
            assert (await receive(comm))["type"] == "message.created"
            await comm.disconnect()

        async_to_sync(scenario)()

    def test_viewer_watches_but_cannot_send_or_cancel(self, conversation, owner, viewer, access_token):
        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(viewer)))
            assert (await comm.connect())[0]
            for payload in ({"type": "message.send", "content": "hi"}, {"type": "generation.cancel"}):
                await comm.send_json_to(payload)
                event = await receive(comm)
                assert event["type"] == "error" and event["code"] == "permission_denied"
            # It still watches: a message sent by someone else arrives.
            from channels.db import database_sync_to_async

            await database_sync_to_async(services.message_send)(
                conversation=conversation, content="from the owner", sender_user=owner
            )
            event = await receive(comm)
            assert event["type"] == "message.created" and event["message"]["content"] == "from the owner"
            await comm.disconnect()

        async_to_sync(scenario)()
        assert list(Message.objects.values_list("content", flat=True)) == ["from the owner"]

    def test_cancel_with_nothing_running(self, conversation, member, access_token):
        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(member)))
            assert (await comm.connect())[0]
            await comm.send_json_to({"type": "generation.cancel"})
            assert (await receive(comm))["code"] == "nothing_running"
            await comm.disconnect()

        async_to_sync(scenario)()

    def test_resume_replays_exactly_the_missed_events_then_goes_live(self, conversation, owner, access_token):
        for i in range(4):
            services.event_emit(
                conversation_id=conversation.pk, type="token", payload={"message_id": "m", "text": str(i)}
            )

        async def scenario():
            from channels.db import database_sync_to_async

            comm = communicator(ws_path(conversation, token=access_token(owner)))
            assert (await comm.connect())[0]
            await comm.send_json_to({"type": "resume", "after_seq": 2})
            replay = [await receive(comm), await receive(comm)]
            assert [(e["seq"], e["text"]) for e in replay] == [(3, "2"), (4, "3")]
            assert await comm.receive_nothing(timeout=0.3)
            await database_sync_to_async(services.event_emit)(
                conversation_id=conversation.pk, type="token", payload={"message_id": "m", "text": "live"}
            )
            live = await receive(comm)
            assert (live["seq"], live["text"]) == (5, "live")
            await comm.disconnect()

        async_to_sync(scenario)()

    def test_heartbeat(self, conversation, owner, access_token, settings):
        settings.AGENT_WS_PING_SECONDS = 0.2

        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(owner)))
            assert (await comm.connect())[0]
            assert (await receive(comm, timeout=3)) == {"type": "ping", "seq": None}
            await comm.disconnect()

        async_to_sync(scenario)()


class TestRedisGoesAway:
    """The channel layer's Redis (a server of the test's own) stops: the socket is told and
    closed with 1013 (try again later), never left hanging."""

    async def _until_close(self, comm):
        sent = []
        while True:
            output = await comm.receive_output(timeout=30)
            if output["type"] == "websocket.close":
                return sent, output["code"]
            if output["type"] == "websocket.send":
                event = json.loads(output["text"])
                if event["type"] != "ping":
                    sent.append(event)

    def test_an_open_socket_gets_bus_unavailable_and_1013(self, bus, conversation, owner, access_token):
        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(owner)))
            assert (await comm.connect())[0]
            bus.kill()
            sent, code = await self._until_close(comm)
            assert code == 1013
            assert [(e["type"], e["code"], e["seq"]) for e in sent] == [("error", "bus_unavailable", None)]
            assert "resume" in sent[0]["detail"]

        async_to_sync(scenario)()

    def test_connecting_while_redis_is_down_gets_1013(self, bus, conversation, owner, access_token):
        bus.kill()

        async def scenario():
            comm = communicator(ws_path(conversation, token=access_token(owner)))
            connected, _ = await comm.connect(timeout=30)
            assert connected  # accepted only to carry the reason and the code
            sent, code = await self._until_close(comm)
            assert code == 1013 and [e["code"] for e in sent] == ["bus_unavailable"]

        async_to_sync(scenario)()
