"""The page's side of live updates: where its stream is, and who is viewing a conversation."""

from django import template
from django.template import Context
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from conversations import live

register = template.Library()


@register.simple_tag(takes_context=True)
def live_stream_meta(context: Context) -> str:
    """The stream's URL for static/js/live.js, with the last notice id as of this page (notices
    published before the stream connects are then caught up)."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return ""
    url = f"{reverse('live_stream')}?{urlencode({'since': live.current_seq(user.id)})}"
    return format_html('<meta name="live-stream" content="{}">', url)


@register.inclusion_tag("conversations/live/_viewers.html", takes_context=True)
def live_viewers(context: Context) -> dict:
    """The "viewing now" avatars of the conversation's header."""
    conversation = context["conversation"]
    viewers = live.other_viewers(conversation.id, besides=context["request"].user.id)
    return {"conversation": conversation, "viewers": viewers}
