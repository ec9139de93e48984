"""REST for schedules, runs and run-now: roles, tenancy, validation, query counts."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from agents.models import Agent
from agents.services import agent_update
from scheduling import services
from scheduling.models import Schedule, ScheduleRun
from scheduling.tests.factories import ScheduleFactory

pytestmark = pytest.mark.django_db


def list_url(project):
    return f"/api/projects/{project.pk}/schedules/"


def detail_url(schedule, project=None):
    return f"/api/projects/{(project or schedule.project).pk}/schedules/{schedule.pk}/"


def payload(agent_, **over):
    body = {
        "agent": str(agent_.pk),
        "name": "Weekday digest",
        "kind": "cron",
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
        "message": "Write the digest.",
    }
    body.update(over)
    return body


def assert_error(response, status: int, attr: str | None):
    assert response.status_code == status, response.json()
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert attr in [e["attr"] for e in body["errors"]], body
    return body


# --- create -----------------------------------------------------------------------------------


class TestCreate:
    def test_admin_creates_a_cron_schedule_with_a_human_reading(self, api_client, project, owner, agent):
        response = api_client(owner).post(list_url(project), payload(agent), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["cron_description"] and "09:00" in body["cron_description"]
        assert "Monday through Friday" in body["cron_description"]
        assert body["timezone"] == "Europe/Berlin" and body["enabled"] is True
        next_run = dt.datetime.fromisoformat(body["next_run_at"])
        assert next_run > timezone.now()
        assert body["next_run_local"].endswith(("+01:00", "+02:00"))
        assert dt.datetime.fromisoformat(body["next_run_local"]).hour == 9
        schedule = Schedule.objects.get(pk=body["id"])
        assert schedule.created_by == owner and schedule.periodic_task.enabled

    def test_interval_and_once(self, api_client, project, owner, agent):
        client = api_client(owner)
        response = client.post(
            list_url(project),
            payload(agent, name="every 5", kind="interval", cron="", interval_seconds=300),
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["cron_description"] is None
        # a one-off without a zone is read in the schedule's time zone
        when = (timezone.now() + dt.timedelta(days=2)).astimezone(
            dt.timezone(dt.timedelta(hours=5, minutes=30))
        )
        naive = when.replace(tzinfo=None, microsecond=0).isoformat()
        response = client.post(
            list_url(project),
            payload(agent, name="once", kind="once", cron="", run_at=naive, timezone="Asia/Kolkata"),
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert dt.datetime.fromisoformat(response.json()["run_at"]) == when.replace(microsecond=0)

    @pytest.mark.parametrize(
        ("over", "attr"),
        [
            ({"cron": "0 25 * * *"}, "cron"),
            ({"cron": "every monday"}, "cron"),
            ({"cron": ""}, "cron"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"kind": "once", "cron": "", "run_at": "2020-01-01T09:00:00Z"}, "run_at"),
            ({"kind": "once", "cron": ""}, "run_at"),
            ({"kind": "interval", "cron": "", "interval_seconds": 5}, "interval_seconds"),
            ({"kind": "weekly"}, "kind"),
            ({"message": ""}, "message"),
            ({"name": ""}, "name"),
            ({"agent": "00000000-0000-0000-0000-000000000000"}, "agent"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, api_client, project, owner, agent, over, attr):
        response = api_client(owner).post(list_url(project), payload(agent, **over), format="json")
        assert_error(response, 400, attr)
        assert not Schedule.objects.exists()
        assert not PeriodicTask.objects.filter(task="scheduling.fire").exists()

    def test_an_agent_of_another_project_cannot_be_scheduled(
        self, api_client, project, owner, agent, other_agent
    ):
        response = api_client(owner).post(list_url(project), payload(other_agent), format="json")
        body = assert_error(response, 400, "agent")
        assert str(other_agent.pk) not in str(body)
        assert not Schedule.objects.exists()

    def test_duplicate_name_is_a_400(self, api_client, project, owner, agent):
        client = api_client(owner)
        assert client.post(list_url(project), payload(agent), format="json").status_code == 201
        assert_error(client.post(list_url(project), payload(agent), format="json"), 400, "name")

    def test_member_and_viewer_cannot_create(self, api_client, project, member, viewer, agent):
        for user in (member, viewer):
            assert_error(api_client(user).post(list_url(project), payload(agent), format="json"), 403, None)
        assert not Schedule.objects.exists()

    def test_outsider_gets_404(self, api_client, project, outsider, agent):
        assert_error(api_client(outsider).post(list_url(project), payload(agent), format="json"), 404, None)

    def test_anonymous_gets_401(self, anon_client, project, agent):
        assert anon_client.post(list_url(project), payload(agent), format="json").status_code == 401


# --- read -------------------------------------------------------------------------------------


class TestRead:
    def test_every_member_reads(self, api_client, project, owner, member, viewer, schedule):
        for user in (owner, member, viewer):
            response = api_client(user).get(list_url(project))
            assert response.status_code == 200
            assert [s["id"] for s in response.json()["results"]] == [str(schedule.pk)]
            detail = api_client(user).get(detail_url(schedule))
            assert detail.status_code == 200 and detail.json()["name"] == "Morning report"

    def test_superuser_reads(self, api_client, project, superuser, schedule):
        assert api_client(superuser).get(detail_url(schedule)).status_code == 200

    def test_outsider_gets_404(self, api_client, project, outsider, schedule):
        assert_error(api_client(outsider).get(list_url(project)), 404, None)
        assert_error(api_client(outsider).get(detail_url(schedule)), 404, None)

    def test_a_schedule_of_another_project_is_404_through_this_project(
        self, api_client, project, other_project, owner, outsider, other_agent
    ):
        theirs = ScheduleFactory(agent=other_agent, name="theirs")
        assert_error(api_client(owner).get(detail_url(theirs, project=project)), 404, None)
        assert_error(api_client(outsider).get(detail_url(theirs, project=project)), 404, None)
        assert api_client(owner).get(list_url(project)).json()["results"] == []

    def test_list_query_count(
        self, api_client, project, owner, agent, other_agent, django_assert_num_queries
    ):
        for i in range(6):
            ScheduleFactory(agent=agent, name=f"s{i}")
        ScheduleFactory(agent=other_agent, name="elsewhere")
        client = api_client(owner)
        # 1 user (JWT), 2 membership + project (tenant gate), 3 count, 4 the page with its agents
        with django_assert_num_queries(4):
            response = client.get(list_url(project))
        assert response.json()["count"] == 6


# --- update and delete ------------------------------------------------------------------------


class TestUpdate:
    def test_admin_changes_timing_and_the_task_follows(self, api_client, owner, schedule):
        response = api_client(owner).patch(
            detail_url(schedule), {"cron": "*/30 8-18 * * *", "timezone": "America/New_York"}, format="json"
        )
        assert response.status_code == 200, response.json()
        assert "30 minutes" in response.json()["cron_description"]
        crontab = PeriodicTask.objects.get(pk=schedule.periodic_task_id).crontab
        assert (crontab.minute, crontab.hour, str(crontab.timezone)) == ("*/30", "8-18", "America/New_York")

    def test_disable_through_patch(self, api_client, owner, schedule):
        response = api_client(owner).patch(detail_url(schedule), {"enabled": False}, format="json")
        assert response.status_code == 200 and response.json()["next_run_at"] is None
        assert not PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled

    def test_bad_patch_is_a_400_and_changes_nothing(self, api_client, owner, schedule):
        for body, attr in (({"cron": "0 9 * *"}, "cron"), ({"timezone": "Nowhere/City"}, "timezone")):
            assert_error(api_client(owner).patch(detail_url(schedule), body, format="json"), 400, attr)
        schedule.refresh_from_db()
        assert schedule.cron == "0 9 * * 1-5" and schedule.timezone == "UTC"
        assert PeriodicTask.objects.get(pk=schedule.periodic_task_id).crontab.hour == "9"

    def test_moving_to_another_projects_agent_is_a_400(self, api_client, owner, schedule, other_agent):
        response = api_client(owner).patch(
            detail_url(schedule), {"agent": str(other_agent.pk)}, format="json"
        )
        assert_error(response, 400, "agent")

    def test_member_and_viewer_get_403(self, api_client, member, viewer, schedule):
        for user in (member, viewer):
            assert_error(
                api_client(user).patch(detail_url(schedule), {"enabled": False}, format="json"), 403, None
            )
            assert_error(api_client(user).delete(detail_url(schedule)), 403, None)
        assert Schedule.objects.get(pk=schedule.pk).enabled

    def test_outsider_gets_404(self, api_client, outsider, schedule):
        assert_error(
            api_client(outsider).patch(detail_url(schedule), {"enabled": False}, format="json"), 404, None
        )
        assert_error(api_client(outsider).delete(detail_url(schedule)), 404, None)

    def test_put_is_not_a_route(self, api_client, owner, schedule):
        assert api_client(owner).put(detail_url(schedule), {}, format="json").status_code == 405

    def test_admin_deletes_and_the_task_goes(self, api_client, owner, schedule):
        task_id = schedule.periodic_task_id
        assert api_client(owner).delete(detail_url(schedule)).status_code == 204
        assert not Schedule.objects.filter(pk=schedule.pk).exists()
        assert not PeriodicTask.objects.filter(pk=task_id).exists()


# --- runs and run-now -------------------------------------------------------------------------


def runs_url(schedule):
    return detail_url(schedule) + "runs/"


def run_now_url(schedule):
    return detail_url(schedule) + "run-now/"


WEEKDAY_0905 = dt.datetime(2026, 5, 4, 9, 5, tzinfo=dt.UTC)  # a Monday


class TestRuns:
    def test_members_read_runs_newest_first(self, api_client, owner, member, viewer, schedule):
        # Fixed weekdays: the schedule runs at 09:00 on weekdays, and each fire needs its own slot.
        first = services.schedule_fire(schedule_id=schedule.pk, now=WEEKDAY_0905)
        services.schedule_run_finish(run=first, answer=None, error="boom")
        second = services.schedule_fire(schedule_id=schedule.pk, now=WEEKDAY_0905 + dt.timedelta(days=1))
        for user in (owner, member, viewer):
            response = api_client(user).get(runs_url(schedule))
            assert response.status_code == 200
            results = response.json()["results"]
            assert [r["id"] for r in results] == [str(second.pk), str(first.pk)]
            assert results[1]["status"] == "failed" and results[1]["error"] == "boom"
            assert results[0]["status"] == "running" and results[0]["trigger"] == "beat"

    def test_outsider_gets_404(self, api_client, outsider, schedule):
        assert_error(api_client(outsider).get(runs_url(schedule)), 404, None)

    def test_a_schedule_of_another_project_is_404(self, api_client, owner, project, other_agent):
        theirs = ScheduleFactory(agent=other_agent, name="theirs")
        assert_error(api_client(owner).get(detail_url(theirs, project=project) + "runs/"), 404, None)

    def test_runs_query_count(self, api_client, owner, schedule, django_assert_num_queries):
        for day in range(5):  # Monday to Friday: five slots of the weekday schedule
            run = services.schedule_fire(schedule_id=schedule.pk, now=WEEKDAY_0905 + dt.timedelta(days=day))
            services.schedule_run_finish(run=run, answer=None, error="x")
        client = api_client(owner)
        # 1 user (JWT), 2 membership + project (gate), 3 the schedule in this project,
        # 4 count, 5 the page of runs with their messages
        with django_assert_num_queries(5):
            response = client.get(runs_url(schedule))
        assert response.json()["count"] == 5


class TestRunNow:
    def test_admin_queues_a_run_202(self, api_client, owner, schedule, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api_client(owner).post(run_now_url(schedule))
        assert response.status_code == 202, response.json()
        body = response.json()
        assert body["status"] == "queued" and body["trigger"] == "manual"
        assert ScheduleRun.objects.get(pk=body["id"]).requested_by == owner
        assert len(callbacks) == 1

    def test_a_second_run_now_while_one_is_queued_is_a_409(
        self, api_client, owner, schedule, django_capture_on_commit_callbacks
    ):
        client = api_client(owner)
        with django_capture_on_commit_callbacks(execute=False):
            assert client.post(run_now_url(schedule)).status_code == 202
            response = client.post(run_now_url(schedule))
        body = assert_error(response, 409, None)
        assert body["errors"][0]["code"] == "run_in_progress"
        assert ScheduleRun.objects.count() == 1

    def test_a_paused_agent_is_a_409(self, api_client, owner, schedule, agent):
        agent_update(agent=agent, status=Agent.Status.PAUSED)
        body = assert_error(api_client(owner).post(run_now_url(schedule)), 409, None)
        assert body["errors"][0]["code"] == "agent_paused"
        assert not ScheduleRun.objects.exists()

    def test_member_and_viewer_get_403(self, api_client, member, viewer, schedule):
        for user in (member, viewer):
            assert_error(api_client(user).post(run_now_url(schedule)), 403, None)
        assert not ScheduleRun.objects.exists()

    def test_outsider_gets_404(self, api_client, outsider, schedule):
        assert_error(api_client(outsider).post(run_now_url(schedule)), 404, None)
        assert not ScheduleRun.objects.exists()
