"""Chat rooms: the organization's room, each team's room, and a private room per pair of coworkers.

A room is a conversation that is only chat (kind ORG_ROOM, TEAM_ROOM or DIRECT) with a Room row
saying whose it is. Who has access follows membership: every member of the organization for its
room (given when they join), the team's active members and observers for a team room (the team's
access, as for any conversation of the team), the two people for a 1-1 room. Rooms are archived,
snoozed, trashed and watched like any conversation; assigning, closing, merging, sharing and
spam are refused (actions._check_not_room and friends).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from conversations.actions import ActionRefused, _event, grant_team_access, new_copy, team_member_ids
from conversations.models import (
    AccessSource,
    Conversation,
    ConversationKind,
    ConversationState,
    EventKind,
    Location,
    Room,
)
from inboxes.models import Membership, Organization, Team, TeamMembership, User

ORGANIZATION_ROOM_SUBJECT = "General"
DIRECT_ROOM_SUBJECT = "Direct chat"
# Coworker avatars shown per organization in the sidebar, the first by name.
SIDEBAR_COWORKERS = 24


def room_url(conversation_id: object) -> str:
    """Rooms open in the Rooms mailbox, beside the list of the user's other rooms."""
    return reverse("conversation", args=["rooms", conversation_id])


# --- Creating rooms and giving access ---------------------------------------------------------


def _get_or_create_room(
    organization: Organization,
    *,
    kind: str,
    subject: str,
    participants: list[dict[str, str]],
    team: Team | None = None,
    pair: tuple[UUID, UUID] | None = None,
    acting_user: User | None = None,
) -> tuple[Conversation, bool]:
    """The room, created if missing: (room, created). Two people opening a missing room at once
    both insert; the unique constraints make the second wait for the first and fail, and it
    returns the first one's room instead."""
    rooms = Room.objects.filter(organization=organization, kind=kind).select_related("conversation")
    if team is not None:
        rooms = rooms.filter(team=team)
    if pair is not None:
        rooms = rooms.filter(user_low_id=pair[0], user_high_id=pair[1])
    existing = rooms.first()
    if existing is not None:
        return existing.conversation, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                organization=organization,
                kind=kind,
                subject=subject,
                participants=participants,
                team=team,
                is_shared=True,
            )
            Room.objects.create(
                conversation=conversation,
                organization=organization,
                kind=kind,
                team=team,
                user_low_id=pair[0] if pair else None,
                user_high_id=pair[1] if pair else None,
            )
    except IntegrityError:
        return rooms.get().conversation, False
    _event(conversation, EventKind.CREATED, acting_user)
    return conversation, True


def _give_access(conversation: Conversation, user_ids: Iterable[UUID], *, watching: bool) -> None:
    """A copy of the room for each person who has none, out of their Inbox and read: a room
    comes to the Inbox like any conversation, through watching and mentions."""
    ConversationState.objects.bulk_create(
        [new_copy(conversation, user_id, source=AccessSource.ROOM, watching=watching) for user_id in user_ids],
        ignore_conflicts=True,
        batch_size=1000,
    )


@transaction.atomic
def do_create_organization_room(organization: Organization) -> Conversation:
    """The organization's room, created with the organization, for its members."""
    room, _ = _get_or_create_room(
        organization,
        kind=ConversationKind.ORG_ROOM,
        subject=ORGANIZATION_ROOM_SUBJECT,
        participants=[{"name": f"Everyone at {organization.name}", "address": ""}],
    )
    members = Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    _give_access(room, list(members), watching=False)
    return room


def join_organization_room(membership: Membership) -> None:
    """A new member joins the organization's room (if it has one yet: the organization's own
    creation makes it)."""
    room = Conversation.objects.filter(
        room__organization_id=membership.organization_id, room__kind=ConversationKind.ORG_ROOM
    ).first()
    if room is not None:
        _give_access(room, [membership.user_id], watching=False)


