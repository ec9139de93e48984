"""Settings for `make run` on a developer's or team's own machine."""

import secrets

from .base import *  # noqa: F403
from .base import VAR_DIR, env


def _local_secret() -> str:
    """A random key kept under var/, so that local runs need no configuration."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _local_secret()
DEBUG = env.bool("DJANGO_DEBUG", default=True)
# `manage.py seed_demo`'s accounts: a documented local-only password (the server listens on
# 127.0.0.1 by default). Elsewhere DEMO_SUPERUSER_PASSWORD has no default.
DEMO_SUPERUSER_PASSWORD = env.str("DEMO_SUPERUSER_PASSWORD", default="demo-local-only-password")
