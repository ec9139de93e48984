"""Settings for pytest: the real PostgreSQL and Redis, in a database and Redis DB of their own."""

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL, VAR_DIR, env, redis_url_with_db

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A test run must not share a database or Redis DB with `make run` (or another test run):
# its Celery workers would consume the other's tasks.
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_platform")}
TEST_REDIS_URL = redis_url_with_db(REDIS_URL, env.int("TEST_REDIS_DB", default=1))
# TEST_CHANNEL_LAYER_URL: a Redis of a test's own for the channel layer (a test that stops it).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [env.str("TEST_CHANNEL_LAYER_URL", default="") or TEST_REDIS_URL],
            "capacity": 1500,
            "expiry": 60,
        },
    }
}
CELERY_BROKER_URL = TEST_REDIS_URL
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url_with_db(REDIS_URL, env.int("TEST_CACHE_REDIS_DB", default=3)),
        "KEY_PREFIX": "test",
    }
}
CELERY_RESULT_BACKEND = TEST_REDIS_URL

# Files uploaded by a test run (and by the workers it starts) stay out of var/media, per test database.
MEDIA_ROOT = env.path(
    "TEST_MEDIA_ROOT", default=str(VAR_DIR / "test-media" / DATABASES["default"]["TEST"]["NAME"])
)