@transaction.atomic
def do_sync_team_room(team: Team) -> Conversation | None:
    """After the team's settings changed: Chat room Yes creates its room (once) for its members;
    No turns it off, which keeps it, with its history, out of the sidebar and read-only. The
    room takes the team's new name."""
    room = Conversation.objects.filter(room__team=team, kind=ConversationKind.TEAM_ROOM).first()
    if room is None and team.has_chat_room:
        room, created = _get_or_create_room(
            team.organization,
            kind=ConversationKind.TEAM_ROOM,
            subject=str(team),
            participants=[{"name": f"{team.name} team", "address": ""}],
            team=team,
        )
        if created:
            grant_team_access(team, team_member_ids(team.id), conversations=[room])
    if room is not None and room.subject != str(team):
        room.subject = str(team)
        room.participants = [{"name": f"{team.name} team", "address": ""}]
        room.save(update_fields=["subject", "participants"])
    return room


def delete_team_room(team: Team) -> None:
    """A deleted team's room goes with it."""
    Conversation.objects.filter(room__team=team, kind=ConversationKind.TEAM_ROOM).delete()


@transaction.atomic
def do_open_direct_room(organization: Organization, *, acting_user: User, coworker: User) -> Conversation:
    """The private room of two members of the organization, created the first time either of
    them opens it. Both watch it: every message in it comes to the other one's Inbox."""
    if coworker.id == acting_user.id:
        raise ActionRefused("Pick a coworker: a 1-1 room is between two people.")
    members = set(
        Membership.objects.filter(organization=organization, user__in=[acting_user, coworker]).values_list(
            "user_id", flat=True
        )
    )
    if members != {acting_user.id, coworker.id}:
        raise ActionRefused("1-1 rooms are between members of the same organization.")
    low, high = sorted([acting_user, coworker], key=lambda user: user.id)
    room, _ = _get_or_create_room(
        organization,
        kind=ConversationKind.DIRECT,
        subject=DIRECT_ROOM_SUBJECT,
        participants=[{"name": user.display_name, "address": user.email} for user in (low, high)],
        pair=(low.id, high.id),
        acting_user=acting_user,
    )
    # Also after a member left and came back: their copy went with their membership.
    _give_access(room, [low.id, high.id], watching=True)
    return room


# --- Reading rooms ------------------------------------------------------------------------------


def room_conversation_ids(user: User) -> list[UUID]:
    """The rooms the user may be in: their organizations' rooms, their teams' rooms and their
    1-1 rooms (the Rooms mailbox keeps those the user has a copy of). A handful of ids, so the
    mailbox reads the user's copies by the unique (conversation, user) index."""
    organizations = Membership.objects.filter(user=user).values("organization_id")
    teams = TeamMembership.objects.filter(user=user).values("team_id")
    return list(
        Room.objects.filter(
            Q(kind=ConversationKind.ORG_ROOM, organization_id__in=organizations)
            | Q(kind=ConversationKind.TEAM_ROOM, team_id__in=teams)
            | Q(user_low=user)
            | Q(user_high=user)
        ).values_list("conversation_id", flat=True)
    )


@dataclass
class RoomLink:
    """A room in the sidebar."""

    conversation_id: UUID
    name: str
    url: str
    unread: bool
    coworker: User | None = None


@dataclass
class OrganizationRooms:
    general: RoomLink | None = None
    direct: list[RoomLink] = field(default_factory=list)
    coworkers: list[User] = field(default_factory=list)
    more_coworkers: bool = False  # some are not shown: the "+" button lists everyone


# Where a copy of a room shows in the user's lists (not Trash or Spam).
LISTED_LOCATIONS = [location for location in Location.values if location not in (Location.TRASHED, Location.SPAM)]


