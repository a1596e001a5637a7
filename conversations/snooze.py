"""The snooze presets of the seed, computed in the reader's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    until: datetime


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _at(day: datetime, hour: int) -> datetime:
    return datetime.combine(day.date(), time(hour), tzinfo=day.tzinfo)


def presets(now: datetime, tz: ZoneInfo) -> list[Preset]:
    """Later today (+3 h), Afternoon (1 PM), Evening (7 PM), Tomorrow (8 AM), Weekend (Saturday
    10 AM), Next week (Monday 8 AM). Times already past today are left out."""
    local = now.astimezone(tz)
    saturday = local + timedelta(days=(5 - local.weekday()) % 7 or 7)
    monday = local + timedelta(days=(7 - local.weekday()) % 7 or 7)
    options = [
        Preset("later_today", "Later today", local + timedelta(hours=3)),
        Preset("afternoon", "Afternoon", _at(local, 13)),
        Preset("evening", "Evening", _at(local, 19)),
        Preset("tomorrow", "Tomorrow", _at(local + timedelta(days=1), 8)),
        Preset("weekend", "Weekend", _at(saturday, 10)),
        Preset("next_week", "Next week", _at(monday, 8)),
    ]
    return [preset for preset in options if preset.until > local]


def resolve(choice: str, custom: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The moment a snooze form asks for: a preset key, or a custom local date-time."""
    for preset in presets(now, tz):
        if preset.key == choice:
            return preset.until
    if custom:
        try:
            moment = datetime.fromisoformat(custom)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)
    return None
