"""Agents, the tool registry, conversations, messages and the per-conversation event log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from platform_site.db import TimeStampedModel


class Agent(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=120)
    purpose = models.TextField(blank=True)
    system_prompt = models.TextField(blank=True)
    model_name = models.CharField(max_length=120)  # a chat model of settings.INFERENCE_MODELS
    temperature = models.FloatField(default=0.7)
    top_p = models.FloatField(default=0.95)
    max_tokens = models.PositiveIntegerField(default=256)
    context_window = models.PositiveIntegerField(null=True, blank=True)  # None: the model's n_ctx
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    memory_enabled = models.BooleanField(default=False)
    memory_top_k = models.PositiveSmallIntegerField(default=4)
    # "auto", "none", or a tool name: the model is made to call that tool on every step until
    # max_tool_steps, then answers without tools (small models cannot pick tools themselves).
    tool_choice = models.CharField(max_length=64, default="auto")
    max_tool_steps = models.PositiveSmallIntegerField(default=4)
    tools: models.ManyToManyField = models.ManyToManyField(
        "Tool", through="AgentTool", related_name="agents", blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TimeStampedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="agent_unique_name_per_project"),
            models.CheckConstraint(
                condition=Q(temperature__gte=0, temperature__lte=2), name="agent_temperature_range"
            ),
            models.CheckConstraint(condition=Q(top_p__gt=0, top_p__lte=1), name="agent_top_p_range"),
            models.CheckConstraint(
                condition=Q(max_tokens__gte=1, max_tokens__lte=8192), name="agent_max_tokens_range"
            ),
            models.CheckConstraint(condition=Q(status__in=["active", "paused"]), name="agent_status_valid"),
            models.CheckConstraint(condition=Q(memory_top_k__lte=50), name="agent_memory_top_k_range"),
        ]

    def __str__(self) -> str:
        return self.name


class Tool(TimeStampedModel):
    """A registry row, written by `tool_registry_sync()` from the `@tool` registrations."""

    name = models.CharField(max_length=64, unique=True)
    description = models.TextField()
    parameters = models.JSONField(default=dict)  # JSON Schema of the arguments
    handler = models.CharField(max_length=255)  # dotted path, for the admin and audits
    enabled = models.BooleanField(default=True)  # superusers switch a tool off for everyone

    class Meta(TimeStampedModel.Meta):
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class AgentTool(TimeStampedModel):
    """A tool one agent may call (the server-side allow-list), with its per-agent config."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="agent_tools")
    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="agent_tools")
    config = models.JSONField(default=dict, blank=True)

    class Meta(TimeStampedModel.Meta):
        ordering = ("tool__name",)
        constraints = [
            models.UniqueConstraint(fields=["agent", "tool"], name="agenttool_unique_tool_per_agent")
        ]


class Conversation(TimeStampedModel):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="conversations")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="conversations")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set for an agent-to-agent conversation (ask_agent): the agent that asks.
    asker_agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="asked_conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)  # the seq of the newest event
    # One turn at a time: the worker running turns holds this lease (renewed per turn).
    lease_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta(TimeStampedModel.Meta):
        indexes = [
            # conversation_list: filter(project=…) order by -created_at
            models.Index(fields=["project", "-created_at"], name="conversation_project_idx"),
        ]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Message(TimeStampedModel):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        TOOL = "tool", "Tool"
        SYSTEM = "system", "System"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    # Bus addressing: each side is a user, an agent, or the system (a label like "system:scheduler").
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender_agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender_system = models.CharField(max_length=64, blank=True)
    receiver_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receiver_agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receiver_system = models.CharField(max_length=64, blank=True)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    error = models.TextField(blank=True)
    usage = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    tool_calls = models.JSONField(default=list, blank=True)  # assistant: the calls it made
    tool_name = models.CharField(max_length=64, blank=True)  # tool: which tool answered
    citations = models.JSONField(default=list, blank=True)  # memory entries the answer used
    client_id = models.CharField(max_length=100, null=True, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancel_requested = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TimeStampedModel.Meta):
        ordering = ("created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id_per_conversation",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["user", "assistant", "tool", "system"]), name="message_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "completed", "failed", "cancelled"]),
                name="message_status_valid",
            ),
        ]
        indexes = [
            # History for the prompt and the messages list: filter(conversation=…) order by created_at
            models.Index(fields=["conversation", "created_at"], name="message_conversation_time_idx"),
            # The turn loop: the oldest queued inbound message; the running one for cancel
            models.Index(
                fields=["conversation", "status"],
                condition=Q(status__in=["queued", "running"]),
                name="message_open_idx",
            ),
        ]


class ConversationEvent(models.Model):
    """One protocol event, stored before or as it is sent, so that a client can replay it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("conversation", "seq")
        constraints = [
            # Also serves replay: filter(conversation=…, seq__gt=N) order by seq
            models.UniqueConstraint(fields=["conversation", "seq"], name="event_unique_seq_per_conversation"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.type}"

    def as_wire(self) -> dict:
        return {"type": self.type, "seq": self.seq, **self.payload}
