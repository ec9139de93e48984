"""The web process never loads llama.cpp: only the inference worker does."""

import os
import subprocess
import sys
from pathlib import Path

CODE = """
import sys
import django
django.setup()
import platform_site.asgi, platform_site.urls
import inference.api, inference.client, inference.tasks, inference.worker
from platform_site.celery import app
app.loader.import_default_modules()  # every app's tasks, as a Celery client sees them
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "llama_cpp")
assert not loaded, loaded
"""


def test_the_web_side_does_not_import_llama_cpp():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "platform_site.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
