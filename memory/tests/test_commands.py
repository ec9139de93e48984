"""`manage.py ingest` and `manage.py reembed_memory`, with the real model through a real inference worker."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from memory.models import Document, MemoryEntry
from memory.selectors import memory_search
from memory.tests import samples

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "data" / "documents"


def summary(text: str) -> dict[str, int]:
    line = next(line for line in text.splitlines() if line.startswith("files:"))
    return {key: int(value) for key, value in re.findall(r"(\w+): (\d+)(?!\.)", line)}


@pytest.fixture
def folder(tmp_path) -> Path:
    """The stored samples (one of every accepted type), a corrupt PDF and a type we don't take."""
    target = tmp_path / "docs"
    shutil.copytree(SAMPLES, target)
    (target / "nested").mkdir()
    (target / "nested" / "broken.pdf").write_bytes(samples.make_corrupt_pdf())
    (target / "nested" / "archive.zip").write_bytes(b"PK\x03\x04")
    return target


def test_the_stored_samples_cover_every_accepted_type(settings):
    from memory.extraction import detect_mime_type

    assert {detect_mime_type(p.name) for p in SAMPLES.iterdir()} == set(settings.MEMORY_ACCEPTED_TYPES)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("inference_worker")
def test_ingest_a_folder_then_again(folder, project):
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 file"):
        call_command("ingest", str(folder), "--project", str(project.pk), "--no-progress", stdout=out)
    first = summary(out.getvalue())
    assert first["files"] == 7
    assert (first["ingested"], first["skipped"], first["failed"]) == (5, 1, 1)
    assert first["chunks"] == MemoryEntry.objects.filter(project=project).count() >= 5
    assert set(Document.objects.filter(project=project).values_list("filename", "status")) == {
        ("lighthouse.txt", "ready"),
        ("sourdough.md", "ready"),
        ("volcano.html", "ready"),
        ("plants.pdf", "ready"),
        ("bicycle.docx", "ready"),
        ("broken.pdf", "failed"),
    }
    [hit] = memory_search(project=project, query="How do I feed a sourdough starter?", k=1)
    assert hit["document_name"] == "sourdough.md"

    out = io.StringIO()
    with pytest.raises(CommandError):  # the broken PDF is tried again and fails again
        call_command("ingest", str(folder), "--project", str(project.pk), "--no-progress", stdout=out)
    again = summary(out.getvalue())
    assert (again["ingested"], again["chunks"], again["skipped"], again["failed"]) == (0, 0, 6, 1)
    assert Document.objects.filter(project=project).count() == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("inference_worker")
def test_ingest_with_a_glob_and_a_single_file(folder, project):
    out = io.StringIO()
    call_command(
        "ingest", str(folder), str(folder / "plants.pdf"), "--project", str(project.pk), "--glob", "*.md",
        "--no-progress", stdout=out,
    )  # fmt: skip
    result = summary(out.getvalue())
    assert (result["files"], result["ingested"], result["failed"]) == (2, 2, 0)
    assert set(Document.objects.values_list("filename", flat=True)) == {"sourdough.md", "plants.pdf"}


@pytest.mark.django_db
def test_ingest_refuses_an_unknown_project_or_path(project, tmp_path):
    with pytest.raises(CommandError, match="No project"):
        call_command("ingest", str(SAMPLES), "--project", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(CommandError, match="UUID"):
        call_command("ingest", str(SAMPLES), "--project", "acme")
    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest", str(tmp_path / "missing"), "--project", str(project.pk))


@pytest.mark.django_db
def test_reembed_refuses_a_model_that_does_not_fit():
    with pytest.raises(CommandError, match="Unknown embedding model"):
        call_command("reembed_memory", "--model", "smollm2-135m-instruct")


@pytest.mark.django_db
def test_reembed_dry_run_counts_stale_entries(project):
    from memory.tests.factories import MemoryEntryFactory

    MemoryEntryFactory(project=project, embedding_model="old-model")
    MemoryEntryFactory(project=project)
    out = io.StringIO()
    call_command("reembed_memory", "--dry-run", stdout=out)
    assert out.getvalue().startswith("1 entries to embed with all-minilm-l6-v2")
    assert MemoryEntry.objects.filter(embedding_model="old-model").count() == 1
