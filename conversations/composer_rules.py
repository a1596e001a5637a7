"""What a channel lets the composer offer, registered by the channel (conversations never import
channels_app): which accounts may start a conversation, and which recipient rows a draft shows.

The send-time checks (sending.DRAFT_CHECKS) stay the authority; these only keep the composer from
offering what sending would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from conversations.models import Draft

RECIPIENT_ROWS = (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"))


@dataclass(frozen=True)
class ComposerRules:
    # The recipient rows offered, of RECIPIENT_ROWS.
    fields: tuple[str, ...] = ("to", "cc", "bcc")
    # The recipients are shown but cannot be changed (a reply on a channel that forbids it).
    locked: bool = False
    placeholder: str = "Name or email"


# Per account kind: the rules of a draft from such an account.
RULES: dict[str, Callable[[Draft], ComposerRules]] = {}
# Each: the ids of the organization's accounts that may not start a new conversation.
NO_NEW_CONVERSATIONS: list[Callable[[UUID], set[UUID]]] = []


def is_new_conversation(draft: Draft) -> bool:
    """As the send-time checks see it: not a reply, in a conversation with no message yet."""
    return draft.replying_to_id is None and draft.conversation.message_count == 0


def rules_for(draft: Draft) -> ComposerRules:
    rules = RULES.get(draft.account.kind) if draft.account is not None else None
    return rules(draft) if rules is not None else ComposerRules()


def accounts_without_new_conversations(organization_id: UUID) -> set[UUID]:
    return {account_id for excluded in NO_NEW_CONVERSATIONS for account_id in excluded(organization_id)}
