"""Schedules and runs, readable by superusers; writes go through the services (so that the
PeriodicTask follows), here as the enable/disable actions. django-celery-beat's PeriodicTask
admin is re-registered to mark the rows the platform manages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from . import bridge, services
from .models import Schedule, ScheduleRun

MANAGED_WARNING = (
    "This periodic task is managed by the platform (schedule {schedule}). Change the schedule "
    "instead, in the API or the Schedules admin: edits made here are drift, and "
    "`manage.py schedules_check --repair` reverts them."
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Schedule)
class ScheduleAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "project",
        "agent",
        "kind",
        "timing",
        "timezone",
        "enabled",
        "next_run_at",
        "last_run_at",
    )
    list_filter = ("kind", "enabled")
    search_fields = ("name", "project__name", "agent__name", "message", "id")
    list_select_related = ("project", "agent")
    actions = ("enable_schedules", "disable_schedules")

    @admin.display(description="timing")
    def timing(self, obj: Schedule) -> str:
        if obj.kind == Schedule.Kind.CRON:
            return obj.cron
        if obj.kind == Schedule.Kind.INTERVAL:
            return f"every {obj.interval_seconds} s"
        return f"at {obj.run_at:%Y-%m-%d %H:%M:%S %Z}" if obj.run_at else ""

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and obj is None  # the actions need it; the form stays read-only

    @admin.action(description="Enable the selected schedules")
    def enable_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset:
            try:
                services.schedule_enable(schedule=schedule)
            except Exception as exc:  # noqa: BLE001 - shown to the admin
                self.message_user(request, f"{schedule}: {exc}", messages.ERROR)

    @admin.action(description="Disable the selected schedules")
    def disable_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset:
            services.schedule_disable(schedule=schedule)


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "project", "trigger", "status", "planned_for", "started_at", "finished_at")
    list_filter = ("status", "trigger")
    search_fields = ("schedule__name", "schedule__project__name", "error", "id")
    list_select_related = ("schedule", "schedule__project")
    date_hierarchy = "planned_for"

    @admin.display(description="project")
    def project(self, obj: ScheduleRun):
        return obj.schedule.project


class ManagedFilter(admin.SimpleListFilter):
    title = "managed by the platform"
    parameter_name = "managed"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        managed = queryset.filter(task=bridge.FIRE_TASK)
        if self.value() == "yes":
            return managed
        if self.value() == "no":
            return queryset.exclude(pk__in=managed.values("pk"))
        return queryset


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    """django-celery-beat's admin, with the platform's rows marked and a warning on them."""

    list_display = ("name", "managed_by_platform", *BeatPeriodicTaskAdmin.list_display[1:])
    list_filter = (ManagedFilter, *BeatPeriodicTaskAdmin.list_filter)

    @admin.display(boolean=True, description="managed by the platform")
    def managed_by_platform(self, obj: PeriodicTask) -> bool:
        return obj.task == bridge.FIRE_TASK

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id and request.method == "GET":
            task = PeriodicTask.objects.filter(pk=object_id).first()
            if task is not None and task.task == bridge.FIRE_TASK:
                schedule = Schedule.objects.filter(periodic_task=task).values_list("pk", flat=True).first()
                messages.warning(request, MANAGED_WARNING.format(schedule=schedule or "none: orphaned"))
        return super().changeform_view(request, object_id, form_url, extra_context)
