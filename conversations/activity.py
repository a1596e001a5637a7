"""The Activity feed: each person's notifications of mentions, reactions to their comments,
assignments and reminders, with the unread dot on the bell.

Actions record items through `record_activity`, inside their own transaction. Opening the feed
reads every item at once (the seed has no per-item read state); items stay 30 days.

Tasks record "task_assigned", "task_changed" and "task_reminder" items the same way, with
`data={"title": <the task's title>, "due_at": <ISO time, optional>}`; the feed shows the title,
and for a reminder how far its due time is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from conversations import counts, live
from conversations.attribution import acting_rule
from conversations.models import ActivityItem, ActivityKind, Comment, Conversation, ConversationState
from inboxes.models import Membership, User

RETENTION = timedelta(days=30)
EXCERPT_LENGTH = 200
# The retention job deletes in batches of this many rows, each a short statement.
DELETE_BATCH = 5000


@dataclass(frozen=True)
class FeedType:
    """A type of activity, as the filter and the settings offer it."""

    key: str
    label: str
    kinds: frozenset[str]


# The seed's Mentions, Reactions and (calendar) Reminders, with assignments and tasks. Reminders
# light the bell orange, the others blue; only they add to the app badge.
TYPES = [
    FeedType("mentions", "Mentions", frozenset({ActivityKind.MENTION})),
    FeedType("reactions", "Reactions", frozenset({ActivityKind.REACTION})),
    FeedType(
        "assignments",
        "Assignments",
        frozenset({ActivityKind.ASSIGNED, ActivityKind.TASK_ASSIGNED, ActivityKind.TASK_CHANGED}),
    ),
    FeedType("reminders", "Reminders", frozenset({ActivityKind.SNOOZE_DUE, ActivityKind.TASK_REMINDER})),
]
TYPES_BY_KEY = {t.key: t for t in TYPES}
REMINDERS = "reminders"


def excerpt(text: str) -> str:
    """A comment as one short line of plain text."""
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT_LENGTH else line[: EXCERPT_LENGTH - 1].rstrip() + "…"


# --- Recording -------------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)
def record_activity(
    *,
    recipients: Iterable[User | UUID],
    kind: str,
    conversation: Conversation,
    actor: User | None,
    comment: Comment | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Put an item in the feed of each recipient who has access to the conversation, except the
    actor's own. Runs in the caller's transaction. A comment's excerpt is kept in `data`; several
    reactions to one comment make one item. Returns how many feeds got the item."""
    if kind not in ActivityKind.values:
        raise ValueError(f"Unknown activity kind: {kind}")
    rule = acting_rule()
    if rule is not None:  # a rule acts, maybe through a person: the feed names the rule, and nobody is left out
        actor, data = None, {"rule": rule, **(data or {})}
    wanted = {recipient.id if isinstance(recipient, User) else recipient for recipient in recipients}
    wanted.discard(actor.id if actor else None)
    if not wanted:
        return 0
    # A conversation someone silenced ("Silence notifications") still reaches them when they or
    # their team are mentioned (not with @all): someone is asking them in person.
    direct = kind == ActivityKind.MENTION and not (data or {}).get("everyone")
    allowed = {
        user_id
        for user_id, silenced in ConversationState.objects.filter(
            conversation=conversation, user_id__in=wanted
        ).values_list("user_id", "silenced")
        if direct or not silenced
    }
    if not allowed:
        return 0
    data = dict(data or {})
    if comment is not None:
        data.setdefault("excerpt", excerpt(comment.body))
    now = timezone.now()
    new = allowed
    if kind == ActivityKind.REACTION and comment is not None and actor is not None:
        new, data = _group_reaction(allowed, actor, comment, data, now)
    ActivityItem.objects.bulk_create(
        ActivityItem(
            organization_id=conversation.organization_id,
            recipient_id=recipient_id,
            actor=actor,
            kind=kind,
            conversation=conversation,
            comment=comment,
            data=data,
            created_at=now,
        )
        for recipient_id in new
    )
    counts.invalidate_counts_now_and_after_commit(allowed)
    # The bell is part of the sidebar, which a live notice makes the recipients' browsers re-fetch.
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=allowed, kind="activity")
    return len(allowed)


