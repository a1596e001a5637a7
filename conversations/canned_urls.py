from django.urls import path

from conversations import canned_views as views

settings = "settings/orgs/<uuid:org_id>/responses/"
one = settings + "<uuid:response_id>/"

urlpatterns = [
    path(settings, views.responses_settings, name="settings_responses"),
    path(settings + "new/", views.create_response, name="settings_response_create"),
    path(settings + "preferences/", views.responses_preferences, name="settings_responses_preferences"),
    path(one, views.edit_response, name="settings_response"),
    path(one + "save/", views.update_response, name="settings_response_update"),
    path(one + "delete/", views.delete_response, name="settings_response_delete"),
    path(one + "files/", views.add_response_file, name="settings_response_files"),
    path(
        one + "files/<uuid:response_file_id>/remove/",
        views.remove_response_file,
        name="settings_response_file_remove",
    ),
    path("responses/panel/", views.responses_panel, name="responses_panel"),
    path("responses/suggest/", views.response_suggestions, name="response_suggestions"),
    path("responses/editor/", views.response_panel_form, name="response_panel_form"),
    path("responses/<uuid:response_id>/", views.response_preview, name="response_preview"),
    path("responses/files/<uuid:response_file_id>/", views.response_file, name="response_file"),
    path("drafts/<uuid:draft_id>/responses/<uuid:response_id>/insert/", views.insert_response, name="insert_response"),
]
