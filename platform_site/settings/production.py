"""Production settings: every secret comes from the environment, with no default."""

from .base import *  # noqa: F403
from .base import METRICS_TOKEN, env, refuse_placeholder, required

SECRET_KEY = required("DJANGO_SECRET_KEY")
refuse_placeholder("METRICS_TOKEN", METRICS_TOKEN)
DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
