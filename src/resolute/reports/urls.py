"""Mounted at /reports/ by the project's urls."""

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("weekly/<str:day>.html", views.weekly_html, name="weekly"),
    path("<str:day>/<str:edition>.html", views.report_html, name="html"),
    path("<str:day>/<str:edition>.pdf", views.report_pdf, name="pdf"),
]
