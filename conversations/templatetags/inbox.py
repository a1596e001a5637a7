from django import template
from django.template import Context
from django.utils.safestring import SafeString

from conversations.models import ConversationState
from conversations.rows import render_row

register = template.Library()


@register.simple_tag(takes_context=True)
def conversation_row(context: Context, state: ConversationState, oob: bool = False) -> SafeString:
    """A row of the conversation list (conversations/rows.py), selected when it is the one open."""
    opened = context.get("conversation")
    return render_row(state, mailbox=context["mailbox"], open_id=opened.id if opened else None, oob=oob)
