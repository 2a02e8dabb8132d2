from django.urls import path

from health import views

app_name = "health"
urlpatterns = [
    path("code/", views.code, name="code"),
    path("code/refresh/", views.code_refresh, name="code_refresh"),
    path("sampling-code/", views.sampling_code, name="sampling_code"),
    path("sampling-code/<int:person_id>/print/", views.sampling_card, name="sampling_card"),
    path("history/", views.history, name="history"),
    path("change/", views.change, name="change"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/<str:action>/", views.approval_action, name="approval_action"),
    path("rules/", views.rules, name="rules"),
    path("rules/job/", views.rules_job, name="rules_job"),
    path("ping/", views.ping, name="ping"),
]
