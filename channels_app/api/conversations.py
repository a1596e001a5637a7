"""GET /v1/conversations (one or more mailboxes), one conversation, and its messages, comments and
drafts (rest-api.md §4.9–4.13). Every mailbox is the web UI's own query (conversations/mailboxes.py)
over the caller's ConversationState rows, so nothing the caller cannot open is ever listed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest
from ninja import Query, Router

from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import MAX_EPOCH, check_limit, time_page
from channels_app.api.serializers import (
    comment_json,
    conversations_json,
    draft_json,
    mention_handles,
    message_json,
)
from conversations.drafts import OPEN_STATUSES
from conversations.labels import get_label_for_user
from conversations.mailboxes import Mailbox, label_mailbox, personal_mailbox, team_mailbox
from conversations.merge import merged_into
from conversations.models import Comment, Conversation, ConversationState, Draft, Message, Subtask
from inboxes.access import get_membership, get_team_for_member
from inboxes.models import User

router = Router(tags=["conversations"])
UNTIL = Query(None, ge=0, le=MAX_EPOCH, description="Epoch seconds: the oldest time of the previous page.")

# Query flag → the personal mailbox it lists.
PERSONAL_FLAGS = {
    "inbox": "inbox",
    "all": "all",
    "assigned": "assigned",
    "closed": "closed",
    "snoozed": "snoozed",
    "flagged": "starred",
    "trashed": "trash",
    "junked": "spam",
    "drafts": "drafts",
}
TEAM_FILTERS = {"team_inbox": "inbox", "team_closed": "closed", "team_all": "all"}


def get_conversation_for_api(user: User, conversation_id: UUID) -> Conversation:
    """A conversation the caller can open; a merged-away id gives the one it was merged into."""
    states = ConversationState.objects.filter(user=user).select_related("conversation")
    found = states.filter(conversation_id=conversation_id).first()
    if found is None and (target := merged_into(user, conversation_id)) is not None:
        found = states.filter(conversation_id=target).first()
    if found is None:
        raise Http404("No such conversation.")
    return found.conversation


@router.get("/conversations")
def list_conversations(
    request: HttpRequest,
    inbox: bool = False,
    all: bool = False,  # noqa: A002 - the spec's parameter name
    assigned: bool = False,
    closed: bool = False,
    snoozed: bool = False,
    flagged: bool = False,
    trashed: bool = False,
    junked: bool = False,
    drafts: bool = False,
    shared_label: UUID | None = None,
    team_inbox: UUID | None = None,
    team_closed: UUID | None = None,
    team_all: UUID | None = None,
    organization: UUID | None = None,
    limit: int | None = None,
    until: int | None = UNTIL,
) -> dict[str, Any]:
    user = api_user(request)
    limit = check_limit(limit, default=25, maximum=50, minimum=2)
    flags = {"inbox": inbox, "all": all, "assigned": assigned, "closed": closed, "snoozed": snoozed}
    flags |= {"flagged": flagged, "trashed": trashed, "junked": junked, "drafts": drafts}
    mailboxes: list[Mailbox] = []
    for flag, key in PERSONAL_FLAGS.items():
        if flags[flag]:
            mailboxes.append(personal_mailbox(key))  # type: ignore[arg-type]
    if shared_label is not None:
        mailboxes.append(label_mailbox(get_label_for_user(user, shared_label)))
    teams = {"team_inbox": team_inbox, "team_closed": team_closed, "team_all": team_all}
    for name, team_id in teams.items():
        if team_id is not None:
            mailboxes.append(team_mailbox(get_team_for_member(user, team_id), TEAM_FILTERS[name]))  # type: ignore[arg-type]
    if not mailboxes:
        raise ApiError("You need to paginate at least one mailbox")
    states = mailboxes[0].states(user)
    for mailbox in mailboxes[1:]:
        states = states.filter(conversation_id__in=mailbox.states(user).values("conversation_id"))
    scoped = shared_label is not None or any(team_id is not None for team_id in teams.values())
    if organization is not None and not scoped:
        get_membership(user, organization)
        states = states.filter(organization_id=organization, conversation__is_shared=True)
    page = time_page(states.select_related("conversation"), "last_activity_at", limit=limit, until=until)
    return {"conversations": conversations_json([state.conversation for state in page], user)}


@router.get("/conversations/{conversation_id}")
def get_conversation(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    user = api_user(request)
    conversation = get_conversation_for_api(user, conversation_id)
    return {"conversations": conversations_json([conversation], user)}


def _thread_page(queryset: QuerySet[Any], field: str, limit: int | None, until: int | None) -> list[Any]:
    return time_page(queryset, field, limit=check_limit(limit, default=10, maximum=10), until=until)


@router.get("/conversations/{conversation_id}/messages")
def conversation_messages(
    request: HttpRequest, conversation_id: UUID, limit: int | None = None, until: int | None = UNTIL
) -> dict[str, Any]:
    conversation = get_conversation_for_api(api_user(request), conversation_id)
    messages = (
        Message.objects.filter(conversation=conversation)
        .select_related("account", "author")
        .prefetch_related("attachments")
    )
    return {"messages": [message_json(m, body=False) for m in _thread_page(messages, "sent_at", limit, until)]}


@router.get("/conversations/{conversation_id}/comments")
def conversation_comments(
    request: HttpRequest, conversation_id: UUID, limit: int | None = None, until: int | None = UNTIL
) -> dict[str, Any]:
    conversation = get_conversation_for_api(api_user(request), conversation_id)
    comments = (
        Comment.objects.filter(conversation=conversation)
        .select_related("author")
        .prefetch_related(
            "files", Prefetch("subtasks", Subtask.objects.select_related("team").prefetch_related("assignees"))
        )
    )
    people = User.objects.filter(conversation_states__conversation=conversation)
    handles = mention_handles(list(people))
    page = _thread_page(comments, "created_at", limit, until)
    return {"comments": [comment_json(comment, handles=handles) for comment in page]}


@router.get("/conversations/{conversation_id}/drafts")
def conversation_drafts(
    request: HttpRequest, conversation_id: UUID, limit: int | None = None, until: int | None = UNTIL
) -> dict[str, Any]:
    user = api_user(request)
    conversation = get_conversation_for_api(user, conversation_id)
    drafts = (
        Draft.objects.filter(conversation=conversation, status__in=OPEN_STATUSES)
        .select_related("account", "alias", "creator")
        .prefetch_related("attachments")
    )
    # Drafts have no delivery time: the cursor reads their creation time.
    return {"drafts": [draft_json(draft) for draft in _thread_page(drafts, "created_at", limit, until)]}
