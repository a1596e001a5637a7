"""The spec's shared objects (rest-api.md §3), built from our models. Every timestamp is epoch
seconds; every id a lower-case UUID string."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from django.utils.html import strip_tags

from channels_app.api.files import signed_file_url
from channels_app.api.pagination import epoch
from conversations.comment_format import MENTION
from conversations.labels import labels_visible_to_user_q
from conversations.models import (
    Assignment,
    Attachment,
    CannedResponse,
    CannedResponseAttachment,
    CannedScope,
    Comment,
    CommentAttachment,
    Conversation,
    ConversationKind,
    ConversationLabel,
    ConversationState,
    Draft,
    DraftAttachment,
    DraftStatus,
    Label,
    LabelVisibility,
    Location,
    Message,
    Status,
    Subtask,
    TaskStatus,
)
from conversations.search import label_path
from inboxes.mention_groups import mention_handle
from inboxes.models import Account, AccountKind, Membership, Organization, Role, Team, TeamRole, User


def user_json(user: User, *, me: User | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": str(user.id), "email": user.email, "name": user.display_name, "avatar_url": None}
    if me is not None:
        data["me"] = user.id == me.id
    return data


def organization_json(organization: Organization) -> dict[str, Any]:
    return {"id": str(organization.id), "name": organization.name}


# --- Conversations ------------------------------------------------------------------------------


def _user_state(user: User, state: ConversationState | None, conversation: Conversation, assigned: bool) -> dict:
    location = state.location if state is not None else ""
    return {
        "id": str(user.id),
        "name": user.display_name,
        "email": user.email,
        "unassigned": not assigned,
        "closed": conversation.status == Status.CLOSED,
        "archived": location == Location.ARCHIVED,
        "trashed": location == Location.TRASHED,
        "junked": location == Location.SPAM,
        "assigned": assigned,
        "flagged": bool(state and state.starred),
        "snoozed": location == Location.SNOOZED or bool(state and state.snoozed_until),
    }


def conversation_url(conversation_id: Any) -> str:
    """Our page of the conversation, in the All mailbox (every user with access lists it there)."""
    return settings.SITE_URL + reverse("conversation", kwargs={"key": "all", "conversation_id": conversation_id})


def _counts(model: Any, ids: list[Any], **filters: Any) -> dict[Any, int]:
    rows = model.objects.filter(conversation_id__in=ids, **filters).values("conversation_id").annotate(n=Count("pk"))
    return {row["conversation_id"]: row["n"] for row in rows}


def conversations_json(conversations: Sequence[Conversation], user: User) -> list[dict[str, Any]]:
    """conversation_json for a page of conversations, in a fixed number of queries."""
    if not conversations:
        return []
    ids = [conversation.id for conversation in conversations]
    guest_of = set(Membership.objects.filter(user=user, role=Role.GUEST).values_list("organization_id", flat=True))
    states: dict[Any, list[ConversationState]] = defaultdict(list)
    for state in ConversationState.objects.filter(conversation_id__in=ids).select_related("user").order_by("id"):
        states[state.conversation_id].append(state)
    assignees: dict[Any, list[User]] = defaultdict(list)
    for assignment in Assignment.objects.filter(conversation_id__in=ids).select_related("user").order_by("created_at"):
        assignees[assignment.conversation_id].append(assignment.user)
    labels: dict[Any, list[Label]] = defaultdict(list)
    visible = Label.objects.filter(labels_visible_to_user_q(user.id), owner__isnull=True)
    for row in (
        ConversationLabel.objects.filter(conversation_id__in=ids, label__in=visible)
        .select_related("label")
        .order_by("label__name")
    ):
        labels[row.conversation_id].append(row.label)
    latest_subjects = dict(
        Message.objects.filter(conversation_id__in=ids)
        .order_by("conversation_id", "-sent_at", "-created_at")
        .distinct("conversation_id")
        .values_list("conversation_id", "subject")
    )
    attachments = dict(
        Attachment.objects.filter(message__conversation_id__in=ids, is_inline=False)
        .values("message__conversation_id")
        .annotate(n=Count("pk"))
        .values_list("message__conversation_id", "n")
    )
    drafts = _counts(Draft, ids, status=DraftStatus.EDITING)
    scheduled = _counts(Draft, ids, status=DraftStatus.SCHEDULED)
    tasks = _counts(Subtask, ids)
    done = _counts(Subtask, ids, status=TaskStatus.CLOSED)
    teams = {team.id: team for team in Team.objects.filter(id__in={c.team_id for c in conversations if c.team_id})}
    organizations = {
        org.id: org for org in Organization.objects.filter(id__in={c.organization_id for c in conversations})
    }

    result: list[dict[str, Any]] = []
    for conversation in conversations:
        if conversation.organization_id in guest_of:
            result.append({"id": str(conversation.id), "last_activity_at": epoch(conversation.last_activity_at)})
            continue
        by_user = {state.user_id: state for state in states[conversation.id]}
        assigned_ids = {person.id for person in assignees[conversation.id]}
        team = teams.get(conversation.team_id) if conversation.team_id else None
        shared = labels[conversation.id]
        people = assignees[conversation.id]
        url = conversation_url(conversation.id)
        is_task = conversation.kind == ConversationKind.TASK
        result.append(
            {
                "id": str(conversation.id),
                "created_at": epoch(conversation.created_at),
                "subject": conversation.subject if conversation.subject_is_custom and conversation.subject else None,
                "latest_message_subject": latest_subjects.get(conversation.id) or None,
                "organization": organization_json(organizations[conversation.organization_id])
                if conversation.is_shared or conversation.team_id
                else None,
                "team": team_ref_json(team) if team is not None else None,
                "color": conversation.color or None,
                "assignees": [_user_state(person, by_user.get(person.id), conversation, True) for person in people],
                "users": [
                    _user_state(state.user, state, conversation, state.user_id in assigned_ids)
                    for state in states[conversation.id]
                ],
                "attachments_count": attachments.get(conversation.id, 0),
                "messages_count": conversation.message_count,
                "authors": [
                    {"name": person.get("name", ""), "address": person.get("address") or None}
                    for person in conversation.participants or []
                ],
                "drafts_count": drafts.get(conversation.id, 0),
                "send_later_messages_count": scheduled.get(conversation.id, 0),
                "tasks_count": tasks.get(conversation.id, 0) + (1 if is_task else 0),
                "completed_tasks_count": done.get(conversation.id, 0)
                + (1 if is_task and conversation.status == Status.CLOSED else 0),
                "shared_labels": [{"id": str(label.id), "name": label.name} for label in shared],
                "assignee_names": ", ".join(person.display_name for person in people),
                "assignee_emails": ", ".join(person.email for person in people),
                "shared_label_names": ", ".join(label.name for label in shared),
                "last_activity_at": epoch(conversation.last_activity_at),
                "web_url": url,
                "app_url": url,
            }
        )
    return result


def conversation_json(conversation: Conversation, user: User) -> dict[str, Any]:
    """§3.1 as `user` sees it: only `{id, last_activity_at}` for a guest of its organization."""
    return conversations_json([conversation], user)[0]


def team_ref_json(team: Team) -> dict[str, Any]:
    return {"id": str(team.id), "name": team.name, "organization": str(team.organization_id)}


# --- Messages, drafts, comments ----------------------------------------------------------------

PHONE_TYPES: dict[str, str] = {AccountKind.TWILIO_SMS: "sms", AccountKind.WHATSAPP: "whatsapp"}
CUSTOM_TYPES = {"text": "custom_text", "html": "custom_html", "email": "custom_email"}


def message_type(account: Account | None) -> str:
    """ "email" for mail accounts, "sms"/"whatsapp" for phone numbers, "custom_<type>" for custom
    channels, whose message type (text, HTML or email) is fixed when the channel is created."""
    if account is None:
        return "email"
    if account.kind in PHONE_TYPES:
        return PHONE_TYPES[account.kind]
    if account.kind == AccountKind.CUSTOM:
        return CUSTOM_TYPES.get(_custom_message_type(account.id, account), "custom_text")
    return "email"


_CUSTOM_MESSAGE_TYPES: dict[Any, str] = {}


def _custom_message_type(account_id: Any, account: Account) -> str:
    # Fixed at the channel's creation, so remembered per process: a page of messages reads the
    # channel's settings (account.custom, the custom channel's config row) once.
    if account_id not in _CUSTOM_MESSAGE_TYPES:
        config = getattr(account, "custom", None)
        kind = getattr(config, "message_type", "") if config is not None else ""
        if not kind:
            return "text"
        _CUSTOM_MESSAGE_TYPES[account_id] = str(kind)
    return _CUSTOM_MESSAGE_TYPES[account_id]


def attachment_json(attachment: Attachment | DraftAttachment | CannedResponseAttachment | CommentAttachment) -> dict:
    """§3.2's Attachment. Its URL is a signed download link that expires (channels_app/api/files.py)."""
    media_type, _, sub_type = attachment.content_type.partition("/")
    extension = attachment.filename.rpartition(".")[2].lower() if "." in attachment.filename else ""
    return {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "extension": extension,
        "url": signed_file_url(attachment),
        "media_type": media_type,
        "sub_type": sub_type,
        "size": attachment.size,
    }


