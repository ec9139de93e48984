"""The shared worker fixtures (tests/fixtures/workers.py) start real workers that run tasks."""

import pytest

from platform_site.celery import app


@pytest.mark.django_db(transaction=True)
def test_default_worker_runs_tasks_of_the_default_queue(default_worker):
    assert default_worker.alive
    result = app.send_task("celery.accumulate", args=[1, 2], queue="default")
    assert result.get(timeout=60) == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_inference_worker_serves_only_its_queue(inference_worker):
    assert inference_worker.alive
    assert inference_worker.queues == ["inference"]
    assert " ready." in inference_worker.log()
