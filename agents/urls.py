from django.urls import path

from . import api

app_name = "agents"

P = "projects/<uuid:project_id>/"
agents = api.AgentViewSet.as_view({"get": "list", "post": "create"})
agent = api.AgentViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
conversations = api.ConversationViewSet.as_view({"get": "list", "post": "create"})
conversation = api.ConversationViewSet.as_view({"get": "retrieve", "delete": "destroy"})

urlpatterns = [
    path("tools/", api.ToolListView.as_view(), name="tool-list"),
    path(f"{P}agents/", agents, name="agent-list"),
    path(f"{P}agents/<uuid:agent_id>/", agent, name="agent-detail"),
    path(f"{P}agents/<uuid:agent_id>/tools/", api.AgentToolsView.as_view(), name="agent-tools"),
    path(f"{P}conversations/", conversations, name="conversation-list"),
    path(f"{P}conversations/<uuid:conversation_id>/", conversation, name="conversation-detail"),
    path(
        f"{P}conversations/<uuid:conversation_id>/messages/",
        api.MessageListView.as_view(),
        name="message-list",
    ),
    path(f"{P}conversations/<uuid:conversation_id>/events/", api.EventListView.as_view(), name="event-list"),
    path(
        f"{P}conversations/<uuid:conversation_id>/cancel/",
        api.CancelView.as_view(),
        name="conversation-cancel",
    ),
]
