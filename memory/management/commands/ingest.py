"""`manage.py ingest PATH... --project ID [--glob PATTERN]`: files and folders into a project's memory.

The same pipeline as an upload (document_upload, then document_ingest), run in this process;
the embeddings are made by the inference worker, which must be running.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import ValidationError
from tqdm import tqdm

from memory.extraction import detect_mime_type
from memory.ingestion import document_ingest
from memory.models import DocumentStatus
from memory.services import document_upload


class Command(BaseCommand):
    help = "Ingest files and folders into a project's memory, with a progress bar and a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="Files and folders (folders are walked recursively).")
        parser.add_argument("--project", required=True, help="The project's id (UUID).")
        parser.add_argument(
            "--glob",
            default="*",
            help="Which files of a folder to take, e.g. '*.md' or 'docs/**/*.txt' (default: all). "
            "Files named directly are always taken.",
        )
        parser.add_argument("--uploader", help="Email of the user recorded as the uploader (optional).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        from accounts.models import User
        from projects.models import Project

        project = Project.objects.filter(pk=_uuid(options["project"])).first()
        if project is None:
            raise CommandError(f"No project with id {options['project']}.")
        uploader = None
        if options["uploader"]:
            uploader = User.objects.filter(email__iexact=options["uploader"]).first()
            if uploader is None:
                raise CommandError(f"No user with email {options['uploader']}.")

        files = _collect(options["paths"], options["glob"])
        if not files:
            raise CommandError("No files found.")
        started = time.monotonic()
        summary = {"files": len(files), "ready": 0, "chunks": 0, "skipped": 0, "failed": 0}
        failures: list[tuple[Path, str]] = []
        bar = tqdm(total=len(files), unit="file", disable=options["no_progress"], dynamic_ncols=True)
        for path in files:
            bar.set_description(path.name[:40])
            outcome, chunks, reason = self._ingest_one(path, project=project, uploader=uploader)
            summary[outcome] += 1
            summary["chunks"] += chunks
            if outcome == "failed":
                failures.append((path, reason))
                bar.write(f"failed: {path}: {reason}")
            elif outcome == "skipped" and options["verbosity"] > 1:
                bar.write(f"skipped: {path}: {reason}")
            bar.set_postfix(chunks=summary["chunks"], failed=summary["failed"])
            bar.update(1)
        bar.close()
        elapsed = time.monotonic() - started
        rate = summary["chunks"] / elapsed if elapsed > 0 else 0.0
        self.stdout.write(
            f"files: {summary['files']}, ingested: {summary['ready']}, chunks: {summary['chunks']}, "
            f"skipped: {summary['skipped']}, failed: {summary['failed']}, "
            f"time: {elapsed:.1f} s ({rate:.1f} chunks/s)"
        )
        if failures:
            raise CommandError(f"{len(failures)} file(s) failed; see the reasons above.")

    def _ingest_one(self, path: Path, *, project: Any, uploader: Any) -> tuple[str, int, str]:
        """('ready' | 'skipped' | 'failed', chunks stored, reason)."""
        mime_type = detect_mime_type(path.name)
        if mime_type not in settings.MEMORY_ACCEPTED_TYPES:
            return "skipped", 0, f"type {mime_type} is not accepted"
        try:
            with path.open("rb") as handle:
                document, created = document_upload(
                    project=project,
                    file=File(handle, name=path.name),
                    filename=path.name,
                    uploaded_by=uploader,
                    enqueue=False,
                )
        except ValidationError as exc:
            detail = exc.detail.get("file", exc.detail) if isinstance(exc.detail, dict) else exc.detail
            return "failed", 0, " ".join(str(d) for d in detail) if isinstance(detail, list) else str(detail)
        except OSError as exc:
            return "failed", 0, f"cannot read the file ({exc.strerror or exc})"
        if not created and document.status == DocumentStatus.READY:
            return "skipped", 0, f"already ingested as document {document.pk}"
        if not created and document.status == DocumentStatus.PROCESSING:
            return "skipped", 0, f"document {document.pk} is being ingested right now"
        result = document_ingest(document_id=document.pk)
        if result.status == DocumentStatus.READY:
            return "ready", result.chunks, ""
        return "failed", 0, result.error or "ingestion failed"


def _uuid(value: str) -> Any:
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"--project must be a project id (UUID), not {value!r}.") from None


def _collect(paths: list[str], pattern: str) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            candidates = [path]
        elif path.is_dir():
            candidates = sorted(p for p in path.rglob(pattern) if p.is_file())
        else:
            raise CommandError(f"{raw}: no such file or folder.")
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(candidate)
    return files
