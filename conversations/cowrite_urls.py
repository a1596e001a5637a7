from django.urls import path

from conversations import cowrite_views

urlpatterns = [
    path("drafts/<uuid:draft_id>/sync/", cowrite_views.sync, name="draft_sync"),
    path("drafts/<uuid:draft_id>/awareness/", cowrite_views.awareness, name="draft_awareness"),
    path("drafts/<uuid:draft_id>/stream/", cowrite_views.stream, name="draft_stream"),
]
