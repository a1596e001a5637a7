from django.urls import include, path

from channels_app import alias_views, api_views, outbox_views, views
from channels_app.custom import views as custom_views

accounts = "settings/orgs/<uuid:org_id>/accounts/"
account = accounts + "<uuid:account_id>/"
alias = account + "aliases/<uuid:alias_id>/"

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
    path(account + "aliases/", alias_views.account_aliases, name="settings_account_aliases"),
    path(account + "aliases/add/", alias_views.create_alias, name="settings_alias_create"),
    path(alias, alias_views.alias_settings, name="settings_alias"),
    path(alias + "save/", alias_views.update_alias, name="settings_alias_update"),
    path(alias + "delete/", alias_views.delete_alias, name="settings_alias_delete"),
    path(alias + "mine/", alias_views.update_own_alias_setting, name="settings_alias_own"),
    path(accounts + "add/custom/", custom_views.add_custom_channel, name="settings_account_add_custom"),
    path(accounts + "add/custom/create/", custom_views.create_custom_channel, name="settings_account_create_custom"),
    path(account + "channel/", custom_views.custom_channel_settings, name="settings_custom_channel"),
    path(account + "channel/save/", custom_views.update_custom_channel, name="settings_custom_channel_update"),
    path(account + "channel/aliases/add/", custom_views.add_channel_alias, name="settings_custom_alias_add"),
    path(
        account + "channel/aliases/<uuid:alias_id>/delete/",
        custom_views.delete_channel_alias,
        name="settings_custom_alias_delete",
    ),
    path("settings/api/", api_views.api_settings, name="settings_api"),
    path("settings/api/tokens/", api_views.create_api_token, name="settings_api_token_create"),
    path("settings/api/tokens/<uuid:token_id>/revoke/", api_views.revoke_api_token, name="settings_api_token_revoke"),
    path("settings/api/ids/", api_views.resource_ids, name="settings_api_ids"),
    path("api-files/<str:signed>/", api_views.api_file, name="api_file"),
    path("", include("channels_app.twilio.urls")),
]
