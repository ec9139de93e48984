import pytest

from agents import services
from agents.models import Conversation, ConversationEvent, Message

pytestmark = pytest.mark.django_db


def conv_url(project, conversation=None, suffix=""):
    base = f"/api/projects/{project.pk}/conversations/"
    return f"{base}{conversation.pk}/{suffix}" if conversation else base


class TestConversationCreate:
    @pytest.mark.parametrize("role", ["owner", "member"])
    def test_members_create(self, api_client, agent, role, request):
        user = request.getfixturevalue(role)
        response = api_client(user).post(conv_url(agent.project), {"agent_id": str(agent.pk), "title": "Hi"})
        assert response.status_code == 201, response.json()
        conversation = Conversation.objects.get(pk=response.json()["id"])
        assert conversation.agent == agent and conversation.created_by == user

    def test_viewer_gets_403(self, api_client, agent, viewer):
        assert (
            api_client(viewer).post(conv_url(agent.project), {"agent_id": str(agent.pk)}).status_code == 403
        )

    def test_outsider_gets_404(self, api_client, agent, outsider):
        assert (
            api_client(outsider).post(conv_url(agent.project), {"agent_id": str(agent.pk)}).status_code == 404
        )

    def test_another_projects_agent_is_400(self, api_client, project, other_agent, owner, tools):
        response = api_client(owner).post(conv_url(project), {"agent_id": str(other_agent.pk)})
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "agent_id"
        assert not Conversation.objects.filter(agent=other_agent, project=project).exists()

    def test_bad_agent_id_is_400(self, api_client, project, owner):
        response = api_client(owner).post(conv_url(project), {"agent_id": "nope"})
        assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "agent_id"


class TestConversationReadDelete:
    def test_list_scoped_and_counted(
        self, api_client, agent, conversation, other_conversation, viewer, django_assert_num_queries
    ):
        from agents.tests.factories import ConversationFactory

        for _ in range(3):
            ConversationFactory(agent=agent, project=agent.project)
        client = api_client(viewer)
        # 1 user (JWT), 2 membership + project (tenant gate), 3 count, 4 conversations joined with agents
        with django_assert_num_queries(4):
            response = client.get(conv_url(agent.project))
        ids = {c["id"] for c in response.json()["results"]}
        assert len(ids) == 4 and str(other_conversation.pk) not in ids

    def test_outsider_gets_404(self, api_client, conversation, outsider):
        assert api_client(outsider).get(conv_url(conversation.project, conversation)).status_code == 404
        assert api_client(outsider).get(conv_url(conversation.project)).status_code == 404

    def test_other_projects_conversation_is_404(self, api_client, project, other_conversation, owner):
        assert api_client(owner).get(conv_url(project, other_conversation)).status_code == 404
        assert api_client(owner).delete(conv_url(project, other_conversation)).status_code == 404

    def test_viewer_cannot_delete(self, api_client, conversation, viewer):
        assert api_client(viewer).delete(conv_url(conversation.project, conversation)).status_code == 403

    def test_member_cannot_delete_someone_elses(self, api_client, conversation, member):
        assert api_client(member).delete(conv_url(conversation.project, conversation)).status_code == 403
        assert Conversation.objects.filter(pk=conversation.pk).exists()

    def test_creator_deletes(self, api_client, conversation, owner):
        assert api_client(owner).delete(conv_url(conversation.project, conversation)).status_code == 204
        assert not Conversation.objects.filter(pk=conversation.pk).exists()


