from django.urls import path

from inboxes import views

urlpatterns = [
    path("settings/", views.settings_home, name="settings_home"),
]
