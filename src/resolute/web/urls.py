from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import include, path

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
    path("i18n/", include("django.conf.urls.i18n")),
    path("", lambda request: HttpResponseRedirect("/api/v1/docs")),
]
