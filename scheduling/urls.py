from django.urls import path

from . import api

app_name = "scheduling"

P = "projects/<uuid:project_id>/"
schedules = api.ScheduleViewSet.as_view({"get": "list", "post": "create"})
schedule = api.ScheduleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
run_now = api.ScheduleViewSet.as_view({"post": "run_now"})

urlpatterns = [
    path(f"{P}schedules/", schedules, name="schedule-list"),
    path(f"{P}schedules/<uuid:schedule_id>/", schedule, name="schedule-detail"),
    path(f"{P}schedules/<uuid:schedule_id>/runs/", api.ScheduleRunListView.as_view(), name="schedule-runs"),
    path(f"{P}schedules/<uuid:schedule_id>/run-now/", run_now, name="schedule-run-now"),
]
