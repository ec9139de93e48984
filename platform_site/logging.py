"""Structured logs: one JSON object a line, with the request id and the ids of the agent work.

- django-structlog's middleware binds `request_id` (and `user_id`, `ip`) to every log line
  of a request; `X-Request-ID` from a trusted proxy is reused when present.
- Agent work binds its ids with `bind_context`, as a context manager in tasks and consumers:

      from platform_site.logging import bind_context
      with bind_context(project_id=project.id, conversation_id=conv.id, message_id=msg.id):
          ...  # every log line in here carries the three ids

- `redact_secrets` runs on every line, structlog's and the standard library's: it masks the
  values of keys such as `password`, `token`, `authorization`, `access`, `refresh`, `secret`,
  and inside strings `Bearer …` credentials, `token=…` query parameters, `password=…`
  and anything shaped like a JWT.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"

# Keys whose values are secrets, whatever they hold (compared lower-cased, '-' as '_').
SECRET_KEYS = frozenset(
    {
        "password", "password1", "password2", "new_password", "old_password", "passwd",
        "secret", "secret_key", "token", "access", "refresh", "access_token", "refresh_token",
        "authorization", "http_authorization", "cookie", "http_cookie", "set_cookie",
        "api_key", "apikey", "sec_websocket_protocol", "http_sec_websocket_protocol",
        "client_secret", "sessionid", "csrftoken",
    }
)  # fmt: skip

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <token> / Basic <creds>, in any string
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1\2{REDACTED}"),
    # query or form parameters: ?token=…&password=…
    (
        re.compile(
            r"(?i)([?&;]|\b)((?:access_|refresh_)?token|access|refresh|password|passwd|secret|api_?key)"
            r"=([^&\s'\"#;]+)"
        ),
        rf"\1\2={REDACTED}",
    ),
    # JSON-ish "password": "…"
    (
        re.compile(
            r"""(?i)(["'](?:password|token|access|refresh|secret|authorization)["']\s*:\s*)["'][^"']*["']"""
        ),
        rf'\1"{REDACTED}"',
    ),
    # anything shaped like a JWT (three base64url parts, the first two starting with eyJ)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), REDACTED),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def redact_value(value: Any, _depth: int = 0) -> Any:
    if _depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_secret_key(k) else redact_value(v, _depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return type(value)(redact_value(v, _depth + 1) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: no password, token or credential reaches a log line."""
    for key in list(event_dict):
        if key.startswith("_"):  # structlog's internals (_record, _from_structlog)
            continue
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(event_dict[key])
    return event_dict


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler: JSON lines (or a console renderer), redacted."""
    renderer: Any = structlog.processors.JSONRenderer()
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )


def logging_config(*, level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """The LOGGING setting: everything to stderr through one structlog formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": formatter, "fmt": fmt}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # django-structlog logs each request's start and end with the request id.
            "django_structlog": {"level": level},
            # one line per request already comes from django_structlog
            "django.server": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    """structlog's own loggers hand their events to the standard library's handlers above."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS[1:],
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class bind_context:  # noqa: N801 - used like a function
    """Bind ids (project_id, conversation_id, message_id, …) to every later log line.

    Called plainly it binds until the context is cleared (django-structlog clears it at the
    end of each request); used as `with bind_context(...):` it restores the previous values on
    exit, which is what Celery tasks and consumers should do. None values are skipped; UUIDs
    become strings.
    """

    def __init__(self, **ids: Any) -> None:
        values = {
            k: (v if isinstance(v, int | float | bool) else str(v)) for k, v in ids.items() if v is not None
        }
        self._tokens = structlog.contextvars.bind_contextvars(**values)

    def __enter__(self) -> bind_context:
        return self

    def __exit__(self, *exc: object) -> None:
        structlog.contextvars.reset_contextvars(**self._tokens)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
