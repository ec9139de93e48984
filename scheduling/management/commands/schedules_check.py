"""Find (and with --repair, fix) drift between Schedules and their beat PeriodicTasks.

Drift: a schedule whose PeriodicTask is missing or differs (timing, time zone, enabled, task,
args, queue); a platform PeriodicTask that no schedule owns (orphaned). Exit status 1 when
drift is found and not repaired, so that a cron job or a health probe can alert on it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scheduling import bridge, services
from scheduling.selectors import unscoped_schedules_all


class Command(BaseCommand):
    help = "Check that every schedule's django-celery-beat PeriodicTask matches it; --repair fixes drift."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Recreate, correct or delete what drifted.")

    def handle(self, *args, repair: bool = False, **options):
        checked = drifted = 0
        for schedule in unscoped_schedules_all().iterator(chunk_size=500):
            checked += 1
            problems = bridge.schedule_drift(schedule)
            if not problems:
                continue
            drifted += 1
            self.stdout.write(f"schedule {schedule.pk} ({schedule.name}): " + "; ".join(problems))
            if repair:
                services.schedule_repair(schedule=schedule)
                self.stdout.write("  repaired")
        orphans = list(bridge.orphaned_periodic_tasks())
        for task in orphans:
            self.stdout.write(f"periodic task {task.pk} ({task.name}): orphaned, no schedule owns it")
            if repair:
                services.periodic_task_orphan_delete(task_id=task.pk)
                self.stdout.write("  deleted")
        summary = f"{checked} schedules checked, {drifted} drifted, {len(orphans)} orphaned periodic tasks"
        if (drifted or orphans) and not repair:
            raise CommandError(summary + " (run with --repair to fix)")
        self.stdout.write(summary + (" (repaired)" if drifted or orphans else ""))
