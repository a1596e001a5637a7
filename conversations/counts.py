"""Sidebar counts and the badge, cached per user and recomputed only after a change.

Every action that moves a conversation calls `invalidate_counts` for the people it affects
(after commit), so page views read the cache instead of counting rows each time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from conversations import activity
from conversations.models import (
    VISIBLE_IN_ALL,
    VISIBLE_IN_TEAM_INBOX,
    ConversationState,
    Location,
)
from inboxes.models import TeamMembership, TeamRole, User

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


def sidebar_counts(user: User, team_roles: Mapping[UUID, str] | None = None) -> dict[str, Any]:
    """{"inbox": n, "spam": n, "assigned": n, "teams": {team_id: n}, "team-inboxes": n, "badge": n}.

    `team_roles` ({team_id: role} of the user's teams), when the caller has them, spares a query."""
    counts = cache.get(_key(user.id))
    if counts is None:
        counts = compute_counts(user, team_roles)
        cache.set(_key(user.id), counts, CACHE_SECONDS)
    return counts


# Past this, the sidebar shows "999+": counting further costs time and tells nobody anything.
COUNT_CAP = 1000


def compute_counts(user: User, team_roles: Mapping[UUID, str] | None = None) -> dict[str, Any]:
    """Every count in one statement of capped counts over partial indexes of the user's own
    states: each reads at most COUNT_CAP index entries, whatever the size of the mailboxes.

    A user has one state per conversation, so the badge ("each conversation once": my Inbox, the
    team inboxes of my active teams, pinned) is one count of states matching any of them."""
    if team_roles is None:
        team_roles = dict(TeamMembership.objects.filter(user=user).values_list("team_id", "role"))
    active_teams = [team_id for team_id, role in team_roles.items() if role == TeamRole.ACTIVE]
    unread = ConversationState.objects.filter(user=user, unread=True)
    in_team_inbox = Q(location__in=VISIBLE_IN_TEAM_INBOX, team_inbox__isnull=False)
    counted = {
        "inbox": unread.filter(location=Location.INBOX),
        "spam": unread.filter(location=Location.SPAM),
        "assigned": ConversationState.objects.filter(
            user=user, assigned=True, conversation_open=True, location__in=VISIBLE_IN_ALL
        ),
        "team-inboxes": unread.filter(in_team_inbox, team_inbox__in=active_teams),
        "badge": unread.filter(
            Q(location=Location.INBOX) | Q(pinned=True) | Q(in_team_inbox, team_inbox__in=active_teams)
        ),
        **{f"team:{team_id}": unread.filter(in_team_inbox, team_inbox=team_id) for team_id in team_roles},
    }
    numbers = _capped_counts({**counted, **activity.unread_querysets(user)})
    unread_activity = activity.take_unread(numbers)  # the Activity feed's bell
    numbers["badge"] = min(numbers["badge"] + activity.badge_points(unread_activity), COUNT_CAP - 1)
    return {
        **{key: n for key, n in numbers.items() if not key.startswith("team:")},
        "teams": {key.removeprefix("team:"): n for key, n in numbers.items() if key.startswith("team:") and n},
        "activity": unread_activity,
    }


def _capped_counts(querysets: Mapping[str, QuerySet[ConversationState]]) -> dict[str, int]:
    """min(count, COUNT_CAP - 1) of each queryset, in one round trip."""
    selects: list[str] = []
    params: list[Any] = []
    for queryset in querysets.values():
        try:
            sql, query_params = queryset.values("id")[:COUNT_CAP].query.sql_with_params()
        except EmptyResultSet:  # e.g. "in these teams" with no teams
            selects.append("0")
            continue
        # The SQL is Django's own compilation; every value stays a parameter.
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608
        params.extend(query_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(selects)}", params)
        row = cursor.fetchone()
    return {key: min(n, COUNT_CAP - 1) for key, n in zip(querysets, row, strict=True)}
