from django.urls import path

from . import api

app_name = "inference"
urlpatterns = [
    path("inference/models/", api.ModelListView.as_view(), name="model-list"),
    path("projects/<uuid:project_id>/inference/generate/", api.GenerateView.as_view(), name="generate"),
    path("projects/<uuid:project_id>/inference/embed/", api.EmbedView.as_view(), name="embed"),
]
