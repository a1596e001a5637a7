"""Sidebar counts and the badge, cached per user and recomputed only after a change.

Every action that moves a conversation calls `invalidate_counts` for the people it affects
(after commit), so page views read the cache instead of counting rows each time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db.models import Count, Q

from conversations.models import VISIBLE_IN_ALL, ConversationState, Location
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
    unread = ConversationState.objects.filter(user=user, unread=True)
    personal = dict(
        unread.filter(location__in=[Location.INBOX, Location.SPAM])
        .values_list("location")
        .annotate(n=Count("id"))
        .values_list("location", "n")
    )
    # A copy in my Trash or Spam is not in my view of the team inbox, so it is not counted there.
    in_team_inbox = Q(conversation__in_team_inbox=True, location__in=VISIBLE_IN_ALL)
    teams = {
        str(team_id): n
        for team_id, n in unread.filter(in_team_inbox)
        .values_list("conversation__team_id")
        .annotate(n=Count("id"))
        .values_list("conversation__team_id", "n")
    }
    active = {
        str(team_id)
        for team_id in TeamMembership.objects.filter(user=user, role=TeamRole.ACTIVE).values_list("team_id", flat=True)
    }
    # The badge counts each conversation once: Inbox, active members' team inboxes, pinned.
    badge = unread.filter(
        Q(location=Location.INBOX) | (in_team_inbox & Q(conversation__team__in=active)) | Q(pinned=True)
    ).count()
    return {
        "inbox": personal.get(Location.INBOX, 0),
        "spam": personal.get(Location.SPAM, 0),
        "teams": teams,
        "team-inboxes": sum(n for team_id, n in teams.items() if team_id in active),
        "badge": badge,
    }