def _address(person: Any, custom: bool) -> dict[str, Any]:
    if not isinstance(person, dict):
        person = {"address": str(person)}
    name, address = person.get("name", "") or "", person.get("address", "") or ""
    if custom:
        return {"id": person.get("id") or address, "name": name, "username": person.get("username") or address}
    return {"name": name, "address": address}


def message_json(message: Message, *, body: bool) -> dict[str, Any]:
    """§3.2. Prefetch `attachments` and select `account` and `author` for a page of messages."""
    custom = message.account is not None and message.account.kind == AccountKind.CUSTOM
    data: dict[str, Any] = {
        "id": str(message.id),
        "subject": message.subject,
        "preview": " ".join(message.body_text.split())[:200],
        "type": message_type(message.account),
        "draft": False,
        "delivered_at": epoch(message.sent_at),
        "updated_at": epoch(message.created_at),
        "created_at": epoch(message.created_at),
        "email_message_id": message.rfc_message_id or None,
        "in_reply_to": [message.in_reply_to] if message.in_reply_to else [],
        "references": message.references.split(),
        "from_field": _address({"name": message.from_name, "address": message.from_address}, custom),
        "to_fields": [_address(person, custom) for person in message.to or []],
        "cc_fields": [_address(person, custom) for person in message.cc or []],
        "bcc_fields": [_address(person, custom) for person in message.bcc or []],
        "reply_to_fields": [_address(person, custom) for person in message.reply_to or []],
        "attachments": [attachment_json(attachment) for attachment in message.attachments.all()],
        "external_id": message.external_id or None,
        "delivery_status": message.delivery_status or None,
    }
    if message.delivery_error:
        data["delivery_error"] = message.delivery_error
    if message.author_id is not None:
        data["author"] = author_json(message.author)
    if body:
        data["body"] = message.body_html or message.body_text
    return data


