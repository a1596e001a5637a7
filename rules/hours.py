"""Weekly opening hours: whether an instant falls inside them, and how far business time reaches.

`weekly` = {"mon": [["09:00", "17:00"]], ..., "sun": []} in the time zone `time_zone`; `holidays`
are closed days ("2026-12-25") in that zone. An interval ending at "24:00" runs to midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from rules.models import Rule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Looking for the next open minute gives up after this many days (a schedule with no hours at all).
MAX_DAYS_AHEAD = 800


def _minutes(value: str) -> int:
    hours, _, minutes = value.partition(":")
    return int(hours) * 60 + int(minutes or 0)


@dataclass(frozen=True)
class Hours:
    weekly: dict[str, list[list[str]]]
    time_zone: str = "UTC"
    holidays: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_value(cls, value: dict, holidays: list[str] | None = None) -> Hours:
        return cls(value.get("weekly") or {}, value.get("time_zone") or "UTC", frozenset(holidays or ()))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def intervals(self, day: date) -> list[tuple[int, int]]:
        """The day's opening intervals, in minutes since local midnight (none on a holiday)."""
        if day.isoformat() in self.holidays:
            return []
        spans = self.weekly.get(DAYS[day.weekday()]) or []
        return sorted((_minutes(start), _minutes(end)) for start, end in spans if _minutes(end) > _minutes(start))

    def is_open(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(start <= minute < end for start, end in self.intervals(local.date()))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of open time have passed since `start` (closed time does not
        count). With no open time at all, far in the future."""
        zone = self.zone
        local = start.astimezone(zone)
        remaining = timedelta(seconds=seconds)
        day = local.date()
        for _ in range(MAX_DAYS_AHEAD):
            midnight = datetime.combine(day, time(0), tzinfo=zone)
            for begin, end in self.intervals(day):
                opens = midnight + timedelta(minutes=begin)
                closes = midnight + timedelta(minutes=end)
                if closes <= local:
                    continue
                opens = max(opens, local)
                available = closes - opens
                if available >= remaining:
                    return (opens + remaining).astimezone(start.tzinfo)
                remaining -= available
            day += timedelta(days=1)
        return start + timedelta(days=365 * 100)


def rule_hours(rule: Rule) -> Hours | None:
    """The business hours a rule's time-based conditions count in (None: wall-clock time)."""
    from rules.models import BusinessHours, HoursBasis

    if rule.hours_basis == HoursBasis.WALL_CLOCK:
        return None
    if rule.hours_basis == HoursBasis.TEAM and rule.hours_team_id:
        row = BusinessHours.objects.filter(team_id=rule.hours_team_id).first()
    else:
        row = BusinessHours.objects.filter(organization_id=rule.organization_id, team__isnull=True).first()
    if row is None:
        return None
    return Hours(row.weekly, row.time_zone, frozenset(row.holidays))


def due_at(rule: Rule, start: datetime, seconds: float) -> datetime:
    """When a timer of `seconds` armed at `start` is due, in the rule's time basis."""
    hours = rule_hours(rule)
    return hours.add(start, seconds) if hours else start + timedelta(seconds=seconds)
