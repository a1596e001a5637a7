from django.urls import path

from conversations import signature_views

signatures = "settings/orgs/<uuid:org_id>/signatures/"
signature = signatures + "<uuid:signature_id>/"

urlpatterns = [
    path(signatures, signature_views.signatures_settings, name="settings_signatures"),
    path(signatures + "new/", signature_views.new_signature, name="settings_signature_new"),
    path(signatures + "create/", signature_views.create_signature, name="settings_signature_create"),
    path(signature, signature_views.signature_settings, name="settings_signature"),
    path(signature + "save/", signature_views.update_signature, name="settings_signature_update"),
    path(signature + "delete/", signature_views.delete_signature, name="settings_signature_delete"),
    path(signature + "aliases/", signature_views.link_signature, name="settings_signature_link"),
    path(signature + "preview/", signature_views.preview_signature, name="settings_signature_preview"),
]
