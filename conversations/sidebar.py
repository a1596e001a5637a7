"""What the left sidebar shows: organizations, teams, mailboxes and unread counts.

A fixed number of queries whatever the data size; counts come cached from conversations.counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from conversations.counts import sidebar_counts
from conversations.labels import label_tree, labels_visible_to_user_q
from conversations.mailboxes import PERSONAL_MAILBOXES, Mailbox, label_mailbox, team_mailbox
from conversations.models import ConversationState, Label
from conversations.rooms import rooms_sidebar
from conversations.search_views import search_shortcuts
from inboxes.models import Membership, Organization, Team, TeamMembership, User

PINNED_LIMIT = 20
# Mailboxes shown in the main section; the others sit under "More".
MAIN_KEYS = ["inbox", "all", "assigned", "team-inboxes"]
ALL = next(m for m in PERSONAL_MAILBOXES if m.key == "all")  # where pinned conversations open


@dataclass
class TeamEntry:
    team: Team
    role: str
    unread: int
    mailboxes: list[Mailbox] = field(default_factory=list)

    @property
    def inbox(self) -> Mailbox:
        return self.mailboxes[0]


@dataclass
class PinnedEntry:
    """A pinned conversation in the sidebar: a few columns, not the conversation (on every page)."""

    conversation_id: Any
    display_subject: str
    unread: bool
    url: str


@dataclass
class LabelEntry:
    """A label of the sidebar: its mailbox, indented by its depth in the tree."""

    mailbox: Mailbox
    depth: int


@dataclass
class OrganizationEntry:
    organization: Organization
    membership: Membership
    teams: list[TeamEntry]
    labels: list[LabelEntry] = field(default_factory=list)
    personal_labels: list[LabelEntry] = field(default_factory=list)


def sidebar_context(user: User) -> dict[str, Any]:
    memberships = list(
        Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")
    )
    team_memberships = list(TeamMembership.objects.filter(user=user).select_related("team").order_by("team__name"))
    counts = sidebar_counts(user, {tm.team_id: tm.role for tm in team_memberships})
    teams_by_org: dict[Any, list[TeamEntry]] = defaultdict(list)
    for tm in team_memberships:
        mailboxes = [m for key in ("inbox", "assigned", "closed", "sent", "all") if (m := team_mailbox(tm.team, key))]
        teams_by_org[tm.team.organization_id].append(
            TeamEntry(team=tm.team, role=tm.role, unread=counts["teams"].get(str(tm.team_id), 0), mailboxes=mailboxes)
        )
    # Only the labels this user may see, personal ones apart, each as a tree.
    labels_by_org: dict[Any, list[LabelEntry]] = defaultdict(list)
    personal_by_org: dict[Any, list[LabelEntry]] = defaultdict(list)
    for node in label_tree(Label.objects.filter(labels_visible_to_user_q(user.id, memberships))):
        label = node.label
        entries = personal_by_org if label.is_personal else labels_by_org
        entries[label.organization_id].append(LabelEntry(label_mailbox(label, node.path), node.depth))
    organizations = [
        OrganizationEntry(
            organization=m.organization,
            membership=m,
            teams=teams_by_org[m.organization_id],
            labels=labels_by_org[m.organization_id],
            personal_labels=personal_by_org[m.organization_id],
        )
        for m in memberships
    ]
    main = [m for m in PERSONAL_MAILBOXES if m.key in MAIN_KEYS]
    more = [m for m in PERSONAL_MAILBOXES if m.key not in MAIN_KEYS]
    pinned = [
        PinnedEntry(conversation_id, subject or "(no subject)", unread, ALL.conversation_url(conversation_id))
        for conversation_id, subject, unread in ConversationState.objects.filter(user=user, pinned=True)
        .order_by("-last_activity_at")
        .values_list("conversation_id", "conversation__subject", "unread")[:PINNED_LIMIT]
    ]
    return {
        **search_shortcuts(user),
        "sidebar_pinned": pinned,
        "sidebar_organizations": organizations,
        "sidebar_main": main,
        "sidebar_more": more,
        "sidebar_counts": counts,
        "can_manage_any": any(m.can_manage for m in memberships),
        **rooms_sidebar(user, memberships, team_memberships),
    }
