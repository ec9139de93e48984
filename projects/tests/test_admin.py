"""The Django admin for projects: memberships edited inline go through the services."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from projects.models import Membership, Project
from projects.selectors import project_user_has_perm


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def inline_data(rows, initial=0):
    """The POST data of the Membership inline: rows of (membership id or "", user id, role, delete)."""
    data = {
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, (pk, user, role, delete) in enumerate(rows):
        data[f"memberships-{i}-id"] = str(pk or "")
        data[f"memberships-{i}-user"] = str(user)
        data[f"memberships-{i}-role"] = role
        if delete:
            data[f"memberships-{i}-DELETE"] = "on"
    return data


def test_changelist_lists_searches_and_counts_members(admin_client, project, member, other_project):
    response = admin_client.get("/admin/projects/project/", {"q": "member@example.com"})
    assert response.status_code == 200
    [row] = response.context["cl"].result_list
    assert row == project
    assert row._member_count == 2


def test_creating_a_project_in_the_admin_grants_roles_and_makes_the_creator_admin(admin_client, superuser):
    alice = UserFactory(email="alice@example.com")
    data = {"name": "From admin", "description": ""} | inline_data([("", alice.pk, "member", False)])
    response = admin_client.post("/admin/projects/project/add/", data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    project = Project.objects.get(name="From admin")
    assert project.created_by == superuser
    assert Membership.objects.get(project=project, user=alice).role == "member"
    assert Membership.objects.get(project=project, user=superuser).role == "admin"
    # The role groups carry the guardian permissions.
    assert project_user_has_perm(user=alice, project=project, perm="contribute_project")
    assert not project_user_has_perm(user=alice, project=project, perm="manage_project")


def test_changing_a_role_inline_moves_the_user_between_role_groups(admin_client, project, owner, member):
    m_owner = Membership.objects.get(project=project, user=owner)
    m_member = Membership.objects.get(project=project, user=member)
    data = {"name": "Acme", "description": ""} | inline_data(
        [(m_owner.pk, owner.pk, "admin", False), (m_member.pk, member.pk, "viewer", False)], initial=2
    )
    response = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert response.status_code == 302
    assert Membership.objects.get(pk=m_member.pk).role == "viewer"
    assert not project_user_has_perm(user=member, project=project, perm="contribute_project")
    assert project_user_has_perm(user=member, project=project, perm="view_project")


def test_the_admin_hands_over_when_a_new_admin_replaces_the_last_one(admin_client, project, owner, member):
    m_owner = Membership.objects.get(project=project, user=owner)
    m_member = Membership.objects.get(project=project, user=member)
    data = {"name": "Acme", "description": ""} | inline_data(
        [(m_owner.pk, owner.pk, "admin", True), (m_member.pk, member.pk, "admin", False)], initial=2
    )
    assert admin_client.post(f"/admin/projects/project/{project.pk}/change/", data).status_code == 302
    assert list(Membership.objects.filter(project=project).values_list("user__email", "role")) == [
        ("member@example.com", "admin")
    ]
    assert not project_user_has_perm(user=owner, project=project, perm="view_project")


def test_the_admin_refuses_to_remove_the_last_admin(admin_client, project, owner, member):
    m_owner = Membership.objects.get(project=project, user=owner)
    m_member = Membership.objects.get(project=project, user=member)
    data = {"name": "Renamed", "description": ""} | inline_data(
        [(m_owner.pk, owner.pk, "admin", True), (m_member.pk, member.pk, "member", False)], initial=2
    )
    response = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert response.status_code == 200
    assert "at least one admin" in response.content.decode()
    assert Membership.objects.get(pk=m_owner.pk).role == "admin"
    project.refresh_from_db()
    assert project.name == "Acme"  # nothing is half-written


def test_deleting_a_project_in_the_admin_removes_its_role_groups(admin_client, project):
    from django.contrib.auth.models import Group

    response = admin_client.post(f"/admin/projects/project/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Group.objects.filter(name__startswith=f"project:{project.pk}:").exists()


def test_guardians_object_permissions_page_opens(admin_client, project):
    url = reverse("admin:projects_project_permissions", args=[project.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert f"project:{project.pk}:admin" in response.content.decode()


def test_a_project_admin_who_is_not_staff_cannot_use_the_django_admin(client, owner, project):
    client.force_login(owner)
    response = client.get(f"/admin/projects/project/{project.pk}/change/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