def rooms_sidebar(user: User, memberships: list[Membership], team_memberships: list[TeamMembership]) -> dict[str, Any]:
    """Each organization's room, 1-1 rooms and coworkers, and each team's room when it is on,
    with whether the user has unread messages in them: one query, plus one per organization for
    its first coworkers."""
    organization_ids = [m.organization_id for m in memberships]
    teams = {tm.team_id: tm.team for tm in team_memberships}
    # The rooms with the user's own copy, read in the same statement (one filter() call, so the
    # location and the unread flag are of that copy). Trashed rooms leave the sidebar, as they
    # leave the user's lists.
    rooms = (
        Room.objects.filter(organization_id__in=organization_ids)
        .filter(
            Q(kind=ConversationKind.ORG_ROOM)
            | Q(kind=ConversationKind.TEAM_ROOM, team_id__in=list(teams))
            | Q(user_low=user)
            | Q(user_high=user)
        )
        .filter(conversation__states__user=user, conversation__states__location__in=LISTED_LOCATIONS)
        .values(
            "conversation_id",
            "organization_id",
            "kind",
            "team_id",
            "user_low_id",
            "user_low__name",
            "user_low__email",
            "user_high_id",
            "user_high__name",
            "user_high__email",
            "conversation__states__unread",
        )
    )
    by_organization: dict[UUID, OrganizationRooms] = defaultdict(OrganizationRooms)
    team_rooms: dict[UUID, RoomLink] = {}
    for room in rooms:
        conversation_id, organization_id, kind = room["conversation_id"], room["organization_id"], room["kind"]
        link = RoomLink(conversation_id, "", room_url(conversation_id), room["conversation__states__unread"])
        if kind == ConversationKind.ORG_ROOM:
            link.name = ORGANIZATION_ROOM_SUBJECT
            by_organization[organization_id].general = link
        elif kind == ConversationKind.TEAM_ROOM:
            team = teams[room["team_id"]]
            if team.has_chat_room:
                link.name = "Room"
                team_rooms[team.id] = link
        else:
            if room["user_low_id"] == user.id:
                coworker = User(id=room["user_high_id"], name=room["user_high__name"], email=room["user_high__email"])
            else:
                coworker = User(id=room["user_low_id"], name=room["user_low__name"], email=room["user_low__email"])
            link.name, link.coworker = coworker.display_name, coworker
            by_organization[organization_id].direct.append(link)
    # The first coworkers by name in each organization (one more tells whether there are more):
    # a large organization's members are not all read on every page. Plain values, not models
    # with joins: this runs on every list page, so building the query has to be cheap too.
    for organization_id in organization_ids:
        entry = by_organization[organization_id]
        rows = (
            Membership.objects.filter(organization_id=organization_id)
            .exclude(user_id=user.id)
            .order_by("user__name", "user__email")
            .values_list("user_id", "user__name", "user__email")[: SIDEBAR_COWORKERS + 1]
        )
        prefix = reverse("open_direct_room", args=[organization_id, user.id]).removesuffix(f"{user.id}/")
        for user_id, name, email in rows:
            if len(entry.coworkers) == SIDEBAR_COWORKERS:
                entry.more_coworkers = True
                break
            coworker = User(id=user_id, name=name, email=email)
            coworker.direct_room_url = f"{prefix}{user_id}/"  # type: ignore[attr-defined]
            entry.coworkers.append(coworker)
    for entry in by_organization.values():
        entry.direct.sort(key=lambda link: link.name.lower())
    return {"sidebar_rooms": dict(by_organization), "sidebar_team_rooms": team_rooms}


@dataclass
class RoomInfo:
    """How a room presents itself to one person."""

    title: str
    kind_label: str
    about: str
    icon: str = ""
    coworker: User | None = None
    turned_off: bool = False


def room_info(conversation: Conversation, viewer: User) -> RoomInfo:
    """A 1-1 room is named after the other person; a team's room after the team. Kept on the
    conversation: its header and its details both show it."""
    cached: RoomInfo | None = getattr(conversation, "_room_info", None)
    if cached is None:
        cached = _room_info(conversation, viewer)
        conversation._room_info = cached  # type: ignore[attr-defined]
    return cached


def _room_info(conversation: Conversation, viewer: User) -> RoomInfo:
    if conversation.kind == ConversationKind.DIRECT:
        room = Room.objects.select_related("user_low", "user_high").get(conversation=conversation)
        coworker = room.user_high if room.user_low_id == viewer.id else room.user_low
        name = coworker.display_name if coworker else "Former member"
        return RoomInfo(name, "1-1 chat", f"Only you and {name}", coworker=coworker)
    if conversation.kind == ConversationKind.TEAM_ROOM:
        team = conversation.team
        if team is None:
            return RoomInfo(conversation.display_subject, "Team room", "", turned_off=True)
        about = f"The {team.name} team's active members and observers"
        return RoomInfo(team.name, "Team room", about, icon=team.emoji, turned_off=not team.has_chat_room)
    organization = conversation.organization
    return RoomInfo(conversation.display_subject, "Organization room", f"Everyone at {organization.name}", icon="#")
