import uuid

import pytest

from accounts.tests.factories import UserFactory
from accounts.tests.tokens import assert_error
from projects.models import Membership
from projects.selectors import project_user_has_perm


@pytest.fixture
def everyone(owner, member, viewer, outsider):
    """All four users exist: `project` has an admin, a member and a viewer."""


def members_url(project) -> str:
    return f"/api/projects/{project.pk}/members/"


def member_url(project, user) -> str:
    membership = Membership.objects.get(project=project, user=user)
    return f"/api/projects/{project.pk}/members/{membership.pk}/"


def role_of(project, user) -> str | None:
    membership = Membership.objects.filter(project=project, user=user).first()
    return membership.role if membership else None


# --- GET members/ ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "member", "viewer"])
def test_every_member_lists_the_members_with_their_roles(project, everyone, api_client, request, who):
    body = api_client(request.getfixturevalue(who)).get(members_url(project)).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [(m["user"]["email"], m["role"]) for m in body["results"]] == [
        ("owner@example.com", "admin"),
        ("member@example.com", "member"),
        ("viewer@example.com", "viewer"),
    ]
    first = body["results"][0]
    assert set(first) == {"id", "user", "role", "created_at", "updated_at"}
    assert set(first["user"]) == {"id", "email", "full_name"}


def test_an_outsider_cannot_list_the_members(project, everyone, outsider, api_client):
    assert_error(api_client(outsider).get(members_url(project)), 404)


def test_a_superuser_lists_any_projects_members(project, everyone, superuser, api_client):
    assert api_client(superuser).get(members_url(project)).json()["count"] == 3


def test_members_list_query_count_does_not_grow_with_members(
    project, owner, api_client, django_assert_num_queries
):
    from projects.tests.factories import MembershipFactory

    for _ in range(5):
        MembershipFactory(project=project, user=UserFactory())
    client = api_client(owner)
    # 1. the user named by the JWT; 2. the gate: the caller's membership joined with the project;
    # 3. the page's count; 4. the page of memberships joined with their users
    with django_assert_num_queries(4):
        response = client.get(members_url(project))
    assert response.json()["count"] == 6


# --- POST members/ --------------------------------------------------------------------------


