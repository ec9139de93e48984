"""The Celery application: a `default` queue and an `inference` queue for the GPU worker."""

import os

from celery import Celery
from celery.signals import setup_logging
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")

app = Celery("platform_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (
    Queue("default", routing_key="default"),
    Queue("inference", routing_key="inference"),
)
app.conf.task_default_queue = "default"
app.conf.task_routes = {"inference.tasks.*": {"queue": "inference"}}
app.autodiscover_tasks()

# Logs: the request id travels with each task (django-structlog); metrics: each task's queue wait.
from django_structlog.celery.steps import DjangoStructLogInitStep  # noqa: E402

from platform_site.metrics import connect_celery_signals  # noqa: E402

app.steps["worker"].add(DjangoStructLogInitStep)
connect_celery_signals()


@setup_logging.connect
def use_the_platform_logging(loglevel: int | str | None = None, **_kwargs: object) -> None:
    """Workers and beat log like the web process (settings.LOGGING: JSON lines, secrets redacted)
    instead of Celery's own format, at the level given with `--loglevel`."""
    import logging
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
