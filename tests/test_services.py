"""The embedded PostgreSQL and Redis (platform_site.services), and a configured PostgreSQL.

These run against the shared embedded servers: they start them (idempotently) but never
stop them, since other test runs and `make run` use them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings

from platform_site import services

# This machine's own PostgreSQL 15 (SERVICES.md): reachable, but without pgvector.
SYSTEM_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def embedded(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_start_is_idempotent_and_status_says_running(embedded):
    first = services.start()
    second = services.start()
    assert first == second
    assert first["postgres"]["host"] and first["postgres"]["port"]
    assert first["redis"]["url"].startswith("redis://127.0.0.1:")
    status = services.status()
    assert status["postgres"].startswith("running")
    assert status["redis"].startswith("running")
    # and the servers it names are the ones answering
    with psycopg.connect(host=first["postgres"]["host"], dbname="postgres", user="postgres") as conn:
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone()


def test_the_command_line_start_and_status(embedded):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    state = services.read_state()
    start = subprocess.run(
        [sys.executable, "-m", "platform_site.services", "start"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert start.returncode == 0, start.stderr
    assert state["redis"]["url"] in start.stdout
    assert services.read_state() == state  # nothing was restarted or moved
    status = subprocess.run(
        [sys.executable, "-m", "platform_site.services", "status"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0
    assert status.stdout.count("running") == 2


def _system_postgres_extensions() -> set[str]:
    with psycopg.connect(SYSTEM_POSTGRES, connect_timeout=5) as conn:
        return {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}


def test_a_configured_postgres_without_pgvector_is_refused_in_one_line():
    before = _system_postgres_extensions()
    with pytest.raises(SystemExit) as exc:
        services.check_configured_database(SYSTEM_POSTGRES)
    message = str(exc.value.code)
    assert len(message.splitlines()) == 1
    assert "pgvector" in message
    assert "install pgvector" in message or "pgvector/pgvector" in message  # the fix
    assert "unset DATABASE_URL" in message
    assert _system_postgres_extensions() == before  # nothing was created there


def test_an_unreachable_configured_postgres_is_refused_in_one_line():
    with pytest.raises(SystemExit) as exc:
        services.check_configured_database("postgres://postgres@127.0.0.1:1/postgres")
    message = str(exc.value.code)
    assert len(message.splitlines()) == 1
    assert message.startswith("DATABASE_URL: cannot connect")


def test_start_with_that_database_url_exits_with_the_line_and_no_traceback():
    env = {**os.environ, "DATABASE_URL": SYSTEM_POSTGRES}
    result = subprocess.run(
        [sys.executable, "-m", "platform_site.services", "start"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pgvector" in lines[0], result.stderr


def test_the_embedded_postgres_runs_with_its_shared_buffers(embedded):
    """A quarter of the RAM at most 4 GB (or EMBEDDED_POSTGRES_SHARED_BUFFERS_MB): pgvector's
    HNSW pages then stay in PostgreSQL's own cache."""
    state = services.start()
    with psycopg.connect(host=state["postgres"]["host"], dbname="postgres", user="postgres") as conn:
        row = conn.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
        assert row.fetchone()[0] == services.shared_buffers_mb()


def test_shared_buffers_follow_the_setting_and_the_ram(monkeypatch):
    monkeypatch.setenv("EMBEDDED_POSTGRES_SHARED_BUFFERS_MB", "512")
    assert services.shared_buffers_mb() == 512
    monkeypatch.delenv("EMBEDDED_POSTGRES_SHARED_BUFFERS_MB")
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert services.shared_buffers_mb() == max(128, min(4096, ram_mb // 4))