def test_an_admin_adds_a_user_by_email_who_then_sees_the_project(project, owner, outsider, api_client):
    response = api_client(owner).post(
        members_url(project), {"email": "OUTSIDER@example.com", "role": "viewer"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "outsider@example.com"
    assert body["role"] == "viewer"
    assert body["id"] == str(Membership.objects.get(project=project, user=outsider).pk)
    assert api_client(outsider).get(f"/api/projects/{project.pk}/").json()["role"] == "viewer"


def test_the_role_defaults_to_member(project, owner, outsider, api_client):
    response = api_client(owner).post(members_url(project), {"email": "outsider@example.com"})
    assert response.json()["role"] == "member"
    assert project_user_has_perm(user=outsider, project=project, perm="contribute_project")
    assert not project_user_has_perm(user=outsider, project=project, perm="manage_project")


@pytest.mark.parametrize(
    "data,attr,code",
    [
        ({"email": "nobody@example.com"}, "email", "does_not_exist"),
        ({"email": "not-an-email"}, "email", "invalid"),
        ({}, "email", "required"),
        ({"email": "outsider@example.com", "role": "owner"}, "role", "invalid_choice"),
    ],
)
def test_bad_input_when_adding_is_400_naming_the_field(
    project, owner, outsider, api_client, data, attr, code
):
    assert_error(api_client(owner).post(members_url(project), data), 400, attr=attr, code=code)
    assert role_of(project, outsider) is None


def test_adding_an_existing_member_is_400_naming_email(project, owner, member, api_client):
    response = api_client(owner).post(members_url(project), {"email": "member@example.com", "role": "admin"})
    assert_error(response, 400, attr="email")
    assert role_of(project, member) == "member"


def test_an_inactive_user_cannot_be_added(project, owner, api_client):
    UserFactory(email="gone@example.com", is_active=False)
    assert_error(
        api_client(owner).post(members_url(project), {"email": "gone@example.com"}), 400, attr="email"
    )


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_add_members(project, everyone, outsider, api_client, request, who):
    response = api_client(request.getfixturevalue(who)).post(
        members_url(project), {"email": "outsider@example.com", "role": "admin"}
    )
    assert_error(response, 403, code="permission_denied")
    assert role_of(project, outsider) is None


def test_an_outsider_cannot_add_themselves(project, outsider, api_client):
    response = api_client(outsider).post(
        members_url(project), {"email": "outsider@example.com", "role": "admin"}
    )
    assert_error(response, 404)
    assert role_of(project, outsider) is None


def test_a_superuser_adds_members_to_any_project(project, superuser, outsider, api_client):
    response = api_client(superuser).post(members_url(project), {"email": "outsider@example.com"})
    assert response.status_code == 201


# --- PATCH members/{id}/ --------------------------------------------------------------------


def test_an_admin_promotes_a_member_whose_rights_follow(project, owner, member, api_client):
    response = api_client(owner).patch(member_url(project, member), {"role": "admin"})
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert role_of(project, member) == "admin"
    # The new admin may now do admin things.
    assert api_client(member).patch(f"/api/projects/{project.pk}/", {"name": "By member"}).status_code == 200


def test_a_demoted_admin_loses_admin_rights(project, owner, member, api_client):
    client = api_client(owner)
    client.patch(member_url(project, member), {"role": "admin"})
    assert api_client(member).patch(member_url(project, owner), {"role": "viewer"}).status_code == 200
    assert role_of(project, owner) == "viewer"
    assert_error(client.patch(f"/api/projects/{project.pk}/", {"name": "X"}), 403)
    assert not project_user_has_perm(user=owner, project=project, perm="contribute_project")


def test_the_last_admin_cannot_be_demoted(project, owner, member, api_client):
    response = api_client(owner).patch(member_url(project, owner), {"role": "member"})
    assert_error(response, 400, attr="role")
    assert role_of(project, owner) == "admin"


@pytest.mark.parametrize("data,code", [({}, "required"), ({"role": "god"}, "invalid_choice")])
def test_bad_role_is_400_naming_it(project, owner, member, api_client, data, code):
    assert_error(api_client(owner).patch(member_url(project, member), data), 400, attr="role", code=code)
    assert role_of(project, member) == "member"


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_change_roles(project, everyone, api_client, request, who):
    user = request.getfixturevalue(who)
    response = api_client(user).patch(member_url(project, user), {"role": "admin"})
    assert_error(response, 403)
    assert role_of(project, user) == who


def test_an_outsider_cannot_change_roles(project, everyone, member, outsider, api_client):
    assert_error(api_client(outsider).patch(member_url(project, member), {"role": "viewer"}), 404)
    assert role_of(project, member) == "member"


def test_a_membership_of_another_project_is_404(project, owner, other_project, outsider, api_client):
    """The owner is an admin of `project`, but the membership id belongs to `other_project`."""
    foreign = Membership.objects.get(project=other_project, user=outsider)
    url = f"/api/projects/{project.pk}/members/{foreign.pk}/"
    client = api_client(owner)
    assert_error(client.patch(url, {"role": "viewer"}), 404)
    assert_error(client.delete(url), 404)
    assert role_of(other_project, outsider) == "admin"


def test_an_unknown_member_id_is_404(project, owner, api_client):
    assert_error(api_client(owner).patch(f"{members_url(project)}{uuid.uuid4()}/", {"role": "admin"}), 404)


# --- DELETE members/{id}/ -------------------------------------------------------------------


def test_an_admin_removes_a_member_who_then_loses_access(project, owner, viewer, api_client):
    assert api_client(owner).delete(member_url(project, viewer)).status_code == 204
    assert role_of(project, viewer) is None
    assert_error(api_client(viewer).get(f"/api/projects/{project.pk}/"), 404)
    assert not project_user_has_perm(user=viewer, project=project, perm="view_project")


def test_the_last_admin_cannot_be_removed(project, owner, member, api_client):
    assert_error(api_client(owner).delete(member_url(project, owner)), 400, attr="role")
    assert role_of(project, owner) == "admin"


def test_an_admin_leaves_when_another_admin_remains(project, owner, member, api_client):
    client = api_client(owner)
    client.patch(member_url(project, member), {"role": "admin"})
    assert client.delete(member_url(project, owner)).status_code == 204
    assert role_of(project, owner) is None


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_remove_members(project, everyone, owner, api_client, request, who):
    assert_error(api_client(request.getfixturevalue(who)).delete(member_url(project, owner)), 403)
    assert role_of(project, owner) == "admin"


def test_an_outsider_cannot_remove_members(project, everyone, member, outsider, api_client):
    assert_error(api_client(outsider).delete(member_url(project, member)), 404)
    assert role_of(project, member) == "member"


def test_a_superuser_removes_members_anywhere(project, everyone, member, superuser, api_client):
    assert api_client(superuser).delete(member_url(project, member)).status_code == 204
