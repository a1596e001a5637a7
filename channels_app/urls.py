from django.urls import path

from channels_app import outbox_views, views

accounts = "settings/orgs/<uuid:org_id>/accounts/"
account = accounts + "<uuid:account_id>/"

urlpatterns = [
    path(accounts + "add/imap/", views.add_imap_account, name="settings_account_add_imap"),
    path(accounts + "add/imap/connect/", views.connect_imap_account, name="settings_account_connect_imap"),
    path(account, views.account_settings, name="settings_account"),
    path(account + "save/", views.update_account, name="settings_account_update"),
    path(account + "history/", views.account_history, name="settings_account_history"),
    path(account + "history/save/", views.update_account_history, name="settings_account_history_update"),
    path(account + "mailboxes/", views.account_mailboxes, name="settings_account_mailboxes"),
    path(account + "mailboxes/save/", views.update_account_mailboxes, name="settings_account_mailboxes_update"),
    path(account + "connection/", views.account_connection, name="settings_account_connection"),
    path(account + "connection/reconnect/", views.reconnect_account, name="settings_account_reconnect"),
    path(account + "connection/failed/retry/", views.retry_failed_messages, name="settings_account_retry_failed"),
    path(
        account + "connection/failed/<int:imap_message_id>/raw/",
        views.failed_message_raw,
        name="settings_account_failed_raw",
    ),
    path("messages/<uuid:message_id>/outbox/", outbox_views.outbox_status, name="outbox_status"),
    path("messages/<uuid:message_id>/outbox/retry/", outbox_views.retry_outbox, name="outbox_retry"),
]
