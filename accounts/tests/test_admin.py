import pytest

from accounts.models import User


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_user_changelist_searches_by_email(admin_client, owner, member):
    response = admin_client.get("/admin/accounts/user/", {"q": "member@"})
    assert response.status_code == 200
    users = list(response.context["cl"].result_list)
    assert users == [member]


def test_user_changelist_filters_superusers(admin_client, owner, superuser):
    response = admin_client.get("/admin/accounts/user/", {"is_superuser__exact": "1"})
    assert list(response.context["cl"].result_list) == [superuser]


def test_user_change_page_shows_the_users_projects(admin_client, member, project):
    response = admin_client.get(f"/admin/accounts/user/{member.pk}/change/")
    assert response.status_code == 200
    assert "Acme" in response.content.decode()


def test_a_superuser_adds_a_user_with_an_email(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Fresh@Example.com",
            "full_name": "Fresh",
            "usable_password": "true",
            "password1": "a-long-fine-password-77",
            "password2": "a-long-fine-password-77",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="fresh@example.com")
    assert user.check_password("a-long-fine-password-77")


def test_the_admin_rejects_an_email_taken_in_another_case(admin_client, owner):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "OWNER@example.com",
            "usable_password": "true",
            "password1": "a-long-fine-password-77",
            "password2": "a-long-fine-password-77",
        },
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="owner@example.com").count() == 1


def test_a_non_staff_user_cannot_use_the_admin(client, owner):
    client.force_login(owner)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
