#!/usr/bin/env python
"""Ingestion benchmark: chunks stored per second end to end, against raw llama.cpp embedding.

    .venv/bin/python bench/ingestion.py                          # the repository's README and samples
    .venv/bin/python bench/ingestion.py /usr/share/doc/nodejs --glob '*.md'

In one run:
1. creates a separate database (`bench_ingest`; dropped at the end unless --keep), migrates it,
   and starts a real inference worker (Celery queue `inference`, solo pool, the default
   embedding model) on it, on a Redis DB of its own (--redis-db);
2. END TO END: every file goes through the production pipeline, exactly as `manage.py ingest`
   runs it: document_upload (hash, storage) → document_ingest (extract, chunk, embed in batches
   of MEMORY_EMBED_BATCH_SIZE on the worker through Celery, one bulk insert); chunks stored / s;
3. RAW: the chunk texts each document stored, embedded in-process with llama-cpp-python
   (`Llama.embed`, the same model file, threads and batch size, no Celery, no database);
   chunks / s. The two sides alternate file by file (the worker is idle while the raw side
   runs), so that both see the same load when the machine is shared;
4. prints the ratio end-to-end / raw (target ≥ 0.8) and the folder's wall time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "paths",
        nargs="*",
        default=[str(BASE_DIR / "README.md"), str(BASE_DIR / "tests" / "data" / "documents")],
        help="files and folders (default: README.md and tests/data/documents)",
    )
    parser.add_argument("--glob", default="*", help="which files of a folder (default: all)")
    parser.add_argument("--database", default="bench_ingest")
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from platform_site import services

    state = services.read_state()
    base_redis = os.environ.get("REDIS_URL") or state.get("redis", {}).get("url", "redis://127.0.0.1:6390/0")
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_redis)
    os.environ["REDIS_URL"] = urlunsplit((parts.scheme, parts.netloc, f"/{args.redis_db}", "", ""))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")
    os.environ["DJANGO_DATABASE_NAME"] = args.database
    media = tempfile.mkdtemp(prefix="bench-ingest-media-")
    os.environ["MEDIA_ROOT"] = media

    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    with admin_connection(settings.DATABASES["default"]) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    worker = None
    try:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, skip_checks=True)
        worker = start_worker()
        run(args, settings, worker)
    finally:
        if worker is not None and worker.poll() is None:
            stop_worker(worker)
        connections.close_all()
        if not args.keep:
            with admin_connection(settings.DATABASES["default"]) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            print(f"dropped database {args.database}")
        import shutil

        shutil.rmtree(media, ignore_errors=True)


def admin_connection(settings_dict: dict):  # noqa: ANN201
    import psycopg

    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict.get("PORT") or 5432,
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def start_worker() -> subprocess.Popen:
    from django.conf import settings

    from inference.client import worker_status
    from inference.worker import heartbeat_pattern, redis_client

    stale = list(redis_client().scan_iter(match=heartbeat_pattern(settings.INFERENCE_QUEUE)))
    if stale:
        redis_client().delete(*stale)
    redis_client().delete(settings.INFERENCE_QUEUE)
    log = open(tempfile.mktemp(prefix="bench-inference-", suffix=".log"), "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "platform_site", "worker", "-Q", settings.INFERENCE_QUEUE,
         "-P", "solo", "-c", "1", "-n", f"bench-ingest-{os.getpid()}@%h", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    started = time.monotonic()
    while worker_status() is None:
        if worker.poll() is not None:
            raise SystemExit(f"the inference worker exited; see {log.name}")
        if time.monotonic() - started > 180:
            stop_worker(worker)
            raise SystemExit(f"the inference worker did not start; see {log.name}")
        time.sleep(0.3)
    print(f"inference worker ready in {time.monotonic() - started:.1f} s")
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def run(args: argparse.Namespace, settings, worker: subprocess.Popen) -> None:  # noqa: ANN001
    from django.core.files import File

    from inference.engine import Engine
    from memory.embedding import current_embedding_model
    from memory.extraction import detect_mime_type
    from memory.ingestion import document_ingest
    from memory.management.commands.ingest import _collect
    from memory.models import DocumentStatus, MemoryEntry
    from memory.services import document_upload
    from projects.models import Project

    files = [
        p
        for p in _collect(args.paths, args.glob)
        if detect_mime_type(p.name) in settings.MEMORY_ACCEPTED_TYPES
    ]
    size = sum(p.stat().st_size for p in files)
    print(
        f"{len(files)} files, {size / 1024:.0f} KiB; batch size {settings.MEMORY_EMBED_BATCH_SIZE}, "
        "chunks of "
        f"≤ {settings.MEMORY_CHUNK_SIZE} characters with {settings.MEMORY_CHUNK_OVERLAP} overlap"
    )
    project = Project.objects.create(name="bench")

    # In-process llama.cpp for the raw side: the same model file, threads and batch size.
    loaded = Engine().load(current_embedding_model())
    batch = settings.MEMORY_EMBED_BATCH_SIZE

    # The two sides alternate file by file, so that both see the same load on a shared machine.
    failed = 0
    e2e_s = raw_s = 0.0
    raw_chunks = 0
    for path in files:
        started = time.monotonic()
        with path.open("rb") as handle:
            document, created = document_upload(
                project=project, file=File(handle, name=path.name), filename=path.name, enqueue=False
            )
        if created:
            result = document_ingest(document_id=document.pk)
            if result.status != DocumentStatus.READY:
                failed += 1
                print(f"  failed: {path}: {result.error}")
        e2e_s += time.monotonic() - started
        if not created:  # the same file twice (another folder): stored once, embedded once
            continue
        # RAW: exactly the chunk texts this document stored, no Celery, no database.
        texts = list(MemoryEntry.objects.filter(document=document).values_list("content", flat=True))
        started = time.monotonic()
        for start in range(0, len(texts), batch):
            loaded.llm.embed(texts[start : start + batch], normalize=True, truncate=True)
        raw_s += time.monotonic() - started
        raw_chunks += len(texts)
    stored = MemoryEntry.objects.filter(project=project).count()
    e2e_rate = stored / e2e_s
    raw_rate = raw_chunks / raw_s
    print(
        f"end to end: {stored} chunks stored in {e2e_s:.2f} s = {e2e_rate:.1f} chunks/s "
        f"({failed} files failed)"
    )
    print(
        f"raw llama.cpp: {raw_chunks} chunks embedded in {raw_s:.2f} s = {raw_rate:.1f} chunks/s "
        f"(n_threads {loaded.spec.n_threads})"
    )
    print()
    print(f"end-to-end / raw = {e2e_rate / raw_rate:.3f}")
    print(
        f"folder ingestion time: {e2e_s:.1f} s for {len(files)} files "
        f"({size / 1024:.0f} KiB, {stored} chunks)"
    )


if __name__ == "__main__":
    main()
