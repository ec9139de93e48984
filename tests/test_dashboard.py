"""GET /api/projects/{id}/dashboard/ and /usage/, and the daily token quota (projects/usage.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

_seq = itertools.count()


def dashboard_url(project) -> str:
    return f"/api/projects/{project.id}/dashboard/"


def usage_url(project) -> str:
    return f"/api/projects/{project.id}/usage/"


def make_agent(project, name=None, status="active"):
    from agents.models import Agent

    return Agent.objects.create(
        project=project, name=name or f"agent-{next(_seq)}", model_name="smollm2-135m-instruct", status=status
    )


def make_conversation(project, agent, messages=1, status="completed", title=""):
    from agents.models import Conversation, Message

    conversation = Conversation.objects.create(project=project, agent=agent, title=title)
    for _ in range(messages):
        Message.objects.create(conversation=conversation, role="user", content="hello", status=status)
    return conversation


def make_entry(project, document=None):
    from memory.models import MemoryEntry

    content = f"memory {next(_seq)}"
    return MemoryEntry.objects.create(
        project=project, document=document, content=content,
        content_hash=hashlib.sha256(content.encode()).hexdigest(), embedding=[0.1] * 384,
        embedding_model="all-minilm-l6-v2",
    )  # fmt: skip


def make_document(project, status="ready"):
    from memory.models import Document

    n = next(_seq)
    return Document.objects.create(
        project=project, file=f"memory/{project.id}/doc{n}.txt", filename=f"doc{n}.txt",
        mime_type="text/plain", size=10, sha256=hashlib.sha256(str(n).encode()).hexdigest(), status=status,
    )  # fmt: skip


def make_schedule(project, agent, next_run_at, enabled=True):
    from scheduling.models import Schedule

    return Schedule.objects.create(
        project=project, agent=agent, name=f"schedule-{next(_seq)}", kind="interval", interval_seconds=3600,
        message="report", enabled=enabled, next_run_at=next_run_at,
    )  # fmt: skip


def make_usage(project, prompt=10, completion=20, when=None, model="smollm2-135m-instruct", kind="chat"):
    from inference.models import InferenceUsage

    row = InferenceUsage.objects.create(
        project=project, model=model, kind=kind, prompt_tokens=prompt, completion_tokens=completion,
        duration_ms=100, time_to_first_token_ms=30,
    )  # fmt: skip
    if when is not None:
        InferenceUsage.objects.filter(pk=row.pk).update(created_at=when)
    return row


def populate(project, n: int) -> None:
    """n of each: agents (each with a 2-message conversation), documents, entries, schedules, usage rows."""
    now = timezone.now()
    for i in range(n):
        agent = make_agent(project)
        make_conversation(project, agent, messages=2)
        document = make_document(project)
        make_entry(project, document)
        make_schedule(project, agent, now + dt.timedelta(hours=i + 1))
        make_usage(project, when=now - dt.timedelta(days=i % 7))


# --- the dashboard -----------------------------------------------------------------------------


def test_dashboard_shows_the_project_page(api_client, member, project, other_project):
    now = timezone.now()
    idle = make_agent(project, name="idle")
    busy = make_agent(project, name="busy")
    make_agent(project, name="paused", status="paused")
    make_conversation(project, idle, messages=1, title="old")
    busy_conv = make_conversation(project, busy, messages=3, status="running", title="new")
    make_document(project, status="ready")
    make_document(project, status="processing")
    failed = make_document(project, status="failed")
    make_entry(project, failed)
    make_entry(project)
    later = make_schedule(project, busy, now + dt.timedelta(hours=5))
    sooner = make_schedule(project, idle, now + dt.timedelta(hours=1))
    make_schedule(project, idle, now + dt.timedelta(minutes=5), enabled=False)  # disabled: not shown
    make_schedule(project, idle, None)  # never again: not shown
    make_usage(project, prompt=100, completion=50)
    make_usage(project, prompt=1, completion=2, when=now - dt.timedelta(days=2))
    make_usage(project, prompt=1000, completion=1000, when=now - dt.timedelta(days=8))  # too old
    # Another tenant's rows never show.
    other_agent = make_agent(other_project, name="theirs")
    make_conversation(other_project, other_agent)
    make_entry(other_project)
    make_usage(other_project, prompt=999, completion=999)

    response = api_client(member).get(dashboard_url(project))

    assert response.status_code == 200
    body = response.json()
    assert body["project"] == {
        "id": str(project.id), "name": project.name, "description": project.description, "role": "member",
    }  # fmt: skip
    agents = {a["name"]: a for a in body["agents"]}
    assert set(agents) == {"idle", "busy", "paused"}
    assert agents["busy"]["is_busy"] is True and agents["idle"]["is_busy"] is False
    assert agents["paused"]["status"] == "paused" and agents["paused"]["last_activity_at"] is None
    assert agents["busy"]["last_activity_at"] is not None
    assert body["agents"][-1]["name"] == "paused"  # no activity sorts last
    conversations = body["recent_conversations"]
    assert [c["title"] for c in conversations] == ["new", "old"]  # the newest activity first
    assert conversations[0]["id"] == str(busy_conv.id) and conversations[0]["message_count"] == 3
    assert conversations[0]["agent"] == {"id": str(busy.id), "name": "busy"}
    assert body["memory"] == {
        "entry_count": 2, "document_count": 3, "documents_ready": 1, "documents_processing": 1,
        "documents_failed": 1,
    }  # fmt: skip
    assert [s["id"] for s in body["next_schedules"]] == [str(sooner.id), str(later.id)]
    usage = body["usage"]
    assert len(usage["days"]) == 7
    assert usage["days"][-1]["date"] == now.date().isoformat()
    assert usage["days"][-1]["total_tokens"] == 150 and usage["days"][-1]["requests"] == 1
    assert usage["days"][-3]["total_tokens"] == 3
    assert usage["total_tokens"] == 153
    assert usage["quota"]["daily_token_quota"] is None and usage["quota"]["used_today"] == 150
    assert "by_model" not in usage  # the per-model breakdown is for admins


def test_dashboard_for_admins_includes_usage_by_model(api_client, owner, project):
    make_usage(project, prompt=5, completion=7, model="smollm2-135m-instruct", kind="chat")
    make_usage(project, prompt=40, completion=0, model="all-minilm-l6-v2", kind="embedding")
    body = api_client(owner).get(dashboard_url(project)).json()
    assert body["project"]["role"] == "admin"
    by_model = {(row["model"], row["kind"]): row for row in body["usage"]["by_model"]}
    assert by_model[("smollm2-135m-instruct", "chat")]["total_tokens"] == 12
    assert by_model[("all-minilm-l6-v2", "embedding")]["prompt_tokens"] == 40


def test_dashboard_of_an_empty_project(api_client, viewer, project):
    response = api_client(viewer).get(dashboard_url(project))
    assert response.status_code == 200
    body = response.json()
    assert body["agents"] == [] and body["recent_conversations"] == [] and body["next_schedules"] == []
    assert body["memory"]["entry_count"] == 0 and body["memory"]["document_count"] == 0
    assert [d["total_tokens"] for d in body["usage"]["days"]] == [0] * 7


def test_outsider_gets_404(api_client, outsider, project):
    response = api_client(outsider).get(dashboard_url(project))
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_anonymous_gets_401(anon_client, project):
    assert anon_client.get(dashboard_url(project)).status_code == 401


def test_superuser_sees_any_project_as_admin(api_client, superuser, project):
    body = api_client(superuser).get(dashboard_url(project)).json()
    assert body["project"]["role"] == "admin" and "by_model" in body["usage"]


def test_dashboard_is_read_only(api_client, owner, project):
    assert api_client(owner).post(dashboard_url(project), {}).status_code == 405


@pytest.mark.parametrize("rows", [1, 12])
def test_dashboard_query_count_does_not_grow_with_rows(
    api_client, member, project, rows, django_assert_num_queries
):
    populate(project, rows)
    client = api_client(member)
    # 1 the JWT's user; 2 the tenant gate's membership (with the project);
    # 3 usage per day (7 days); 4 agents with last activity and busy flag;
    # 5 recent conversations with agent, last message and message count;
    # 6 documents by status; 7 memory entries count; 8 next schedules with their agent.
    with django_assert_num_queries(8):
        response = client.get(dashboard_url(project))
    assert response.status_code == 200
    body = response.json()
    assert len(body["agents"]) == rows and body["memory"]["entry_count"] == rows
    assert len(body["next_schedules"]) == min(rows, 5)
    assert len(body["recent_conversations"]) == min(rows, 10)


# --- usage (admins) --------------------------------------------------------------------------


def test_usage_for_admins(api_client, owner, project, other_project):
    now = timezone.now()
    make_usage(project, prompt=3, completion=4)
    make_usage(project, prompt=10, completion=0, kind="embedding", model="all-minilm-l6-v2")
    make_usage(project, prompt=100, completion=100, when=now - dt.timedelta(days=20))
    make_usage(other_project, prompt=5000, completion=5000)
    response = api_client(owner).get(usage_url(project), {"days": 30})
    assert response.status_code == 200
    body = response.json()
    assert len(body["days"]) == 30
    assert sum(d["total_tokens"] for d in body["days"]) == 217
    assert body["days"][-1]["duration_ms"] == 200
    assert {row["kind"] for row in body["by_model"]} == {"chat", "embedding"}
    assert body["quota"]["used_today"] == 17


@pytest.mark.parametrize("user", ["member", "viewer"])
def test_usage_is_for_admins_only(api_client, project, user, request):
    response = api_client(request.getfixturevalue(user)).get(usage_url(project))
    assert response.status_code == 403


def test_usage_outsider_gets_404(api_client, outsider, project):
    assert api_client(outsider).get(usage_url(project)).status_code == 404


@pytest.mark.parametrize("days", ["0", "91", "many"])
def test_usage_rejects_bad_days(api_client, owner, project, days):
    response = api_client(owner).get(usage_url(project), {"days": days})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "days"


# --- the quota -------------------------------------------------------------------------------


def test_quota_check_passes_under_quota_and_raises_429_over_it(project):
    from projects.usage import QuotaExceeded, quota_check

    project.daily_token_quota = 100
    project.save(update_fields=["daily_token_quota"])
    make_usage(project, prompt=40, completion=50)
    make_usage(project, prompt=500, completion=500, when=timezone.now() - dt.timedelta(days=1))  # yesterday
    quota_check(project=project)  # 90 of 100: allowed
    make_usage(project, prompt=5, completion=5)
    with pytest.raises(QuotaExceeded) as caught:
        quota_check(project=project)
    exc = caught.value
    assert exc.status_code == 429 and exc.used == 100 and exc.quota == 100
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date()
    assert (
        exc.reset_at.date() == tomorrow
        and exc.reset_at.hour == 0
        and exc.reset_at.utcoffset() == dt.timedelta(0)
    )
    event = exc.as_event()
    assert event["code"] == "quota_exceeded" and event["reset_at"] == exc.reset_at.isoformat()
    assert exc.reset_at.isoformat() in event["detail"]


def test_no_quota_means_no_limit(project, settings):
    from projects.usage import quota_check

    settings.DEFAULT_DAILY_TOKEN_QUOTA = 0
    make_usage(project, prompt=10**6, completion=10**6)
    quota_check(project=project)


def test_platform_default_quota_applies_to_projects_without_their_own(project, other_project, settings):
    from projects.usage import QuotaExceeded, quota_check

    settings.DEFAULT_DAILY_TOKEN_QUOTA = 50
    other_project.daily_token_quota = 10_000
    other_project.save(update_fields=["daily_token_quota"])
    make_usage(project, prompt=30, completion=30)
    make_usage(other_project, prompt=30, completion=30)
    with pytest.raises(QuotaExceeded):
        quota_check(project=project)
    quota_check(project=other_project)


def test_quota_exceeded_renders_as_a_429_with_reset_time(api_client, owner, project):
    """Through a real view: the error shape of API.md, the code, and Retry-After."""
    from django.urls import path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from projects.tenancy import ProjectScopedMixin
    from projects.usage import quota_check

    class Generate(ProjectScopedMixin, APIView):
        def get(self, request, project_id):
            quota_check(project=self.project)
            return Response({"ok": True})

    project.daily_token_quota = 10
    project.save(update_fields=["daily_token_quota"])
    client = api_client(owner)
    urlconf = type("urls", (), {"urlpatterns": [path("q/<uuid:project_id>/", Generate.as_view())]})
    from django.test import override_settings

    with override_settings(ROOT_URLCONF=urlconf):
        assert client.get(f"/q/{project.id}/").status_code == 200
        make_usage(project, prompt=6, completion=6)
        response = client.get(f"/q/{project.id}/")
    assert response.status_code == 429
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "quota_exceeded" and body["errors"][0]["attr"] is None
    reset_at = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    assert reset_at in body["errors"][0]["detail"]
    assert 0 < int(response.headers["Retry-After"]) <= 86400


def test_dashboard_shows_quota_and_remaining(api_client, member, project):
    project.daily_token_quota = 1000
    project.save(update_fields=["daily_token_quota"])
    make_usage(project, prompt=100, completion=150)
    quota = api_client(member).get(dashboard_url(project)).json()["usage"]["quota"]
    assert (
        quota["daily_token_quota"] == 1000 and quota["used_today"] == 250 and quota["remaining_today"] == 750
    )
    assert quota["reset_at"].startswith((timezone.now() + dt.timedelta(days=1)).date().isoformat())


# --- the quota where generations start: REST messages, the chat socket, the agent runtime -----


def _over_quota(project) -> None:
    project.daily_token_quota = 10
    project.save(update_fields=["daily_token_quota"])
    make_usage(project, prompt=6, completion=6)


def test_rest_message_over_quota_is_429_and_stores_nothing(api_client, member, project):
    from agents.models import Message

    agent = make_agent(project)
    conversation = make_conversation(project, agent, messages=0)
    url = f"/api/projects/{project.id}/conversations/{conversation.id}/messages/"
    _over_quota(project)
    response = api_client(member).post(url, {"content": "hello"})
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "quota_exceeded"
    assert "Retry-After" in response.headers
    assert not Message.objects.filter(conversation=conversation).exists()


@pytest.mark.django_db(transaction=True)
def test_socket_message_over_quota_gets_an_error_event_with_reset_at(member, project, access_token):
    import json

    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from agents.models import Message
    from platform_site.asgi import application

    agent = make_agent(project)
    conversation = make_conversation(project, agent, messages=0)
    _over_quota(project)
    path = f"/ws/projects/{project.id}/conversations/{conversation.id}/?token={access_token(member)}"

    async def scenario() -> dict:
        comm = WebsocketCommunicator(application, path)
        assert (await comm.connect())[0]
        await comm.send_json_to({"type": "message.send", "content": "hello"})
        event = json.loads(await comm.receive_from(timeout=5))
        await comm.disconnect()
        return event

    event = async_to_sync(scenario)()
    assert event["type"] == "error" and event["code"] == "quota_exceeded"
    reset_at = dt.datetime.fromisoformat(event["reset_at"])
    assert reset_at > timezone.now() and reset_at.utcoffset() == dt.timedelta(0)
    assert event["reset_at"] in event["detail"]
    assert not Message.objects.filter(conversation=conversation).exists()


@pytest.mark.django_db(transaction=True)  # the runtime closes stale connections, as in a worker
def test_agent_turn_over_quota_fails_with_an_error_event(project):
    """A turn already queued when the quota ran out: it stops before generating, and says why."""
    import structlog

    from agents.models import ConversationEvent, Message
    from agents.services.runtime import turn_run

    agent = make_agent(project)
    conversation = make_conversation(project, agent, messages=0)
    inbound = Message.objects.create(conversation=conversation, role="user", content="hi", status="queued")
    _over_quota(project)
    # The turn's log lines carry its ids while it runs (seen from the quota check inside it) ...
    from unittest import mock

    import agents.services.runtime as runtime
    from projects.usage import quota_check

    bound: dict = {}

    def quota_check_seeing_the_log_context(**kwargs):
        bound.update(structlog.contextvars.get_contextvars())
        return quota_check(**kwargs)

    structlog.contextvars.clear_contextvars()
    with mock.patch.object(runtime, "quota_check", quota_check_seeing_the_log_context):
        answer = turn_run(conversation=conversation, inbound=inbound)
    assert bound["project_id"] == str(project.id) and bound["conversation_id"] == str(conversation.id)
    assert bound["message_id"] == str(inbound.id)
    # ... and not after it: the next task on this worker thread starts clean.
    assert not {"project_id", "conversation_id", "message_id"} & set(structlog.contextvars.get_contextvars())
    assert answer.status == Message.Status.FAILED and answer.error.startswith("quota_exceeded")
    errors = ConversationEvent.objects.filter(conversation=conversation, type="error")
    assert [e.payload["code"] for e in errors] == ["quota_exceeded"]
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    assert tomorrow in errors[0].payload["detail"]
