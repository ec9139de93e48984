from django.urls import path

from .consumers import ChatConsumer

websocket_urlpatterns = [
    path(
        "ws/projects/<uuid:project_id>/conversations/<uuid:conversation_id>/",
        ChatConsumer.as_asgi(),
        name="chat",
    ),
]
