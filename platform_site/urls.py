from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from platform_site.health import healthz
from platform_site.metrics import metrics_view

api_patterns = [
    path("auth/", include("accounts.urls")),
    # Each app's urls.py holds full paths below /api/; project-scoped ones start with
    # "projects/<uuid:project_id>/" and go through projects.tenancy.ProjectScopedMixin.
    path("", include("projects.urls")),
    path("", include("agents.urls")),
    path("", include("memory.urls")),
    path("", include("scheduling.urls")),
    path("", include("inference.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Prometheus: django-prometheus's metrics and ours (platform_site/metrics.py).
    path("metrics", metrics_view, name="prometheus-metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/", include(api_patterns)),
]
