from django.contrib import admin

from .models import Agent, AgentTool, Conversation, ConversationEvent, Message, Tool


@admin.register(Tool)
class ToolAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "handler")
    list_editable = ("enabled",)
    list_filter = ("enabled",)
    search_fields = ("name", "description")
    readonly_fields = ("name", "handler", "parameters", "description")


class AgentToolInline(admin.TabularInline):
    model = AgentTool
    extra = 0


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "model_name", "status", "memory_enabled", "created_at")
    list_filter = ("status", "memory_enabled", "model_name")
    list_select_related = ("project",)
    search_fields = ("name", "purpose", "project__name")
    inlines = [AgentToolInline]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "project", "agent", "created_by", "last_seq", "created_at")
    list_select_related = ("project", "agent", "created_by")
    list_filter = ("agent__status",)
    search_fields = ("title", "agent__name", "project__name", "created_by__email")
    date_hierarchy = "created_at"
    raw_id_fields = ("project", "agent", "created_by", "asker_agent")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "role", "status", "created_at")
    list_filter = ("role", "status")
    list_select_related = ("conversation",)
    search_fields = ("content", "conversation__title", "conversation__project__name")
    raw_id_fields = (
        "conversation",
        "sender_user",
        "sender_agent",
        "receiver_user",
        "receiver_agent",
        "reply_to",
    )


@admin.register(ConversationEvent)
class ConversationEventAdmin(admin.ModelAdmin):
    list_display = ("conversation", "seq", "type", "created_at")
    list_filter = ("type",)
    raw_id_fields = ("conversation",)
