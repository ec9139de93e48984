from django.urls import path

from . import api

app_name = "memory"
urlpatterns = [
    path("projects/<uuid:project_id>/memory/", api.MemoryEntryListCreateView.as_view(), name="entry-list"),
    # Before the detail route, so "search" is never taken for an entry id (it isn't a UUID anyway).
    path("projects/<uuid:project_id>/memory/search/", api.MemorySearchView.as_view(), name="search"),
    path(
        "projects/<uuid:project_id>/memory/<uuid:entry_id>/",
        api.MemoryEntryDetailView.as_view(),
        name="entry-detail",
    ),
    path("projects/<uuid:project_id>/documents/", api.DocumentListCreateView.as_view(), name="document-list"),
    path(
        "projects/<uuid:project_id>/documents/<uuid:document_id>/",
        api.DocumentDetailView.as_view(),
        name="document-detail",
    ),
]