def author_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": str(user.id), "name": user.display_name, "email": user.email, "avatar_url": None}


def draft_json(draft: Draft) -> dict[str, Any]:
    """§3.3: the message shape, `draft: true`, no delivery time, and its author. Select `account`,
    `alias` and `creator`, prefetch `attachments`."""
    custom = draft.account is not None and draft.account.kind == AccountKind.CUSTOM
    alias = draft.alias
    sender = {"name": alias.name if alias else "", "address": alias.address if alias else ""}
    return {
        "id": str(draft.id),
        "subject": draft.subject,
        "preview": " ".join(strip_tags(draft.body_html).split())[:200],
        "type": message_type(draft.account),
        "draft": True,
        "delivered_at": None,
        "updated_at": epoch(draft.updated_at),
        "created_at": epoch(draft.created_at),
        "send_at": epoch(draft.scheduled_at) if draft.status == DraftStatus.SCHEDULED else None,
        "email_message_id": None,
        "in_reply_to": [],
        "references": [],
        "from_field": _address(sender, custom),
        "to_fields": [_address(person, custom) for person in draft.to or []],
        "cc_fields": [_address(person, custom) for person in draft.cc or []],
        "bcc_fields": [_address(person, custom) for person in draft.bcc or []],
        "reply_to_fields": [],
        "attachments": [attachment_json(attachment) for attachment in draft.attachments.all()],
        "author": author_json(draft.creator),
    }


