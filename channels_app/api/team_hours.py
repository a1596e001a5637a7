"""A team's business_hours on /v1/teams (rest-api.md §4.34): `{tz, t: [{d, s: [start, end]}]}`,
days 0–6 from Sunday and seconds from midnight, stored as the business hours the rules engine
reads (rules.models.BusinessHours: `weekly` {"mon": [["09:00", "17:00"]], …} in `time_zone`). A
team's closed days (holidays) are not part of the API and stay as they are."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ninja import Schema
from pydantic import ConfigDict, Field

from channels_app.api.core import ApiError
from inboxes.models import Team
from rules.hours import DAYS
from rules.models import BusinessHours

# The API counts days from Sunday; rules/hours.py names them from Monday.
_API_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
DAY_SECONDS = 24 * 3600


class OpenDay(Schema):
    model_config = ConfigDict(extra="forbid")

    d: int = Field(ge=0, le=6)
    s: list[int] = Field(min_length=2, max_length=2)


class BusinessHoursIn(Schema):
    model_config = ConfigDict(extra="forbid")

    tz: str = Field(min_length=1, max_length=64)
    t: list[OpenDay] = Field(default_factory=list, max_length=100)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _seconds(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 3600 + int(minutes or 0) * 60


def weekly_from_api(value: BusinessHoursIn, prefix: str) -> tuple[str, dict[str, list[list[str]]]]:
    """(time zone, weekly) from the API's form; raises ApiError naming the bad part."""
    try:
        ZoneInfo(value.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(f"'{prefix}.tz' must be an IANA time zone such as Europe/Paris", field=f"{prefix}.tz") from None
    weekly: dict[str, list[list[str]]] = {day: [] for day in DAYS}
    for index, day in enumerate(value.t):
        start, end = day.s
        if not 0 <= start < end <= DAY_SECONDS or start % 60 or end % 60:
            field = f"{prefix}.t.{index}.s"
            raise ApiError(
                f"'{field}' must be [start, end] in whole minutes from midnight, start before end, at most 86400",
                field=field,
            )
        weekly[_API_DAYS[day.d]].append([_clock(start), _clock(end)])
    return value.tz, {day: sorted(intervals) for day, intervals in weekly.items()}


def hours_by_team(teams: list[Team]) -> dict[Any, BusinessHours]:
    """The teams' business hours, in one query."""
    return {row.team_id: row for row in BusinessHours.objects.filter(team__in=teams)}


def hours_json(row: BusinessHours | None) -> dict[str, Any] | None:
    if row is None:
        return None
    opened = [
        {"d": _API_DAYS.index(day), "s": [_seconds(start), _seconds(end)]}
        for day in _API_DAYS
        for start, end in (row.weekly or {}).get(day, [])
    ]
    return {"tz": row.time_zone, "t": opened}


def do_set_team_business_hours(team: Team, *, time_zone: str, weekly: dict[str, list[list[str]]]) -> None:
    """The team's business hours, replaced (its closed days kept)."""
    BusinessHours.objects.update_or_create(
        team=team, defaults={"organization_id": team.organization_id, "time_zone": time_zone, "weekly": weekly}
    )
