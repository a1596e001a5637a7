"""GET, POST and PATCH /v1/teams (rest-api.md §4.33–4.35). Creating and changing teams is for
owners and admins; the spec's settings map onto our Team's fields."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from channels_app.api.batch import Text, items_for_ids, parse_ids, refused
from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import offset_page
from channels_app.api.serializers import team_json
from channels_app.api.team_hours import (
    BusinessHoursIn,
    do_set_team_business_hours,
    hours_by_team,
    hours_json,
    weekly_from_api,
)
from channels_app.api.users import member_organization_ids
from inboxes.access import get_managed_membership
from inboxes.actions import do_create_team, do_set_team_members, do_update_team
from inboxes.models import Team, TeamRole

router = Router(tags=["teams"])

HEX = r"^#[0-9a-fA-F]{6}$"
# Up to a year, in seconds.
MAX_INACTIVITY_PERIOD = 366 * 86400


class TeamIn(Schema):
    model_config = ConfigDict(extra="forbid")

    id: UUID | None = None
    name: Text | None = Field(default=None, min_length=1, max_length=80)
    organization: UUID | None = None
    emoji: Text | None = Field(default=None, max_length=16)
    color: Text | None = Field(default=None, pattern=HEX)
    active_members: list[UUID] | None = None
    observers: list[UUID] | None = None
    team_mention_behavior: Literal["all_members", "only_active_members"] | None = None
    user_reply_behavior: Literal["assign_user", "leave_in_team_inbox"] | None = None
    received_reply_behavior: Literal["show_in_assignee_inbox", "show_in_team_inbox"] | None = None
    team_inbox_enabled: bool | None = None
    chat_room_enabled: bool | None = None
    business_hours: BusinessHoursIn | None = None
    inactivity_period: int | None = Field(default=None, ge=3600, le=MAX_INACTIVITY_PERIOD)
    team_sidebar_behavior: Literal["show_team_space", "show_team_inbox"] | None = None


class TeamsBody(Schema):
    teams: list[TeamIn] = Field(min_length=1)


def _teams_json(teams: list[Team]) -> list[dict[str, Any]]:
    hours = hours_by_team(teams)
    return [{**team_json(team), "business_hours": hours_json(hours.get(team.id))} for team in teams]


def _save(team: Team, item: TeamIn, prefix: str) -> None:
    """Apply the given settings over the team's current ones."""
    if item.business_hours is not None:
        time_zone, weekly = weekly_from_api(item.business_hours, f"{prefix}.business_hours")
        do_set_team_business_hours(team, time_zone=time_zone, weekly=weekly)
    mention = item.team_mention_behavior
    reply = item.user_reply_behavior
    received = item.received_reply_behavior
    sidebar = item.team_sidebar_behavior
    do_update_team(
        team,
        name=item.name if item.name is not None else team.name,
        emoji=item.emoji if item.emoji is not None else team.emoji,
        color=item.color or team.color,
        has_inbox=item.team_inbox_enabled if item.team_inbox_enabled is not None else team.has_inbox,
        has_chat_room=item.chat_room_enabled if item.chat_room_enabled is not None else team.has_chat_room,
        show_team_space=team.show_team_space if sidebar is None else sidebar == "show_team_space",
        mention_adds_observers=team.mention_adds_observers if mention is None else mention == "all_members",
        assign_on_reply=team.assign_on_reply if reply is None else reply == "assign_user",
        reply_to_assigned_goes_to_team_inbox=team.reply_to_assigned_goes_to_team_inbox
        if received is None
        else received == "show_in_team_inbox",
        inactivity_period=team.inactivity_period if item.inactivity_period is None else item.inactivity_period,
    )
    if item.active_members is not None or item.observers is not None:
        current = list(team.memberships.values_list("user_id", "role"))
        active = item.active_members
        if active is None:
            active = [user_id for user_id, role in current if role == TeamRole.ACTIVE]
        observers = item.observers
        if observers is None:
            observers = [user_id for user_id, role in current if role == TeamRole.OBSERVER]
        do_set_team_members(team, active=active, observers=observers)


def _teams(ids: list[UUID]) -> list[dict[str, Any]]:
    teams = Team.objects.filter(id__in=ids).prefetch_related("memberships")
    by_id = {team.id: team for team in teams}
    return _teams_json([by_id[team_id] for team_id in ids])


@router.get("/teams")
def list_teams(
    request: HttpRequest, organization: UUID | None = None, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    user = api_user(request)
    teams = (
        Team.objects.filter(organization_id__in=member_organization_ids(user, organization))
        .prefetch_related("memberships")
        .order_by("name", "id")
    )
    return {"teams": _teams_json(list(offset_page(teams, limit, offset)))}


@router.post("/teams", response={201: dict[str, Any]})
def create_teams(request: HttpRequest, payload: TeamsBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    for index, item in enumerate(payload.teams):
        prefix = f"teams.{index}"
        for name in ("name", "organization"):
            if getattr(item, name) is None:
                raise ApiError(f"'{prefix}.{name}' is required", field=f"{prefix}.{name}")
        if item.id is not None:
            raise ApiError(f"'{prefix}.id' is set by the server", field=f"{prefix}.id")
        get_managed_membership(user, item.organization)  # type: ignore[arg-type]
    created = []
    with transaction.atomic():
        for index, item in enumerate(payload.teams):
            organization = get_managed_membership(user, item.organization).organization  # type: ignore[arg-type]
            team = do_create_team(organization, name=item.name or "")
            try:
                _save(team, item, f"teams.{index}")
            except ValidationError as exc:
                raise refused(exc, f"teams.{index}", default_field="active_members") from exc
            created.append(team.id)
    return Status(201, {"teams": _teams(created)})


@router.patch("/teams/{team_ids}")
def update_teams(request: HttpRequest, team_ids: str, payload: TeamsBody) -> dict[str, Any]:
    user = api_user(request)
    ids = parse_ids(team_ids, field="team_ids")
    teams = {team.id: team for team in Team.objects.filter(id__in=ids, organization__memberships__user=user)}
    if len(teams) != len(ids):
        raise Http404("No such team.")
    pairs = items_for_ids(ids, payload.teams, envelope="teams")
    for team_id, item, index in pairs:
        if item.organization is not None and item.organization != teams[team_id].organization_id:
            raise ApiError(f"'teams.{index}.organization' cannot change", field=f"teams.{index}.organization")
        get_managed_membership(user, teams[team_id].organization_id)
    with transaction.atomic():
        for team_id, item, index in pairs:
            try:
                _save(teams[team_id], item, f"teams.{index}")
            except ValidationError as exc:
                raise refused(exc, f"teams.{index}", default_field="active_members") from exc
    return {"teams": _teams(ids)}
