from django.urls import path

from conversations import live_views

urlpatterns = [
    path("live/stream/", live_views.stream, name="live_stream"),
    path("c/<uuid:conversation_id>/presence/", live_views.presence, name="live_presence"),
    path("c/<uuid:conversation_id>/typing/", live_views.typing, name="live_typing"),
]
