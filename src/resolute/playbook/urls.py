"""Pages of the attack-response playbook (the API's routes are in api.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("playbook/", views.playbook, name="playbook"),
    path("playbook/tasks/<int:pk>/", views.task_update, name="task-update"),
]
