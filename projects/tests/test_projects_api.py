import uuid

import pytest
from django.contrib.auth.models import Group

from accounts.tests.factories import UserFactory
from accounts.tests.tokens import BAD_TOKEN_KINDS, assert_error, bad_client
from projects.models import Membership, Project
from projects.selectors import project_user_has_perm
from projects.tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture
def everyone(owner, member, viewer, outsider):
    """All four users exist: `project` has an admin, a member and a viewer."""


def detail(project) -> str:
    return f"/api/projects/{project.pk}/"


# --- GET /api/projects/ ---------------------------------------------------------------------


def test_list_shows_only_the_callers_projects_with_role_and_member_count(
    project, owner, member, viewer, other_project, api_client
):
    body = api_client(member).get("/api/projects/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    [item] = body["results"]
    assert item["id"] == str(project.pk)
    assert item["name"] == "Acme"
    assert item["role"] == "member"
    assert item["member_count"] == 3  # owner, member, viewer
    assert {"description", "created_at", "updated_at"} <= set(item)


def test_list_of_an_outsider_shows_only_their_own_project(project, other_project, outsider, api_client):
    body = api_client(outsider).get("/api/projects/").json()
    assert [(p["id"], p["role"]) for p in body["results"]] == [(str(other_project.pk), "admin")]


def test_a_superuser_sees_every_project_as_admin(project, other_project, superuser, api_client):
    body = api_client(superuser).get("/api/projects/").json()
    assert {p["id"] for p in body["results"]} == {str(project.pk), str(other_project.pk)}
    assert {p["role"] for p in body["results"]} == {"admin"}


def test_list_is_newest_first_and_paginated(owner, api_client):
    for n in range(3):
        ProjectFactory(name=f"P{n}", created_by=owner)
    body = api_client(owner).get("/api/projects/", {"page_size": 2}).json()
    assert body["count"] == 3
    assert [p["name"] for p in body["results"]] == ["P2", "P1"]
    assert body["next"] is not None


def test_list_query_count_does_not_grow_with_projects(owner, api_client, django_assert_num_queries):
    for n in range(4):
        project = ProjectFactory(name=f"P{n}", created_by=owner)
        MembershipFactory(project=project, user=UserFactory())
    client = api_client(owner)
    # 1. the user named by the JWT; 2. the page's count; 3. the page, with the caller's role
    # and the member count as subqueries
    with django_assert_num_queries(3):
        response = client.get("/api/projects/")
    assert [p["member_count"] for p in response.json()["results"]] == [2, 2, 2, 2]


# --- POST /api/projects/ --------------------------------------------------------------------


def test_any_user_creates_a_project_and_becomes_its_admin(outsider, api_client):
    response = api_client(outsider).post("/api/projects/", {"name": "  New one ", "description": "d"})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "New one"
    assert body["role"] == "admin"
    assert body["member_count"] == 1
    project = Project.objects.get(pk=body["id"])
    assert project.created_by == outsider
    assert Membership.objects.get(project=project).user == outsider
    assert project_user_has_perm(user=outsider, project=project, perm="manage_project")


@pytest.mark.parametrize(
    "data,code",
    [
        ({}, "required"),
        ({"name": ""}, "blank"),
        ({"name": "x" * 121}, "max_length"),
        ({"name": None}, "null"),
    ],
)
def test_create_with_a_bad_name_is_400_naming_it(owner, api_client, data, code):
    assert_error(api_client(owner).post("/api/projects/", data), 400, attr="name", code=code)
    assert Project.objects.count() == 0


# --- GET /api/projects/{id}/ ----------------------------------------------------------------


@pytest.mark.parametrize("who,role", [("owner", "admin"), ("member", "member"), ("viewer", "viewer")])
def test_members_read_the_project_with_their_role(project, everyone, api_client, request, who, role):
    body = api_client(request.getfixturevalue(who)).get(detail(project)).json()
    assert body["id"] == str(project.pk)
    assert body["role"] == role
    assert body["member_count"] == 3


def test_an_outsider_gets_404_like_a_missing_project(project, everyone, outsider, api_client):
    client = api_client(outsider)
    hidden = client.get(detail(project))
    missing = client.get(f"/api/projects/{uuid.uuid4()}/")
    assert_error(hidden, 404)
    assert hidden.json() == missing.json()


def test_a_superuser_reads_any_project(project, superuser, api_client):
    body = api_client(superuser).get(detail(project)).json()
    assert body["role"] == "admin"


# --- PATCH /api/projects/{id}/ --------------------------------------------------------------


def test_an_admin_renames_the_project(project, owner, api_client):
    response = api_client(owner).patch(detail(project), {"name": "Renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["role"] == "admin"
    project.refresh_from_db()
    assert project.name == "Renamed"
    assert project.description == "A project for tests"  # untouched


def test_a_superuser_edits_any_project(project, superuser, api_client):
    response = api_client(superuser).patch(detail(project), {"description": "by root"})
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.description == "by root"


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_edit_the_project(project, everyone, api_client, request, who):
    response = api_client(request.getfixturevalue(who)).patch(detail(project), {"name": "Hacked"})
    assert_error(response, 403, code="permission_denied")
    project.refresh_from_db()
    assert project.name == "Acme"


def test_an_outsider_cannot_edit_the_project(project, outsider, api_client):
    assert_error(api_client(outsider).patch(detail(project), {"name": "Hacked"}), 404)
    project.refresh_from_db()
    assert project.name == "Acme"


def test_patch_with_a_blank_name_is_400_naming_it(project, owner, api_client):
    assert_error(api_client(owner).patch(detail(project), {"name": ""}), 400, attr="name", code="blank")


# --- DELETE /api/projects/{id}/ -------------------------------------------------------------


def test_an_admin_deletes_the_project_with_its_memberships_and_role_groups(
    project, member, owner, api_client
):
    response = api_client(owner).delete(detail(project))
    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Membership.objects.filter(project_id=project.pk).exists()
    assert not Group.objects.filter(name__startswith=f"project:{project.pk}:").exists()
    assert_error(api_client(owner).get(detail(project)), 404)


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_delete_the_project(project, everyone, api_client, request, who):
    assert_error(api_client(request.getfixturevalue(who)).delete(detail(project)), 403)
    assert Project.objects.filter(pk=project.pk).exists()


def test_an_outsider_cannot_delete_the_project(project, outsider, api_client):
    assert_error(api_client(outsider).delete(detail(project)), 404)
    assert Project.objects.filter(pk=project.pk).exists()


def test_a_superuser_deletes_any_project(project, superuser, api_client):
    assert api_client(superuser).delete(detail(project)).status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


# --- 401 on every route ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
@pytest.mark.parametrize(
    "method,path,data",
    [
        ("get", "/api/projects/", None),
        ("post", "/api/projects/", {"name": "X"}),
        ("get", "/api/projects/{p}/", None),
        ("patch", "/api/projects/{p}/", {"name": "X"}),
        ("delete", "/api/projects/{p}/", None),
        ("get", "/api/projects/{p}/members/", None),
        ("post", "/api/projects/{p}/members/", {"email": "member@example.com"}),
        ("patch", "/api/projects/{p}/members/{m}/", {"role": "admin"}),
        ("delete", "/api/projects/{p}/members/{m}/", None),
    ],
)
def test_project_routes_need_a_valid_token(project, owner, member, kind, method, path, data):
    m = Membership.objects.get(project=project, user=member)
    url = path.format(p=project.pk, m=m.pk)
    response = getattr(bad_client(kind, owner), method)(url, data)
    assert_error(response, 401)
    # and nothing changed
    project.refresh_from_db()
    assert project.name == "Acme"
    assert Membership.objects.filter(project=project).count() == 2
    assert Project.objects.count() == 1
