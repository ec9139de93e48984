"""Usage records: one row per chat completion or embedding call served by the worker."""

from django.conf import settings
from django.db import models

from platform_site.db import TimeStampedModel


class UsageKind(models.TextChoices):
    CHAT = "chat", "Chat completion"
    EMBEDDING = "embedding", "Embedding"


class UsageStatus(models.TextChoices):
    OK = "ok", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    ERROR = "error", "Failed"


class InferenceUsage(TimeStampedModel):
    """What one request cost. `project` and `user` are empty for platform-internal calls."""

    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inference_usage",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    request_id = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=UsageKind.choices)
    status = models.CharField(max_length=16, choices=UsageStatus.choices, default=UsageStatus.OK)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=64, blank=True)

    class Meta(TimeStampedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=[k.value for k in UsageKind]),
                name="inference_usage_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in UsageStatus]),
                name="inference_usage_status_valid",
            ),
        ]
        indexes = [
            # usage_summary(project=…, since=…): a project's usage over a period (the dashboard).
            models.Index(fields=["project", "created_at"], name="inference_usage_project_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.model} {self.status} ({self.prompt_tokens}+{self.completion_tokens})"
