"""The admin: schedules and runs readable by superusers; platform PeriodicTasks marked managed."""

import pytest
from django.test import Client
from django.utils import timezone

from scheduling import services
from scheduling.models import Schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_schedules_and_runs_are_listed_searchable_and_read_only(admin_client_, schedule):
    run = services.schedule_fire(schedule_id=schedule.pk, now=timezone.now())
    response = admin_client_.get("/admin/scheduling/schedule/", {"q": "Morning"})
    assert response.status_code == 200 and b"Morning report" in response.content
    assert b"0 9 * * 1-5" in response.content  # the timing column
    assert (
        admin_client_.get("/admin/scheduling/schedule/", {"q": "nothing-like-it"}).content.count(
            b"Morning report"
        )
        == 0
    )
    detail = admin_client_.get(f"/admin/scheduling/schedule/{schedule.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content  # view only
    assert admin_client_.get("/admin/scheduling/schedule/add/").status_code == 403
    runs = admin_client_.get("/admin/scheduling/schedulerun/", {"status__exact": "running"})
    assert runs.status_code == 200 and str(run.planned_for.year).encode() in runs.content
    assert admin_client_.get(f"/admin/scheduling/schedulerun/{run.pk}/delete/").status_code == 403


def test_disable_action_goes_through_the_service(admin_client_, schedule):
    response = admin_client_.post(
        "/admin/scheduling/schedule/",
        {"action": "disable_schedules", "_selected_action": [str(schedule.pk)]},
    )
    assert response.status_code == 302
    schedule = Schedule.objects.select_related("periodic_task").get(pk=schedule.pk)
    assert not schedule.enabled and not schedule.periodic_task.enabled


def test_platform_periodic_tasks_are_marked_and_warned_about(admin_client_, schedule):
    listing = admin_client_.get("/admin/django_celery_beat/periodictask/", {"managed": "yes"})
    assert listing.status_code == 200 and schedule.periodic_task.name.encode() in listing.content
    assert b"managed by the platform" in listing.content
    assert (
        schedule.periodic_task.name.encode()
        not in admin_client_.get("/admin/django_celery_beat/periodictask/", {"managed": "no"}).content
    )
    page = admin_client_.get(f"/admin/django_celery_beat/periodictask/{schedule.periodic_task_id}/change/")
    assert page.status_code == 200
    assert f"managed by the platform (schedule {schedule.pk})".encode() in page.content


def test_members_cannot_reach_the_admin(schedule, owner):
    client = Client()
    client.force_login(owner)
    assert client.get("/admin/scheduling/schedule/").status_code == 302  # to the login page
