"""Pages of field verification and the Special Commission. Each workflow step is a POST to
`<record>/<step>/`; the steps are listed in views.VERIFICATION_STEPS and views.CASE_STEPS."""

from django.urls import path

from . import views

urlpatterns = [
    path("verification/", views.review_queue, name="review-queue"),
    path("verification/open/", views.verification_open, name="verification-open"),
    path("verification/<int:pk>/", views.verification_page, name="verification"),
    path("verification/<int:pk>/<slug:step>/", views.verification_step, name="verification-step"),
    path("commission/", views.commission, name="commission"),
    path("commission/refer/", views.case_refer, name="case-refer"),
    path("commission/cases/<int:pk>/", views.case_page, name="case"),
    path("commission/cases/<int:pk>/<slug:step>/", views.case_step, name="case-step"),
]
