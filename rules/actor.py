"""Whom a rule acts through when a conversation action needs a person with access (create a
task or a draft, share, trash for everyone, send a response, post an AI note, ...).

One choice for the rule pass (rules.actions) and the network actions (rules.network). The person
is only the means: what the action writes is shown as the rule's doing (the engine and
rules.network attribute the events, comments carry `by_rule`).
"""

from __future__ import annotations

from django.db.models import Case, Value, When

from conversations.actions import ActionRefused
from conversations.models import AccessSource, Conversation, ConversationState
from inboxes.models import Account, Membership, Role, User
from rules.models import Rule


def rule_actor(rule: Rule, conversation: Conversation, *, account: Account | None = None) -> User:
    """Among the people with access to the conversation: the personal rule's owner, else the
    rule's creator, else the receiving account's owner, else an owner or admin of the
    organization (owners first), else someone who has it through an account or team, else anyone."""
    states = ConversationState.objects.filter(conversation=conversation).select_related("user")
    for user_id in (rule.owner_id, rule.created_by_id, account.owner_id if account is not None else None):
        mine = states.filter(user_id=user_id).first() if user_id else None
        if mine is not None:
            return mine.user
    roles = Membership.objects.filter(organization_id=conversation.organization_id)
    owners = roles.filter(role=Role.OWNER).values("user_id")
    admins = roles.filter(role=Role.ADMIN).values("user_id")
    state = states.order_by(
        Case(
            When(user_id__in=owners, then=Value(0)),
            When(user_id__in=admins, then=Value(1)),
            When(access_source__in=[AccessSource.ACCOUNT, AccessSource.TEAM], then=Value(2)),
            default=Value(3),
        ),
        "id",
    ).first()
    if state is None:
        raise ActionRefused("Nobody has access to this conversation.")
    return state.user
