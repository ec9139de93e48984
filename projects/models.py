from django.conf import settings
from django.db import models

from platform_site.db import TimeStampedModel


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Project(TimeStampedModel):
    """A tenant. Everything a project owns has a `project` foreign key, directly or via its parent."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set by superusers in the admin; enforced by projects.usage.quota_check.
    daily_token_quota = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Tokens (prompt + completion) per UTC day; empty: the platform default.",
    )

    class Meta(TimeStampedModel.Meta):
        permissions = [
            ("contribute_project", "Chat with the project's agents and add memory"),
            ("manage_project", "Manage the project's members, agents, tools, schedules and memory"),
        ]

    def __str__(self) -> str:
        return self.name

    def role_group_name(self, role: str) -> str:
        return f"project:{self.pk}:{role}"


class Membership(TimeStampedModel):
    """A user's role in one project. The user is also in the project's role group (guardian)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta(TimeStampedModel.Meta):
        ordering = ("created_at",)
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user_per_project"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]
        indexes = [
            # The tenant gate: `Membership.objects.filter(user=…, project_id=…)` on every request,
            # and "my projects" lists (filter by user).
            models.Index(fields=["user", "project"], name="membership_user_project_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"
