"""Drafts in the conversation view: the open ones, each a card or (the one asked for) a composer."""

from __future__ import annotations

from django import template
from django.template import Context

from conversations.drafts import open_drafts
from conversations.models import Conversation

register = template.Library()


@register.simple_tag(takes_context=True)
def drafts_of(context: Context, conversation: Conversation) -> list[dict]:
    """The conversation's drafts in progress. The one the request opens (`?draft=` or the view's
    `open_draft_id`) comes with its composer; the others are collapsed cards."""
    from conversations.draft_views import composer_context

    request = context.get("request")
    wanted = str(getattr(request, "open_draft_id", "") or (request.GET.get("draft", "") if request else ""))
    entries = []
    for draft in open_drafts(conversation):
        draft.conversation = conversation
        if str(draft.id) == wanted and request is not None:
            entries.append({"draft": draft, "open": True, "composer": composer_context(request, draft)})
        else:
            entries.append({"draft": draft, "open": False})
    return entries