class TestMessages:
    def test_post_queues_and_answers_202(
        self, api_client, conversation, member, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api_client(member).post(
                conv_url(conversation.project, conversation, "messages/"),
                {"content": "Hello", "client_id": "c1"},
            )
        assert response.status_code == 202, response.json()
        body = response.json()
        assert body["role"] == "user" and body["status"] == "queued" and body["content"] == "Hello"
        assert body["sender_user_id"] == str(member.pk) and body["receiver_agent_id"] == str(
            conversation.agent_id
        )
        event = ConversationEvent.objects.get(conversation=conversation)
        assert (
            event.seq == 1
            and event.type == "message.created"
            and event.payload["message"]["id"] == body["id"]
        )
        assert len(callbacks) == 2  # the broadcast and the queued turn, both after commit

    def test_client_id_makes_it_idempotent(self, api_client, conversation, member):
        client = api_client(member)
        url = conv_url(conversation.project, conversation, "messages/")
        first = client.post(url, {"content": "Hello", "client_id": "same"}).json()
        second = client.post(url, {"content": "Hello again", "client_id": "same"}).json()
        assert first["id"] == second["id"]
        assert Message.objects.filter(conversation=conversation).count() == 1
        assert ConversationEvent.objects.filter(conversation=conversation).count() == 1

    def test_viewer_gets_403(self, api_client, conversation, viewer):
        response = api_client(viewer).post(
            conv_url(conversation.project, conversation, "messages/"), {"content": "x"}
        )
        assert response.status_code == 403
        assert not Message.objects.exists()

    def test_outsider_gets_404(self, api_client, conversation, outsider):
        url = conv_url(conversation.project, conversation, "messages/")
        assert api_client(outsider).post(url, {"content": "x"}).status_code == 404
        assert api_client(outsider).get(url).status_code == 404

    @pytest.mark.parametrize("content", ["", "   ", "x" * 9000])
    def test_bad_content_is_400(self, api_client, conversation, member, content):
        response = api_client(member).post(
            conv_url(conversation.project, conversation, "messages/"), {"content": content}
        )
        assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "content"
        assert not Message.objects.exists()

    def test_list_in_order_with_query_count(
        self, api_client, conversation, owner, viewer, django_assert_num_queries
    ):
        for i in range(4):
            services.message_send(conversation=conversation, content=f"m{i}", sender_user=owner)
        client = api_client(viewer)
        # 1 user (JWT), 2 membership + project, 3 the conversation, 4 count, 5 the page of messages
        with django_assert_num_queries(5):
            response = client.get(conv_url(conversation.project, conversation, "messages/"))
        assert [m["content"] for m in response.json()["results"]] == ["m0", "m1", "m2", "m3"]


class TestEvents:
    def test_after_and_order(self, api_client, conversation, owner, viewer, django_assert_num_queries):
        for i in range(3):
            services.message_send(conversation=conversation, content=f"m{i}", sender_user=owner)
        client = api_client(viewer)
        url = conv_url(conversation.project, conversation, "events/")
        # 1 user (JWT), 2 membership + project, 3 the conversation, 4 count, 5 the page of events
        with django_assert_num_queries(5):
            response = client.get(url + "?after=1")
        events = response.json()["results"]
        assert [e["seq"] for e in events] == [2, 3]
        assert events[0]["type"] == "message.created" and events[0]["message"]["content"] == "m1"

    def test_bad_after_is_400(self, api_client, conversation, owner):
        response = api_client(owner).get(conv_url(conversation.project, conversation, "events/") + "?after=x")
        assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "after"

    def test_outsider_gets_404(self, api_client, conversation, outsider):
        assert (
            api_client(outsider).get(conv_url(conversation.project, conversation, "events/")).status_code
            == 404
        )

    def test_seq_is_unique_and_increasing(self, conversation):
        seqs = [
            services.event_emit(conversation_id=conversation.pk, type="token", payload={"text": str(i)}).seq
            for i in range(5)
        ]
        assert seqs == [1, 2, 3, 4, 5]
        conversation.refresh_from_db()
        assert conversation.last_seq == 5


class TestCancel:
    def test_cancel_marks_the_running_turn(self, api_client, conversation, member):
        running = Message.objects.create(conversation=conversation, role="assistant", status="running")
        response = api_client(member).post(conv_url(conversation.project, conversation, "cancel/"))
        assert response.status_code == 202
        assert response.json() == {"cancelled": True, "message_id": str(running.pk)}
        running.refresh_from_db()
        assert running.cancel_requested

    def test_nothing_running(self, api_client, conversation, member):
        response = api_client(member).post(conv_url(conversation.project, conversation, "cancel/"))
        assert response.json() == {"cancelled": False, "message_id": None}

    def test_viewer_gets_403_and_outsider_404(self, api_client, conversation, viewer, outsider):
        url = conv_url(conversation.project, conversation, "cancel/")
        assert api_client(viewer).post(url).status_code == 403
        assert api_client(outsider).post(url).status_code == 404


class TestStaleTurns:
    def test_a_turn_whose_worker_died_ends_failed_with_its_streamed_text(self, conversation):
        from datetime import timedelta

        from django.utils import timezone

        from agents.services.conversations import stale_turns_reap

        long_ago = timezone.now() - timedelta(hours=1)
        running = Message.objects.create(
            conversation=conversation, role="assistant", status="running", started_at=long_ago
        )
        for text in ("Hel", "lo"):
            services.event_emit(
                conversation_id=conversation.pk,
                type="token",
                payload={"message_id": str(running.pk), "text": text},
            )
        assert stale_turns_reap() == 1
        running.refresh_from_db()
        assert (
            running.status == "failed"
            and running.content == "Hello"
            and running.error.startswith("worker_lost")
        )
        types = list(
            ConversationEvent.objects.filter(conversation=conversation).values_list("type", flat=True)
        )
        assert types[-2:] == ["error", "message.completed"]

    def test_a_live_lease_is_left_alone(self, conversation):
        import uuid
        from datetime import timedelta

        from django.utils import timezone

        from agents.services.conversations import lease_claim, stale_turns_reap

        Message.objects.create(
            conversation=conversation, role="assistant", status="running",
            started_at=timezone.now() - timedelta(hours=1),
        )  # fmt: skip
        assert lease_claim(conversation_id=conversation.pk, token=uuid.uuid4())
        assert stale_turns_reap() == 0
        assert Message.objects.get(conversation=conversation).status == "running"
