from django.contrib import admin
from django.urls import include, path

from resolute.monitoring import views as monitoring

from . import views
from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # OGC API – Features (incidents, observations), for GIS clients; read through restrict().
    path("ogc/", include("resolute.interop.ogcapi")),
    # OpenRosa 1.0 for ODK Collect / KoboCollect (offline field capture).
    path("openrosa/", include("resolute.interop.openrosa")),
    # Daily and weekly reports (public and restricted editions, HTML and PDF).
    path("reports/", include("resolute.reports.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("language/", views.set_language, name="set-language"),
    # The web application: the map first, then a page per element of the guarantee.
    path("", monitoring.situation_map, name="situation-map"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("incidents/<int:pk>/", monitoring.incident_page, name="incident"),
    path("observations/new/", monitoring.observation_new, name="observation-new"),
    path("", include("resolute.commission.urls")),
    path("", include("resolute.support.urls")),
    path("", include("resolute.forces.urls")),
    path("", include("resolute.playbook.urls")),
]