def _group_reaction(
    recipient_ids: set[UUID], actor: User, comment: Comment, data: dict, now: datetime
) -> tuple[set[UUID], dict]:
    """Reactions from different people to one comment share one item, which comes back to the
    top of the feed, unread, with each new one. Returns who has no item yet, and its data."""
    # Two reactions at once would each find no item and make two: the comment's lock orders them.
    list(Comment.objects.select_for_update().filter(id=comment.id).values_list("id"))
    emoji = data.pop("emoji", "")
    mine = {"user_id": str(actor.id), "name": actor.display_name, "emoji": emoji}
    items = {
        item.recipient_id: item
        for item in ActivityItem.objects.filter(
            comment=comment, kind=ActivityKind.REACTION, recipient_id__in=recipient_ids
        )
    }
    for item in items.values():
        others = [r for r in item.data.get("reactions", []) if (r["user_id"], r["emoji"]) != (mine["user_id"], emoji)]
        item.data = {**item.data, **data, "reactions": [*others, mine]}
        item.actor, item.created_at, item.read_at = actor, now, None
    ActivityItem.objects.bulk_update(list(items.values()), ["data", "actor", "created_at", "read_at"])
    return recipient_ids - set(items), {**data, "reactions": [mine]}


def record_mentions(comment: Comment, *, users: set[UUID], everyone: bool) -> None:
    """A comment's mentions: the people it names (teams are expanded to them), then, for @all,
    everyone else with access."""
    conversation, author = comment.conversation, comment.author
    record_activity(
        recipients=users, kind=ActivityKind.MENTION, conversation=conversation, actor=author, comment=comment
    )
    if everyone:
        rest = (
            set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True)) - users
        )
        record_activity(
            recipients=rest,
            kind=ActivityKind.MENTION,
            conversation=conversation,
            actor=author,
            comment=comment,
            data={"everyone": True},
        )


def record_snooze_reminders(due: Iterable[tuple[UUID, UUID, UUID]], *, at: datetime) -> None:
    """A reminder for each (organization, conversation, user) whose snooze came due, in one
    statement. Called by the snooze wake-up, whose rows prove each person's access."""
    ActivityItem.objects.bulk_create(
        ActivityItem(
            organization_id=organization_id,
            recipient_id=user_id,
            kind=ActivityKind.SNOOZE_DUE,
            conversation_id=conversation_id,
            data={"until": at.isoformat()},
            created_at=at,
        )
        for organization_id, conversation_id, user_id in due
    )


@transaction.atomic
def do_set_silenced(conversation: Conversation, *, acting_user: User, silenced: bool) -> None:
    """Turn the person's notifications about this conversation off (or on again): record_activity
    then leaves them out, but for mentions. Where it sits and whether it is unread do not change
    (that is watching). Someone without access has nothing to silence."""
    ConversationState.objects.filter(conversation=conversation, user=acting_user).update(silenced=silenced)


# --- Reading -------------------------------------------------------------------------------------


def visible_items(user: User) -> QuerySet[ActivityItem]:
    """The user's own items, of organizations they belong to, about conversations they can still
    open (an item of a conversation they lost access to is hidden, not deleted)."""
    return ActivityItem.objects.filter(
        organization_id__in=Membership.objects.filter(user=user).values("organization_id"),
        recipient=user,
    ).filter(Exists(ConversationState.objects.filter(user=user, conversation_id=OuterRef("conversation_id"))))


def preferences(user: User) -> dict[str, list[str]]:
    """{"hidden": types left out of All, "not_counted": types that do not light the bell}."""
    saved = user.activity_preferences or {}
    return {name: [key for key in saved.get(name, []) if key in TYPES_BY_KEY] for name in ("hidden", "not_counted")}


FILTERS = ["all", "unread", *TYPES_BY_KEY]