def comment_json(comment: Comment, *, handles: dict[str, User] | None = None) -> dict[str, Any]:
    """§3.4. `handles` maps @handles to the people of the conversation, for `mentions`; prefetch
    `files` and `subtasks__assignees`, select `author`."""
    mentions = []
    for match in MENTION.finditer(comment.body):
        person = (handles or {}).get(match.group(1).lower())
        if person is not None:
            mentions.append({"id": str(person.id), "index": match.start(), "length": match.end() - match.start()})
    files = list(comment.files.all())
    tasks = list(comment.subtasks.all())
    task = tasks[0] if tasks else None
    return {
        "id": str(comment.id),
        "body": comment.body,
        "created_at": epoch(comment.created_at),
        "mentions": mentions,
        "author": author_json(comment.author),
        "attachment": attachment_json(files[0]) if files else None,
        "task": None
        if task is None
        else {
            "description": task.description or task.title,
            "state": task.status,
            "due_at": epoch(datetime.combine(task.due_date, time(23, 59, 59), tzinfo=UTC)) if task.due_date else None,
            "started_at": None,
            "closed_at": None,
            "assignees": [author_json(person) for person in task.assignees.all()],
            "team": team_ref_json(task.team) if task.team is not None else None,
        },
    }


def mention_handles(users: Sequence[User]) -> dict[str, User]:
    return {mention_handle(user.display_name): user for user in users}


# --- Teams, labels, responses ------------------------------------------------------------------


def team_json(team: Team) -> dict[str, Any]:
    """§3.7's Team with the settings of §4.34 that our teams have. Prefetch `memberships`."""
    members = list(team.memberships.all())
    return {
        "id": str(team.id),
        "name": team.name,
        "organization": str(team.organization_id),
        "active_members": [str(m.user_id) for m in members if m.role == TeamRole.ACTIVE],
        "observers": [str(m.user_id) for m in members if m.role == TeamRole.OBSERVER],
        "emoji": team.emoji or None,
        "color": team.color,
        "team_mention_behavior": "all_members" if team.mention_adds_observers else "only_active_members",
        "user_reply_behavior": "assign_user" if team.assign_on_reply else "leave_in_team_inbox",
        "received_reply_behavior": "show_in_team_inbox"
        if team.reply_to_assigned_goes_to_team_inbox
        else "show_in_assignee_inbox",
        "team_inbox_enabled": team.has_inbox,
        "chat_room_enabled": team.has_chat_room,
        "team_sidebar_behavior": "show_team_space" if team.show_team_space else "show_team_inbox",
        "inactivity_period": team.inactivity_period,
    }


LABEL_VISIBILITY = {LabelVisibility.EVERYONE: "organization", LabelVisibility.RESTRICTED: "delegates"}


def label_json(label: Label) -> dict[str, Any]:
    """§3.7's SharedLabel. Select `parent`, prefetch `auto_share_users` and `auto_share_teams`."""
    teams = list(label.auto_share_teams.all())
    return {
        "id": str(label.id),
        "name": label.name,
        "name_with_parent_names": label_path(label),
        "color": label.color or None,
        "parent": str(label.parent_id) if label.parent_id else None,
        "organization": str(label.organization_id),
        "visibility": LABEL_VISIBILITY.get(LabelVisibility(label.visibility), "organization"),
        "share_with_organization": False,
        "share_with_team": str(teams[0].id) if teams else None,
        "share_with_teams": [str(team.id) for team in teams],
        "share_with_users": [str(person.id) for person in label.auto_share_users.all()],
    }


def response_json(response: CannedResponse) -> dict[str, Any]:
    """§3.7's Response. Prefetch `labels` and `attachments`."""
    body = response.body
    for attachment in response.attachments.all():  # inline images as §3.2 shows them: no src
        if attachment.is_inline and attachment.content_id:
            body = body.replace(f'src="cid:{attachment.content_id}"', f'data-missive-attachment-id="{attachment.id}"')
    return {
        "id": str(response.id),
        "title": response.title,
        "body": body,
        "subject": response.subject,
        "organization": str(response.organization_id) if response.scope != CannedScope.PERSONAL else None,
        "user": str(response.owner_id) if response.owner_id else None,
        "share_with_team": str(response.team_id) if response.team_id else None,
        "modified_at": epoch(response.updated_at),
        "to_fields": [_address(person, False) for person in response.to or []],
        "cc_fields": [_address(person, False) for person in response.cc or []],
        "bcc_fields": [_address(person, False) for person in response.bcc or []],
        "shared_labels": [str(label.id) for label in response.labels.all()],
        "attachments": [attachment_json(attachment) for attachment in response.attachments.all()],
        "external_id": response.external_id or None,
        "external_source": response.external_source or None,
    }
