from django.urls import path

from conversations import action_views, mail_views, merge_views, search_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("sidebar/", views.sidebar_view, name="sidebar"),
    path("m/<slug:key>/", views.mailbox_view, name="mailbox"),
    path("m/<slug:key>/<uuid:conversation_id>/", views.mailbox_view, name="conversation"),
    path("teams/<uuid:team_id>/<slug:key>/", views.team_mailbox_view, name="team_mailbox"),
    path(
        "teams/<uuid:team_id>/<slug:key>/<uuid:conversation_id>/",
        views.team_mailbox_view,
        name="team_conversation",
    ),
    path("labels/<uuid:label_id>/", views.label_mailbox_view, name="label_mailbox"),
    path("labels/<uuid:label_id>/<uuid:conversation_id>/", views.label_mailbox_view, name="label_conversation"),
    path("c/<uuid:conversation_id>/act/<slug:action>/", action_views.conversation_action, name="conversation_action"),
    path("c/<uuid:conversation_id>/mentions/", views.mention_suggestions, name="mention_suggestions"),
    path("bulk/<slug:action>/", action_views.bulk_action, name="bulk_action"),
    path("searches/suggest/", search_views.search_suggestions, name="search_suggestions"),
    path("searches/filters/", search_views.search_filters, name="search_filters"),
    path("searches/save/", search_views.save_search, name="save_search"),
    path("searches/<slug:saved_search_id>/delete/", search_views.delete_saved_search, name="delete_saved_search"),
    path("attachments/<uuid:attachment_id>/", views.attachment_download, name="attachment_download"),
    path("messages/<uuid:message_id>/body/", mail_views.message_body, name="message_body"),
    path("messages/<uuid:message_id>/cid/<str:content_id>", mail_views.message_inline_part, name="message_inline_part"),
    path("messages/<uuid:message_id>/raw/", mail_views.message_raw, name="message_raw"),
    path("img-proxy/", mail_views.image_proxy, name="image_proxy"),
    path("c/<uuid:conversation_id>/merge/", merge_views.merge_dialog, name="merge_dialog"),
    path("c/<uuid:conversation_id>/merge/candidates/", merge_views.merge_candidates, name="merge_candidates"),
    path("c/<uuid:conversation_id>/merge/do/", merge_views.merge_conversation, name="merge_conversation"),
    path("merge/", merge_views.merge_batch_dialog, name="merge_batch_dialog"),
    path("merge/do/", merge_views.merge_batch, name="merge_batch"),
    path("messages/<uuid:message_id>/move-out/", merge_views.move_message_out, name="move_message_out"),
]
