"""The mailboxes of the sidebar and the indexed query behind each one.

Every mailbox is a query over the current user's ConversationState rows, so a user can only
ever list conversations they have access to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import get_script_prefix, reverse

from conversations.drafts import drafts_conversation_ids
from conversations.models import (
    VISIBLE_IN_TEAM_INBOX,
    Assignment,
    ConversationLabel,
    ConversationState,
    Label,
    Location,
    Status,
)
from conversations.rooms import room_conversation_ids
from inboxes.models import Team, TeamMembership, TeamRole, User


@dataclass(frozen=True)
class Mailbox:
    key: str
    label: str
    icon: str
    team: Team | None = None
    org_label: Label | None = None

    @cached_property
    def url(self) -> str:
        if self.org_label is not None:
            return _reverse(get_script_prefix(), "label_mailbox", str(self.org_label.id))
        if self.team is not None:
            return _reverse(get_script_prefix(), "team_mailbox", str(self.team.id), self.key)
        return _reverse(get_script_prefix(), "mailbox", self.key)

    def conversation_url(self, conversation_id: object) -> str:
        # Every mailbox URL has a conversation URL one segment deeper; joining beats reverse()
        # for the fifty rows of a page.
        return f"{self.url}{conversation_id}/"

    @property
    def title(self) -> str:
        if self.org_label is not None:
            return self.label  # the label's "Parent/Child" path when known
        if self.team is None:
            return self.label
        return f"{self.team} · {self.label}" if self.key != "inbox" else str(self.team)

    @property
    def ordering(self) -> tuple[str, str]:
        """Newest first. A team's lists follow the team's own conversation index (organization,
        team, -last_activity_at), read in order a page at a time; ordering by the state's copy of
        that time instead made PostgreSQL fetch and sort every conversation of a quiet team, or
        walk all of a busy member's states to find a team's few."""
        if self.team is not None:
            return ("-conversation__last_activity_at", "-conversation_id")
        return ("-last_activity_at", "-id")

    def states(self, user: User) -> QuerySet[ConversationState]:
        base = ConversationState.objects.filter(user=user)
        if self.org_label is not None:
            labelled = ConversationLabel.objects.filter(conversation=OuterRef("conversation"), label=self.org_label)
            return base.in_all().filter(Exists(labelled))  # type: ignore[attr-defined]
        if self.team is not None:
            return _team_filter(base, self.team, self.key)
        return _personal_filter(base, user, self.key)


@lru_cache(maxsize=4096)
def _reverse(script_prefix: str, name: str, *args: str) -> str:
    """reverse(), remembered: the sidebar builds a Mailbox per team mailbox and label on every
    page, and resolving their ~70 URLs each time cost a few milliseconds per request."""
    return reverse(name, args=args)


PERSONAL_MAILBOXES = [
    Mailbox("inbox", "Inbox", "inbox"),
    Mailbox("all", "All", "all"),
    Mailbox("team-inboxes", "Team inboxes", "team"),
    Mailbox("assigned", "Assigned to me", "assigned"),
    Mailbox("assigned-others", "Assigned to others", "assigned"),
    Mailbox("closed", "Closed", "closed"),
    Mailbox("snoozed", "Snoozed", "snoozed"),
    Mailbox("starred", "Starred", "star"),
    Mailbox("drafts", "Drafts", "drafts"),
    Mailbox("sent", "Sent", "sent"),
    Mailbox("archive", "Archive", "archive"),
    Mailbox("trash", "Trash", "trash"),
    Mailbox("spam", "Spam", "spam"),
    Mailbox("rooms", "Rooms", "chat"),
    Mailbox("send-later", "Send later", "send-later"),
]
TEAM_MAILBOXES = [
    ("inbox", "Team inbox", "team"),
    ("assigned", "Assigned", "assigned"),
    ("closed", "Closed", "closed"),
    ("sent", "Sent", "sent"),
    ("all", "All", "all"),
]
_BY_KEY = {mailbox.key: mailbox for mailbox in PERSONAL_MAILBOXES}
# The Drafts list's "Others' drafts" toggle: a mailbox of its own, not in the sidebar.
_BY_KEY["drafts-others"] = Mailbox("drafts-others", "Drafts", "drafts")
TEAM_MAILBOX_KEYS = [key for key, _, _ in TEAM_MAILBOXES]
# The lists of drafts in progress, each with whose drafts it shows (drafts_conversation_ids).
DRAFT_MAILBOXES = {"drafts": "mine", "drafts-others": "others", "send-later": "scheduled"}


def personal_mailbox(key: str) -> Mailbox | None:
    return _BY_KEY.get(key)


def label_mailbox(label: Label, title: str = "") -> Mailbox:
    return Mailbox("label", title or label.name, "label", org_label=label)


def team_mailbox(team: Team, key: str) -> Mailbox | None:
    for mailbox_key, label, icon in TEAM_MAILBOXES:
        if mailbox_key == key:
            return Mailbox(mailbox_key, label, icon, team=team)
    return None


def _personal_filter(base: QuerySet[ConversationState], user: User, key: str) -> QuerySet[ConversationState]:
    if key == "snoozed":
        return base.filter(Q(location=Location.SNOOZED) | Q(snoozed_until__isnull=False))
    simple = {
        "inbox": Location.INBOX,
        "archive": Location.ARCHIVED,
        "trash": Location.TRASHED,
        "spam": Location.SPAM,
    }
    if key in simple:
        return base.filter(location=simple[key])
    visible = base.in_all()  # type: ignore[attr-defined]
    if key == "all":
        return visible
    if key == "team-inboxes":
        active_teams = TeamMembership.objects.filter(user=user, role=TeamRole.ACTIVE).values("team_id")
        return base.filter(
            location__in=VISIBLE_IN_TEAM_INBOX, conversation__in_team_inbox=True, conversation__team__in=active_teams
        )
    mine = Assignment.objects.filter(conversation=OuterRef("conversation"), user=user)
    if key == "assigned":
        return visible.filter(assigned=True, conversation_open=True)
    if key == "assigned-others":
        others = Assignment.objects.filter(conversation=OuterRef("conversation")).exclude(user=user)
        return visible.filter(Exists(others), ~Exists(mine), conversation__status=Status.OPEN)
    if key == "closed":
        return visible.filter(conversation__status=Status.CLOSED)
    if key == "starred":
        return visible.filter(starred=True)
    if key == "sent":
        return visible.filter(conversation__has_outbound=True)
    if key in DRAFT_MAILBOXES:
        return visible.filter(conversation_id__in=drafts_conversation_ids(user, whose=DRAFT_MAILBOXES[key]))
    if key == "rooms":
        return visible.filter(conversation_id__in=room_conversation_ids(user))
    raise ValueError(key)


def _team_filter(base: QuerySet[ConversationState], team: Team, key: str) -> QuerySet[ConversationState]:
    # The organization leads the team indexes of conversations (see Mailbox.ordering).
    of_team = {"conversation__organization_id": team.organization_id, "conversation__team": team}
    if key == "inbox":
        return base.filter(location__in=VISIBLE_IN_TEAM_INBOX, conversation__in_team_inbox=True, **of_team)
    in_team = base.in_all().filter(**of_team)  # type: ignore[attr-defined]
    if key == "assigned":
        return in_team.filter(conversation__assigned=True, conversation__status=Status.OPEN)
    if key == "closed":
        return in_team.filter(conversation__status=Status.CLOSED)
    if key == "sent":
        return in_team.filter(conversation__has_outbound=True)
    if key == "all":
        return in_team
    raise ValueError(key)
