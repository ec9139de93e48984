"""What each role may do, as guardian permissions on the Project granted to the role's group."""

from .models import Role

VIEW = "view_project"
CONTRIBUTE = "contribute_project"
MANAGE = "manage_project"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.VIEWER: (VIEW,),
    Role.MEMBER: (VIEW, CONTRIBUTE),
    Role.ADMIN: (VIEW, CONTRIBUTE, MANAGE, "change_project", "delete_project"),
}
