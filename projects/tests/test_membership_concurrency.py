"""Membership rules under concurrent requests, on the real PostgreSQL.

The first change holds its transaction open while the second one runs, the worst case.
"""

import threading

import pytest
from django.db import connection, transaction
from rest_framework.exceptions import ValidationError

from accounts.tests.factories import UserFactory
from projects import services
from projects.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)


def race(first, second) -> dict:
    """Run `first` in a transaction held open until `second` has had its chance to run."""
    inside, release = threading.Event(), threading.Event()
    results: dict = {}

    def run_first():
        try:
            with transaction.atomic():
                first()
                inside.set()
                release.wait(10)
            results["first"] = "ok"
        except Exception as exc:
            results["first"] = exc
        finally:
            inside.set()
            connection.close()

    def run_second():
        inside.wait(10)
        try:
            second()
            results["second"] = "ok"
        except Exception as exc:
            results["second"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    threads[1].join(timeout=1.0)  # correct code keeps it waiting behind the first's lock
    release.set()
    for thread in threads:
        thread.join(20)
    return results


def test_two_admins_demoting_each_other_at_once_leave_one_admin(project, owner, member):
    m_owner = Membership.objects.get(project=project, user=owner)
    m_member = Membership.objects.get(project=project, user=member)
    services.membership_change_role(membership=m_member, role=Role.ADMIN)

    results = race(
        lambda: services.membership_change_role(membership=m_owner, role=Role.MEMBER),
        lambda: services.membership_change_role(membership=m_member, role=Role.MEMBER),
    )
    assert results["first"] == "ok"
    assert isinstance(results["second"], ValidationError)
    assert "role" in results["second"].detail
    assert Membership.objects.filter(project=project, role=Role.ADMIN).count() == 1


def test_two_admins_removing_each_other_at_once_leave_one_admin(project, owner, member):
    m_owner = Membership.objects.get(project=project, user=owner)
    m_member = Membership.objects.get(project=project, user=member)
    services.membership_change_role(membership=m_member, role=Role.ADMIN)

    results = race(
        lambda: services.membership_remove(membership=m_owner),
        lambda: services.membership_remove(membership=m_member),
    )
    assert results["first"] == "ok"
    assert isinstance(results["second"], ValidationError)
    assert Membership.objects.filter(project=project, role=Role.ADMIN).count() == 1


def test_adding_the_same_user_twice_at_once_is_a_400_not_a_500(project, owner):
    newcomer = UserFactory(email="new@example.com")
    results = race(
        lambda: services.membership_add(project=project, user=newcomer, role=Role.MEMBER),
        lambda: services.membership_add(project=project, user=newcomer, role=Role.VIEWER),
    )
    assert results["first"] == "ok"
    assert isinstance(results["second"], ValidationError)
    assert "email" in results["second"].detail
    assert Membership.objects.filter(project=project, user=newcomer).count() == 1
