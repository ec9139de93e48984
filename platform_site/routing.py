"""WebSocket routes, collected from the apps."""

from django.urls import URLPattern

from agents.routing import websocket_urlpatterns as agents_websocket_urlpatterns

websocket_urlpatterns: list[URLPattern] = [*agents_websocket_urlpatterns]