def feed(user: User, feed_filter: str, *, opened_at: datetime | None, limit: int = 50) -> list[ActivityItem]:
    """The feed, newest first. "All" leaves out the types the user hid; a type's own filter still
    lists them. "Unread" is what was unread when the feed was opened (`opened_at`)."""
    items = visible_items(user)
    if feed_filter in TYPES_BY_KEY:
        items = items.filter(kind__in=TYPES_BY_KEY[feed_filter].kinds)
    else:
        hidden = [kind for key in preferences(user)["hidden"] for kind in TYPES_BY_KEY[key].kinds]
        items = items.exclude(kind__in=hidden)
    if feed_filter == "unread":
        opened = Q(read_at__gte=opened_at) if opened_at else Q(pk__in=[])
        items = items.filter(Q(read_at__isnull=True) | opened)
    found = list(items.select_related("actor", "conversation").order_by("-created_at", "-id")[:limit])
    for item in found:
        item.unread = item.read_at is None or (opened_at is not None and item.read_at >= opened_at)  # type: ignore[attr-defined]
    return found


def unread_querysets(user: User) -> dict[str, QuerySet[Any]]:
    """The unread items of each type that lights the bell, for the sidebar counts (one statement
    with the others, cached with them): {"activity:<type>": queryset}."""
    unread = visible_items(user).filter(read_at__isnull=True)
    not_counted = preferences(user)["not_counted"]
    return {f"activity:{t.key}": unread.filter(kind__in=t.kinds) for t in TYPES if t.key not in not_counted}


def take_unread(numbers: dict[str, int]) -> dict[str, int]:
    """Out of the sidebar's counted numbers, the unread activity of each type: {type: n}, the
    types with none left out."""
    unread = {key.removeprefix("activity:"): numbers.pop(key) for key in list(numbers) if key.startswith("activity:")}
    return {key: n for key, n in unread.items() if n}


def badge_points(unread: dict[str, int]) -> int:
    """Unread reminders add 1 to the app badge whatever their number; nothing else does."""
    return 1 if unread.get(REMINDERS) else 0


@dataclass(frozen=True)
class Bell:
    count: int
    # "orange" for an unread reminder (it wins over the rest), "blue" for anything else unread.
    tone: str


def bell(sidebar_counts: dict[str, Any]) -> Bell:
    """The bell of the sidebar, from the unread items of each type the sidebar counts carry."""
    unread = sidebar_counts.get("activity", {})
    total = sum(unread.values())
    tone = "orange" if unread.get(REMINDERS) else "blue" if total else ""
    return Bell(count=total, tone=tone)


def get_item_for_user(user: User, item_id: UUID) -> ActivityItem | None:
    return visible_items(user).filter(id=item_id).select_related("conversation").first()


# --- Changes -------------------------------------------------------------------------------------


@transaction.atomic
def do_open_activity_feed(user: User) -> datetime:
    """Opening the feed reads everything in it: the bell's dot goes at once. Returns the moment,
    which the panel keeps to show what was unread until it closes."""
    now = timezone.now()
    ActivityItem.objects.filter(
        organization_id__in=Membership.objects.filter(user=user).values("organization_id"),
        recipient=user,
        read_at__isnull=True,
    ).update(read_at=now)
    counts.invalidate_counts_now_and_after_commit([user.id])
    return now


@transaction.atomic
def do_read_activity_item(item: ActivityItem) -> None:
    """Following an item reads it (one that arrived while the feed was open, say)."""
    if item.read_at is None:
        item.read_at = timezone.now()
        item.save(update_fields=["read_at"])
        counts.invalidate_counts_now_and_after_commit([item.recipient_id])


@transaction.atomic
def do_set_activity_preferences(user: User, *, displayed: Iterable[str], counted: Iterable[str]) -> None:
    """The feed's settings: which types the All view shows, and which light the bell."""
    displayed, counted = set(displayed), set(counted)
    user.activity_preferences = {
        "hidden": [t.key for t in TYPES if t.key not in displayed],
        "not_counted": [t.key for t in TYPES if t.key not in counted],
    }
    user.save(update_fields=["activity_preferences"])
    counts.invalidate_counts_now_and_after_commit([user.id])


def do_delete_old_activity(*, now: datetime | None = None) -> int:
    """Retention: items older than 30 days go, in short batches (each its own transaction)."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted = 0
    while True:
        batch = ActivityItem.objects.filter(created_at__lt=cutoff).values("id")[:DELETE_BATCH]
        n, _ = ActivityItem.objects.filter(id__in=Subquery(batch)).delete()
        deleted += n
        if n < DELETE_BATCH:
            return deleted
