"""Documents whose ingestion was lost: the worker died while `processing` (they end `failed`
with the reason, and uploading the file again retries them), or the task vanished while
`pending` (they are queued again and a real worker ingests them). Celery beat runs the reaper
every minute."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.utils import timezone

from memory.models import Document, DocumentStatus, MemoryEntry
from memory.services import STALE_PROCESSING_REASON, document_upload, stale_documents_reap


def upload(project, member, text: str, name: str) -> Document:
    document, created = document_upload(
        project=project, file=ContentFile(text.encode(), name=name), filename=name,
        uploaded_by=member, enqueue=False,
    )  # fmt: skip
    assert created
    return document


def set_state(document: Document, status: str, *, minutes_ago: float, error: str = "") -> None:
    Document.objects.filter(pk=document.pk).update(
        status=status, error=error, updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_beat_runs_the_reaper_every_minute():
    entries = {e["task"]: e["schedule"] for e in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["memory.tasks.stale_documents_reap"] == 60.0


@pytest.mark.django_db
def test_a_document_whose_worker_died_fails_with_the_reason_and_a_new_upload_retries_it(
    project, member, settings
):
    settings.MEMORY_INGEST_STALE_SECONDS = 600
    stuck = upload(project, member, "Tides rise twice a day.", "tides.txt")
    busy = upload(project, member, "Owls hunt at night.", "owls.txt")
    done = upload(project, member, "Comets have tails.", "comets.txt")
    broken = upload(project, member, "Bees dance.", "bees.txt")
    set_state(stuck, DocumentStatus.PROCESSING, minutes_ago=11)
    set_state(busy, DocumentStatus.PROCESSING, minutes_ago=9)  # a live ingestion, just slow
    set_state(done, DocumentStatus.READY, minutes_ago=60)
    set_state(broken, DocumentStatus.FAILED, minutes_ago=60, error="Not a PDF.")

    assert stale_documents_reap() == {"failed": 1, "requeued": 0}
    for document in (stuck, busy, done, broken):
        document.refresh_from_db()
    assert stuck.status == DocumentStatus.FAILED and stuck.error == STALE_PROCESSING_REASON
    assert busy.status == DocumentStatus.PROCESSING and not busy.error
    assert done.status == DocumentStatus.READY
    assert broken.status == DocumentStatus.FAILED and broken.error == "Not a PDF."
    assert stale_documents_reap() == {"failed": 0, "requeued": 0}  # nothing twice

    again, created = document_upload(
        project=project, file=ContentFile(b"Tides rise twice a day.", name="tides.txt"),
        filename="tides.txt", uploaded_by=member, enqueue=False,
    )  # fmt: skip
    assert not created and again.pk == stuck.pk
    assert again.status == DocumentStatus.PENDING and again.error == ""


@pytest.mark.django_db(transaction=True)
def test_a_pending_document_whose_task_was_lost_is_queued_again_and_ingested(
    inference_worker, default_worker, worker_media_root, project, member, settings
):
    settings.MEMORY_INGEST_STALE_SECONDS = 600
    # Uploaded with no task queued, and left waiting: as if the broker had lost the task.
    lost = upload(project, member, "Glaciers carve valleys over thousands of years.", "glaciers.txt")
    fresh = upload(project, member, "Trains run on rails.", "trains.txt")
    set_state(lost, DocumentStatus.PENDING, minutes_ago=15)

    assert stale_documents_reap() == {"failed": 0, "requeued": 1}
    deadline = time.monotonic() + 120
    while Document.objects.get(pk=lost.pk).status != DocumentStatus.READY:
        assert time.monotonic() < deadline, Document.objects.get(pk=lost.pk).error
        time.sleep(0.2)
    assert MemoryEntry.objects.filter(document=lost).count() >= 1
    fresh.refresh_from_db()
    assert fresh.status == DocumentStatus.PENDING  # not stale yet: left alone
    assert stale_documents_reap() == {"failed": 0, "requeued": 0}
