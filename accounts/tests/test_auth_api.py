import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.tests.tokens import BAD_TOKEN_KINDS, assert_error, bad_client
from projects.tests.factories import MembershipFactory, ProjectFactory

PASSWORD = "correct-horse-battery-9"  # the factories' password


def login(email: str, password: str = PASSWORD):
    return APIClient().post("/api/auth/token/", {"email": email, "password": password})


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- token/ ---------------------------------------------------------------------------------


def test_login_gives_a_pair_whose_access_token_works(owner):
    response = login("owner@example.com")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    me = bearer(response.json()["access"]).get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json()["email"] == "owner@example.com"


def test_login_matches_the_email_case_insensitively(owner):
    assert login("  Owner@EXAMPLE.com").status_code == 200


def test_login_records_last_login(owner):
    assert owner.last_login is None
    login("owner@example.com")
    owner.refresh_from_db()
    assert owner.last_login is not None


@pytest.mark.parametrize(
    "email,password", [("owner@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)]
)
def test_login_with_wrong_credentials_is_401(owner, email, password):
    response = login(email, password)
    assert_error(response, 401)
    assert "access" not in response.json()


def test_an_inactive_user_cannot_log_in(owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert_error(login("owner@example.com"), 401)


@pytest.mark.parametrize("missing", ["email", "password"])
def test_login_without_a_field_is_400_naming_it(owner, missing):
    data = {"email": "owner@example.com", "password": PASSWORD}
    del data[missing]
    assert_error(APIClient().post("/api/auth/token/", data), 400, attr=missing, code="required")


def test_login_ignores_a_bad_authorization_header(owner):
    client = bad_client("forged", owner)
    response = client.post("/api/auth/token/", {"email": "owner@example.com", "password": PASSWORD})
    assert response.status_code == 200


def test_auth_routes_are_throttled(owner, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "auth", "3/min")
    statuses = [login("owner@example.com", "wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # The limit is on the route's scope, not on this one view: refresh shares it.
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": "x"})
    assert_error(response, 429, code="throttled")


# --- token/refresh/ -------------------------------------------------------------------------


def test_refresh_rotates_and_revokes_the_old_refresh_token(owner):
    pair = login("owner@example.com").json()
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != pair["refresh"]
    assert bearer(new["access"]).get("/api/auth/me/").status_code == 200
    # The old refresh token was blacklisted by the rotation.
    again = APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert_error(again, 401, code="token_not_valid")


def test_refresh_with_garbage_is_401(db):
    assert_error(APIClient().post("/api/auth/token/refresh/", {"refresh": "not.a.jwt"}), 401)


def test_refresh_with_an_access_token_is_401(owner):
    access = login("owner@example.com").json()["access"]
    assert_error(APIClient().post("/api/auth/token/refresh/", {"refresh": access}), 401)


def test_refresh_without_the_field_is_400_naming_it(db):
    assert_error(APIClient().post("/api/auth/token/refresh/", {}), 400, attr="refresh")


# --- logout/ --------------------------------------------------------------------------------


def test_logout_revokes_the_refresh_token(owner):
    pair = login("owner@example.com").json()
    response = bearer(pair["access"]).post("/api/auth/logout/", {"refresh": pair["refresh"]})
    assert response.status_code == 205
    assert not response.content
    refresh = APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert_error(refresh, 401, code="token_not_valid")


def test_logout_twice_is_400_naming_refresh(owner):
    pair = login("owner@example.com").json()
    client = bearer(pair["access"])
    assert client.post("/api/auth/logout/", {"refresh": pair["refresh"]}).status_code == 205
    again = client.post("/api/auth/logout/", {"refresh": pair["refresh"]})
    assert_error(again, 400, attr="refresh", code="token_not_valid")


@pytest.mark.parametrize("refresh", ["garbage", ""])
def test_logout_with_a_bad_refresh_token_is_400_naming_it(owner, api_client, refresh):
    assert_error(api_client(owner).post("/api/auth/logout/", {"refresh": refresh}), 400, attr="refresh")


def test_logout_without_the_field_is_400_naming_it(owner, api_client):
    assert_error(api_client(owner).post("/api/auth/logout/", {}), 400, attr="refresh", code="required")


def test_nobody_can_revoke_someone_elses_refresh_token(owner, member, api_client):
    victims = str(RefreshToken.for_user(member))
    response = api_client(owner).post("/api/auth/logout/", {"refresh": victims})
    assert_error(response, 400, attr="refresh")
    assert APIClient().post("/api/auth/token/refresh/", {"refresh": victims}).status_code == 200


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_logout_needs_a_valid_access_token(owner, kind):
    refresh = str(RefreshToken.for_user(owner))
    response = bad_client(kind, owner).post("/api/auth/logout/", {"refresh": refresh})
    assert_error(response, 401)
    # Nothing was revoked.
    assert APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}).status_code == 200


# --- me/ ------------------------------------------------------------------------------------


def test_me_lists_the_users_projects_with_their_role(owner, member, project, api_client):
    second = ProjectFactory(name="Beta", created_by=UserFactory())
    MembershipFactory(project=second, user=member, role="viewer")
    body = api_client(member).get("/api/auth/me/").json()
    assert body["email"] == "member@example.com"
    assert body["full_name"] == "Member"
    assert body["is_superuser"] is False
    assert body["id"] == str(member.pk)
    assert body["projects"] == [
        {"id": str(project.pk), "name": "Acme", "role": "member"},
        {"id": str(second.pk), "name": "Beta", "role": "viewer"},
    ]
    assert "password" not in body


def test_me_query_count_does_not_grow_with_projects(member, project, api_client, django_assert_num_queries):
    for n in range(3):
        MembershipFactory(project=ProjectFactory(name=f"P{n}", created_by=UserFactory()), user=member)
    client = api_client(member)
    # 1. the user named by the JWT; 2. the user's memberships joined with their projects
    with django_assert_num_queries(2):
        response = client.get("/api/auth/me/")
    assert len(response.json()["projects"]) == 4


def test_me_shows_a_superuser_as_one(superuser, api_client):
    body = api_client(superuser).get("/api/auth/me/").json()
    assert body["is_superuser"] is True
    assert body["projects"] == []


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_me_with_no_expired_or_forged_token_is_401(owner, kind):
    response = bad_client(kind, owner).get("/api/auth/me/")
    assert_error(response, 401, code="not_authenticated" if kind == "none" else "token_not_valid")


def test_me_of_a_deactivated_user_is_401(owner, api_client):
    client = api_client(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert_error(client.get("/api/auth/me/"), 401)


# --- register/ ------------------------------------------------------------------------------


@pytest.fixture
def signup(db, settings):
    settings.SIGNUP_ENABLED = True


def register(**data):
    return APIClient().post("/api/auth/register/", data)


def test_register_is_404_when_signup_is_disabled(db, settings):
    settings.SIGNUP_ENABLED = False
    response = register(email="new@example.com", password="a-long-fine-password-77")
    assert_error(response, 404)
    assert not User.objects.filter(email="new@example.com").exists()


def test_register_creates_a_user_who_can_log_in(signup):
    response = register(email="New@Example.com", password="a-long-fine-password-77", full_name="Neo")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["full_name"] == "Neo"
    assert body["is_superuser"] is False
    assert "password" not in body
    user = User.objects.get(pk=body["id"])
    assert not user.is_staff
    assert login("new@example.com", "a-long-fine-password-77").status_code == 200


@pytest.mark.parametrize(
    "password",
    ["short1", "password123", "12345678901", "new@example.com"],
    ids=["short", "common", "numeric", "email"],
)
def test_register_rejects_weak_passwords_naming_password(signup, password):
    assert_error(register(email="new@example.com", password=password), 400, attr="password")
    assert not User.objects.filter(email="new@example.com").exists()


def test_register_rejects_a_taken_email_in_any_case(signup, owner):
    response = register(email="OWNER@example.com", password="a-long-fine-password-77")
    assert_error(response, 400, attr="email", code="unique")
    assert User.objects.filter(email__iexact="owner@example.com").count() == 1


@pytest.mark.parametrize(
    "data,attr",
    [
        ({"password": "a-long-fine-password-77"}, "email"),
        ({"email": "not-an-email", "password": "a-long-fine-password-77"}, "email"),
        ({"email": "new@example.com"}, "password"),
    ],
)
def test_register_bad_input_is_400_naming_the_field(signup, data, attr):
    assert_error(register(**data), 400, attr=attr)
