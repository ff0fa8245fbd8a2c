"""Pages of the Multinational Force (the API's routes are in api.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("forces/", views.force_board, name="force-board"),
    path("forces/offers/<int:pk>/status/", views.offer_move, name="offer-move"),
    path("forces/offers/<int:pk>/readiness/", views.offer_readiness, name="offer-readiness"),
]
