"""Sidebar counts and the badge, cached per user and recomputed only after a change.

Every action that moves a conversation calls `invalidate_counts` for the people it affects
(after commit), so page views read the cache instead of counting rows each time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q

from conversations.models import VISIBLE_IN_ALL, VISIBLE_IN_TEAM_INBOX, Assignment, ConversationState, Location, Status
from inboxes.models import TeamMembership, TeamRole, User

CACHE_SECONDS = 6 * 3600


def _key(user_id: UUID | str) -> str:
    return f"sidebar-counts:v1:{user_id}"


def invalidate_counts(user_ids: Iterable[UUID | str]) -> None:
    cache.delete_many([_key(user_id) for user_id in set(user_ids)])


def sidebar_counts(user: User) -> dict[str, Any]:
    """{"inbox": n, "spam": n, "teams": {team_id: n}, "team-inboxes": n, "badge": n}."""
    counts = cache.get(_key(user.id))
    if counts is None:
        counts = compute_counts(user)
        cache.set(_key(user.id), counts, CACHE_SECONDS)
    return counts


def compute_counts(user: User) -> dict[str, Any]:
    # Every figure reads only the user's unread rows (a partial index), or their assignments.
    unread = ConversationState.objects.filter(user=user, unread=True)
    # Counted as the team inbox list shows it to me (not my snoozed, trashed or spam copies).
    in_team_inbox = Q(conversation__in_team_inbox=True, location__in=VISIBLE_IN_TEAM_INBOX)
    active_teams = TeamMembership.objects.filter(user=user, role=TeamRole.ACTIVE).values("team_id")
    totals = unread.aggregate(
        inbox=Count("id", filter=Q(location=Location.INBOX)),
        spam=Count("id", filter=Q(location=Location.SPAM)),
        # The badge counts each conversation once: Inbox, active members' team inboxes, pinned.
        badge=Count(
            "id",
            filter=Q(location=Location.INBOX)
            | (in_team_inbox & Q(conversation__team__in=active_teams))
            | Q(pinned=True),
        ),
    )
    active_here = Exists(
        TeamMembership.objects.filter(team=OuterRef("conversation__team"), user=user, role=TeamRole.ACTIVE)
    )
    per_team = list(
        unread.filter(in_team_inbox)
        .values("conversation__team_id")
        .annotate(n=Count("id"), active=active_here)
        .values_list("conversation__team_id", "active", "n")
    )
    # To-do: open conversations assigned to me (the "Assigned to me" mailbox).
    assigned = Assignment.objects.filter(
        user=user,
        conversation__status=Status.OPEN,
        conversation__states__user=user,
        conversation__states__location__in=VISIBLE_IN_ALL,
    ).count()
    return {
        "assigned": assigned,
        "inbox": totals["inbox"],
        "spam": totals["spam"],
        "teams": {str(team_id): n for team_id, _, n in per_team},
        "team-inboxes": sum(n for _, active, n in per_team if active),
        "badge": totals["badge"],
    }
