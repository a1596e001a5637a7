from django.urls import path

from channels_app.twilio import views

accounts = "settings/orgs/<uuid:org_id>/accounts/"
account = accounts + "<uuid:account_id>/"

urlpatterns = [
    path(accounts + "add/twilio/<slug:slug>/", views.add_twilio_account, name="settings_account_add_twilio"),
    path(
        accounts + "add/twilio/<slug:slug>/connect/",
        views.connect_twilio_account,
        name="settings_account_connect_twilio",
    ),
    path(account + "whatsapp-templates/", views.whatsapp_templates, name="settings_whatsapp_templates"),
    path(account + "whatsapp-templates/add/", views.add_whatsapp_template, name="settings_whatsapp_template_add"),
    path(
        account + "whatsapp-templates/<uuid:template_id>/delete/",
        views.delete_whatsapp_template,
        name="settings_whatsapp_template_delete",
    ),
    path("drafts/<uuid:draft_id>/whatsapp-templates/", views.whatsapp_template_picker, name="whatsapp_template_picker"),
    path(
        "drafts/<uuid:draft_id>/whatsapp-templates/<uuid:template_id>/send/",
        views.send_whatsapp_template,
        name="whatsapp_template_send",
    ),
    path("twilio", views.twilio_inbound_routed, name="twilio_inbound_routed"),
    path("twilio/<uuid:account_id>/sms", views.twilio_inbound, name="twilio_inbound"),
    path("twilio/<uuid:account_id>/status", views.twilio_status, name="twilio_status"),
    path("twilio/media/<str:token>", views.twilio_media, name="twilio_media"),
]
