from django.contrib import admin

from .models import InferenceUsage


@admin.register(InferenceUsage)
class InferenceUsageAdmin(admin.ModelAdmin):
    list_display = (
        "created_at", "project", "user", "model", "kind", "status",
        "prompt_tokens", "completion_tokens", "duration_ms", "time_to_first_token_ms",
    )  # fmt: skip
    list_filter = ("kind", "status", "model")
    list_select_related = ("project", "user")
    search_fields = ("project__name", "user__email", "model", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in InferenceUsage._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
