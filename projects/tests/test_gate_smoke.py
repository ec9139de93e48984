import pytest
from rest_framework.exceptions import NotFound

from projects.selectors import project_access_for_user, project_user_has_perm


def test_roles_resolve_through_the_gate(project, owner, member, viewer, outsider, superuser):
    assert project_access_for_user(project_id=project.pk, user=owner).role == "admin"
    assert project_access_for_user(project_id=project.pk, user=member).role == "member"
    assert project_access_for_user(project_id=project.pk, user=viewer).role == "viewer"
    assert project_access_for_user(project_id=project.pk, user=superuser).membership is None
    with pytest.raises(NotFound):
        project_access_for_user(project_id=project.pk, user=outsider)


def test_guardian_permissions_follow_role_groups(project, owner, member, viewer):
    assert project_user_has_perm(user=owner, project=project, perm="manage_project")
    assert project_user_has_perm(user=member, project=project, perm="contribute_project")
    assert not project_user_has_perm(user=member, project=project, perm="manage_project")
    assert not project_user_has_perm(user=viewer, project=project, perm="contribute_project")
