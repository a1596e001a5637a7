"""The options drafts, posts, messages and PATCH /v1/conversations share (rest-api.md §4.16,
§4.17, §4.28, §5.2): which conversation (`conversation`, `references`, else a new one) and what
to do to it (team, people, assignees, labels, subject, color, inbox, close/reopen).

Use, inside the endpoint's transaction:

    check_options(options, prefix="posts")
    conversation = target_conversation(user, options, organization=org, prefix="posts")  # or None
    ... create the draft / post / message in it ...
    apply_options(conversation, options, user=user, prefix="posts")

Every change goes through the conversations actions; a refused one is a 400 naming the field, an
id the user cannot see a 404 naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from django.db.models import Q
from ninja import Schema

from channels_app.api.core import ApiError
from conversations import labels as label_actions
from conversations.actions import (
    ActionRefused,
    do_assign_conversation,
    do_close,
    do_move_to_team,
    do_reopen,
    do_set_color,
    do_share_conversation,
    do_unassign,
)
from conversations.integrations import do_move_to_everyones_inbox, do_rename_conversation, do_start_conversation
from conversations.models import Conversation, ConversationRedirect, Label, Message, Status, ThreadKey
from inboxes.models import Membership, Organization, Team, User

# The spec's named colors (Slack's attachment colors), as the #rrggbb do_set_color takes.
NAMED_COLORS = {"good": "#2eb67d", "warning": "#ecb22e", "danger": "#e01e5a"}


class ConversationOptions(Schema):
    """The targeting and action fields, as every body that carries them names them."""

    conversation: UUID | None = None
    references: list[str] = []
    organization: UUID | None = None
    team: UUID | None = None
    force_team: bool = False
    add_users: list[UUID] = []
    add_assignees: list[UUID] = []
    remove_assignees: list[UUID] = []
    add_shared_labels: list[UUID] = []
    remove_shared_labels: list[UUID] = []
    conversation_subject: str | None = None
    conversation_color: str | None = None
    add_to_inbox: bool = False
    add_to_team_inbox: bool = False
    close: bool = False
    reopen: bool = False


# The fields apply_options acts on; `conversation` and `references` only say where a message goes.
_ACTION_FIELDS = frozenset(ConversationOptions.model_fields) - {"conversation", "references"}


@contextmanager
def refused_as_400(field: str) -> Iterator[None]:
    """An action's refusal (ActionRefused) as the API's 400 naming `field`."""
    try:
        yield
    except ActionRefused as refusal:
        raise ApiError(" ".join(refusal.messages), field=field) from None


def check_options(options: ConversationOptions, *, prefix: str) -> None:
    """What the body must hold together, checked before anything is written."""
    if (options.add_users or options.add_assignees or options.remove_assignees) and options.organization is None:
        raise ApiError(
            "'organization' is required with 'add_users', 'add_assignees' or 'remove_assignees'",
            field=f"{prefix}.organization",
        )
    if options.add_to_team_inbox and options.team is None:
        raise ApiError("'add_to_team_inbox' requires 'team'", field=f"{prefix}.team")
    if options.conversation_color is not None:
        color_value(options.conversation_color, field=f"{prefix}.conversation_color")


def color_value(color: str, *, field: str) -> str:
    """HEX (#rgb or #rrggbb) or good / warning / danger, as #rrggbb ("" clears)."""
    color = color.strip().lower()
    color = NAMED_COLORS.get(color, color)
    if len(color) == 4 and color.startswith("#"):
        color = "#" + "".join(c * 2 for c in color[1:])
    if color and (len(color) != 7 or not color.startswith("#") or any(c not in "0123456789abcdef" for c in color[1:])):
        raise ApiError(f"'{field.rsplit('.', 1)[-1]}' must be a HEX color or good, warning or danger", field=field)
    return color


def organization_for(user: User, organization_id: UUID | None) -> Organization | None:
    """The organization a body names, which the user must belong to (404)."""
    if organization_id is None:
        return None
    membership = Membership.objects.select_related("organization").filter(user=user, organization_id=organization_id)
    found = membership.first()
    if found is None:
        raise ApiError("Not found.", status=404, field="organization")
    return found.organization


def accessible_conversation(user: User, conversation_id: UUID, *, field: str = "conversation") -> Conversation:
    """A conversation the user can access (a merged-away id finds its survivor); else 404."""
    visible = Conversation.objects.filter(states__user=user).select_related("team", "organization")
    conversation = visible.filter(id=conversation_id).first()
    if conversation is None:
        survivor = ConversationRedirect.objects.filter(old_id=conversation_id).values("conversation_id")
        conversation = visible.filter(id__in=survivor).first()
    if conversation is None:
        raise ApiError("Not found.", status=404, field=field)
    return conversation


def _reference_forms(references: list[str]) -> list[str]:
    """`<abc>` and `abc` are the same reference (§1.5)."""
    forms: list[str] = []
    for reference in references:
        bare = reference.strip().strip("<>").strip()
        if bare:
            forms += [bare, f"<{bare}>"]
    return forms


def find_by_references(user: User, references: list[str], organization: Organization | None) -> Conversation | None:
    """The first conversation, among those the user can access (in `organization` if given),
    holding one of the references as an email's Message-ID or a channel's thread key. The
    references are tried in order; for one reference the newest conversation wins."""
    visible = Conversation.objects.filter(states__user=user)
    if organization is not None:
        visible = visible.filter(organization=organization)
    for reference in references:
        forms = _reference_forms([reference])
        if not forms:
            continue
        by_key = ThreadKey.objects.filter(key__in=forms, conversation__in=visible).order_by("-created_at")
        by_message = Message.objects.filter(rfc_message_id__in=forms, conversation__in=visible).order_by("-sent_at")
        conversation_id = (
            by_key.values_list("conversation_id", flat=True).first()
            or by_message.values_list("conversation_id", flat=True).first()
        )
        if conversation_id is not None:
            return Conversation.objects.select_related("team", "organization").get(id=conversation_id)
    return None


def target_conversation(
    user: User,
    options: ConversationOptions,
    *,
    organization: Organization | None,
    prefix: str,
) -> tuple[Conversation, bool]:
    """The conversation the body names (`conversation`, else the first `references` match),
    else a new one in `organization` (else the user's first organization), which then holds the
    references as thread keys so the next body with them lands in it. Returns it and whether it
    is new. `conversation` outside `organization` is a 404."""
    if options.conversation is not None:
        conversation = accessible_conversation(user, options.conversation, field=f"{prefix}.conversation")
        if organization is not None and conversation.organization_id != organization.id:
            raise ApiError("Not found.", status=404, field=f"{prefix}.conversation")
        return conversation, False
    if options.references:
        found = find_by_references(user, options.references, organization)
        if found is not None:
            return found, False
    if organization is None:
        membership = Membership.objects.filter(user=user).select_related("organization").order_by("created_at").first()
        if membership is None:
            raise ApiError("You are not a member of any organization.", field=f"{prefix}.organization")
        organization = membership.organization
    with refused_as_400(f"{prefix}.organization"):
        conversation = do_start_conversation(organization, acting_user=user, subject=options.conversation_subject or "")
    keys = {form.strip() for form in options.references if form.strip()}
    ThreadKey.objects.bulk_create(
        [ThreadKey(organization=organization, conversation=conversation, key=key[:500]) for key in sorted(keys)],
        ignore_conflicts=True,
    )
    return conversation, True


def _users(conversation: Conversation, ids: list[UUID], field: str) -> list[User]:
    """Members of the conversation's organization, in the order given; another one is a 404."""
    if not ids:
        return []
    members = {
        u.id: u
        for u in User.objects.filter(
            id__in=ids, memberships__organization_id=conversation.organization_id, is_active=True
        )
    }
    if any(user_id not in members for user_id in ids):
        raise ApiError("Not found.", status=404, field=field)
    return [members[user_id] for user_id in dict.fromkeys(ids)]


def _labels(conversation: Conversation, user: User, ids: list[UUID], field: str) -> list[Label]:
    if not ids:
        return []
    found = {
        label.id: label
        for label in Label.objects.visible_to(user).filter(
            id__in=ids, organization_id=conversation.organization_id, owner__isnull=True
        )
    }
    if any(label_id not in found for label_id in ids):
        raise ApiError("Not found.", status=404, field=field)
    return [found[label_id] for label_id in dict.fromkeys(ids)]


def _team(conversation: Conversation, user: User, team_id: UUID, field: str) -> Team:
    team = (
        Team.objects.filter(id=team_id, organization__memberships__user=user)
        .filter(Q(organization_id=conversation.organization_id))
        .first()
    )
    if team is None:
        raise ApiError("Not found.", status=404, field=field)
    return team


def apply_options(conversation: Conversation, options: ConversationOptions, *, user: User, prefix: str) -> None:
    """Apply the body's actions to the conversation, each through its action. `organization`
    given must be the conversation's. `close` wins over `reopen`; with neither the open/closed
    state is left alone (rest-api.md §4.28 [INF])."""
    if not options.model_fields_set & _ACTION_FIELDS:
        return  # nothing asked: not even the refresh at the end
    if options.organization is not None and options.organization != conversation.organization_id:
        raise ApiError("Not found.", status=404, field=f"{prefix}.organization")
    if options.conversation_subject is not None:
        with refused_as_400(f"{prefix}.conversation_subject"):
            do_rename_conversation(conversation, options.conversation_subject, acting_user=user)
    if options.conversation_color is not None:
        color = color_value(options.conversation_color, field=f"{prefix}.conversation_color")
        with refused_as_400(f"{prefix}.conversation_color"):
            do_set_color(conversation, color, acting_user=user)
    if options.team is not None:
        team = _team(conversation, user, options.team, f"{prefix}.team")
        if conversation.team_id is None or options.force_team:
            with refused_as_400(f"{prefix}.team"):
                do_move_to_team(conversation, team, acting_user=user)
    added = _users(conversation, options.add_users, f"{prefix}.add_users")
    if added:
        with refused_as_400(f"{prefix}.add_users"):
            do_share_conversation(conversation, acting_user=user, users=added, show_in_inbox=options.add_to_inbox)
    assignees = _users(conversation, options.add_assignees, f"{prefix}.add_assignees")
    if assignees:
        with refused_as_400(f"{prefix}.add_assignees"):
            do_assign_conversation(conversation, assignees, acting_user=user)
    for person in _users(conversation, options.remove_assignees, f"{prefix}.remove_assignees"):
        with refused_as_400(f"{prefix}.remove_assignees"):
            do_unassign(conversation, person, acting_user=user)
    for label in _labels(conversation, user, options.add_shared_labels, f"{prefix}.add_shared_labels"):
        with refused_as_400(f"{prefix}.add_shared_labels"):
            label_actions.do_add_label(conversation, label, acting_user=user)
    for label in _labels(conversation, user, options.remove_shared_labels, f"{prefix}.remove_shared_labels"):
        with refused_as_400(f"{prefix}.remove_shared_labels"):
            label_actions.do_remove_label(conversation, label, acting_user=user)
    if options.add_to_inbox:
        do_move_to_everyones_inbox(conversation, acting_user=user)
    if options.close:
        with refused_as_400(f"{prefix}.close"):
            do_close(conversation, acting_user=user)
    elif options.reopen or (options.add_to_team_inbox and conversation.status == Status.CLOSED):
        do_reopen(conversation, acting_user=user)
    conversation.refresh_from_db()
