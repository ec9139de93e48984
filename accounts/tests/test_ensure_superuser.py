import subprocess
import sys
from io import StringIO

from django.conf import settings
from django.core.management import call_command

from accounts.models import User
from accounts.tests.factories import UserFactory


def run(monkeypatch, email=None, password=None) -> str:
    for name, value in (("DJANGO_SUPERUSER_EMAIL", email), ("DJANGO_SUPERUSER_PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    out = StringIO()
    call_command("ensure_superuser", stdout=out)
    return out.getvalue()


def test_without_the_variables_it_explains_how_in_one_line(db, monkeypatch):
    out = run(monkeypatch)
    assert len(out.strip().splitlines()) == 1
    assert "createsuperuser" in out
    assert "DJANGO_SUPERUSER_EMAIL" in out
    assert not User.objects.filter(is_superuser=True).exists()


def test_it_exits_0_without_the_variables():
    """As `make run` calls it: a process of its own, with the variables unset."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "HOME": "/tmp",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "ensure_superuser", "--skip-checks"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "createsuperuser" in result.stdout


def test_it_creates_a_superuser_who_can_log_in(db, monkeypatch):
    out = run(monkeypatch, "Root@Example.com", "s3cret-admin-pass")
    assert "created" in out
    user = User.objects.get(email="root@example.com")
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.check_password("s3cret-admin-pass")


def test_it_is_idempotent(db, monkeypatch):
    run(monkeypatch, "root@example.com", "s3cret-admin-pass")
    before = User.objects.get(email="root@example.com").password
    out = run(monkeypatch, "root@example.com", "s3cret-admin-pass")
    assert "up to date" in out
    assert User.objects.filter(email="root@example.com").count() == 1
    assert User.objects.get(email="root@example.com").password == before


def test_it_promotes_an_existing_user_and_sets_the_password(db, monkeypatch):
    UserFactory(email="boss@example.com")
    out = run(monkeypatch, "BOSS@example.com", "new-admin-pass-1")
    assert "updated" in out
    user = User.objects.get(email="boss@example.com")
    assert user.is_superuser and user.is_staff
    assert user.check_password("new-admin-pass-1")
    assert User.objects.count() == 1
