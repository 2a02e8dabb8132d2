from django.urls import path

from territory import views

app_name = "territory"
urlpatterns = [
    path("", views.tree, name="tree"),
    path("<int:pk>/", views.area_detail, name="area"),
]
