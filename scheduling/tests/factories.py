import datetime as dt

import factory
from django.utils import timezone

from agents.tests.factories import AgentFactory
from scheduling import services
from scheduling.models import Schedule


class ScheduleFactory(factory.django.DjangoModelFactory):
    """A schedule made through `schedule_create`, so it has its PeriodicTask."""

    class Meta:
        model = Schedule

    agent = factory.SubFactory(AgentFactory)
    project = factory.LazyAttribute(lambda o: o.agent.project)
    name = factory.Sequence(lambda n: f"Schedule {n}")
    kind = Schedule.Kind.CRON
    cron = "0 9 * * 1-5"
    interval_seconds = None
    run_at = None
    timezone = "UTC"
    message = "Summarise the day in one sentence."
    enabled = True
    created_by = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.schedule_create(**kwargs)


def in_future(**delta) -> dt.datetime:
    return timezone.now() + dt.timedelta(**(delta or {"hours": 1}))
