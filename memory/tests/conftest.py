import pytest
from django.conf import settings as django_settings

# MEDIA_ROOT of the test settings, which the Celery workers started by the tests also use.
WORKER_MEDIA_ROOT = django_settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded files go to a folder of the test's own (in-process tests)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def worker_media_root(media_root, settings):
    """For tests whose files a worker process reads: the test settings' MEDIA_ROOT, as the worker sees it."""
    settings.MEDIA_ROOT = str(WORKER_MEDIA_ROOT)
    return WORKER_MEDIA_ROOT
