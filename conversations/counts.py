"""Sidebar counts and the badge, cached per user and recomputed only after a change.

Every action that moves a conversation calls `invalidate_counts` for the people it affects
(after commit), so page views read the cache instead of counting rows each time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from conversations.models import (
    VISIBLE_IN_ALL,
    VISIBLE_IN_TEAM_INBOX,
    ConversationState,
    Location,
    Status,
)
from inboxes.models import TeamRole, User

CACHE_SECONDS = 6 * 3600


def _key(user_id: UUID | str) -> str:
    return f"sidebar-counts:v1:{user_id}"


def invalidate_counts(user_ids: Iterable[UUID | str]) -> None:
    cache.delete_many([_key(user_id) for user_id in set(user_ids)])


def invalidate_counts_now_and_after_commit(user_ids: Iterable[UUID | str]) -> None:
    """For changes made in a transaction: a page view between the two could cache the
    pre-commit numbers."""
    user_ids = list(user_ids)
    invalidate_counts(user_ids)
    transaction.on_commit(lambda: invalidate_counts(user_ids))


def sidebar_counts(user: User) -> dict[str, Any]:
    """{"inbox": n, "spam": n, "teams": {team_id: n}, "team-inboxes": n, "badge": n}."""
    counts = cache.get(_key(user.id))
    if counts is None:
        counts = compute_counts(user)
        cache.set(_key(user.id), counts, CACHE_SECONDS)
    return counts


# Past this, the sidebar shows "999+": counting further costs time and tells nobody anything.
COUNT_CAP = 1000


def compute_counts(user: User) -> dict[str, Any]:
    """Three bounded queries, each reading at most a few thousand of the user's unread rows."""
    unread = ConversationState.objects.filter(user=user, unread=True)
    personal = list(
        unread.filter(Q(location__in=[Location.INBOX, Location.SPAM]) | Q(pinned=True)).values_list(
            "conversation_id", "location", "pinned"
        )[: 3 * COUNT_CAP]
    )
    # Team inboxes as each list shows them to me (not my snoozed, trashed or spam copies), with
    # my role in each team from the same join.
    in_teams = list(
        unread.filter(
            conversation__in_team_inbox=True,
            location__in=VISIBLE_IN_TEAM_INBOX,
            conversation__team__memberships__user=user,
        ).values_list("conversation_id", "conversation__team_id", "location", "conversation__team__memberships__role")[
            : 5 * COUNT_CAP
        ]
    )
    # My assigned states (a partial index), checking each one's conversation by primary key.
    assigned = (
        ConversationState.objects.filter(
            user=user, assigned=True, location__in=VISIBLE_IN_ALL, conversation__status=Status.OPEN
        )
        .values("id")[:COUNT_CAP]
        .count()
    )
    teams: dict[str, int] = {}
    for _, team_id, _, _ in in_teams:
        teams[str(team_id)] = teams.get(str(team_id), 0) + 1
    # The badge counts each conversation once: my Inbox, the team inboxes of teams I am an active
    # member of, and pinned conversations.
    in_my_inbox = {cid for cid, location, _ in personal if location == Location.INBOX}
    in_active_teams = {cid for cid, _, _, role in in_teams if role == TeamRole.ACTIVE}
    pinned = {cid for cid, _, is_pinned in personal if is_pinned}
    return {
        "assigned": _cap(assigned),
        "inbox": _cap(len(in_my_inbox)),
        "spam": _cap(sum(1 for _, location, _ in personal if location == Location.SPAM)),
        "teams": {team_id: _cap(n) for team_id, n in teams.items()},
        "team-inboxes": _cap(len(in_active_teams)),
        "badge": _cap(len(in_my_inbox | in_active_teams | pinned)),
    }


def _cap(n: int) -> int:
    return min(n, COUNT_CAP - 1)
