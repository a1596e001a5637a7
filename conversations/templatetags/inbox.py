from typing import Any

from django import template

from conversations.mailboxes import Mailbox

register = template.Library()


@register.simple_tag
def conversation_url(mailbox: Mailbox, conversation_id: Any) -> str:
    """The conversation opened inside the mailbox being viewed, so the list stays put."""
    return mailbox.conversation_url(conversation_id)
