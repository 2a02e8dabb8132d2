from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/phone/", views.phone_login_view, name="phone_login"),
    path("logout/", views.logout_view, name="logout"),
    path("outbox/", views.outbox_view, name="outbox"),
]
