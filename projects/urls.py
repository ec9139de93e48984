from django.urls import path

from . import api, dashboard, usage

app_name = "projects"
urlpatterns = [
    path("projects/", api.ProjectListCreateView.as_view(), name="project-list"),
    path("projects/<uuid:project_id>/", api.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<uuid:project_id>/members/", api.MemberListCreateView.as_view(), name="member-list"),
    path(
        "projects/<uuid:project_id>/members/<uuid:member_id>/",
        api.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path("projects/<uuid:project_id>/dashboard/", dashboard.ProjectDashboardView.as_view(), name="dashboard"),
    path("projects/<uuid:project_id>/usage/", usage.ProjectUsageView.as_view(), name="usage"),
]
