"""Pages of the support ledger (the API's routes are in api.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/pledges/<int:pk>/", views.pledge_page, name="pledge"),
]
