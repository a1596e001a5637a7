"""Business hours: open instants and business time that skips nights, weekends and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.hours import Hours, due_at
from rules.models import BusinessHours, HoursBasis
from tests.rules.helpers import make_rule

WEEK = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
TORONTO = Hours(WEEK, "America/Toronto", frozenset({"2026-12-25"}))


def test_is_open_in_its_own_time_zone():
    assert TORONTO.is_open(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # Mon 09:00 Toronto
    assert not TORONTO.is_open(datetime(2026, 11, 23, 13, 59, tzinfo=UTC))
    assert not TORONTO.is_open(datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # 17:00: closed
    assert not TORONTO.is_open(datetime(2026, 11, 22, 15, 0, tzinfo=UTC))  # Sunday
    assert not TORONTO.is_open(datetime(2026, 12, 25, 15, 0, tzinfo=UTC))  # holiday


def test_adding_business_time_skips_closed_time():
    friday_4pm = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # Fri 16:00 Toronto
    assert TORONTO.add(friday_4pm, 2 * 3600) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Mon 10:00
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert TORONTO.add(saturday, 60) == datetime(2026, 11, 30, 14, 1, tzinfo=UTC)
    christmas_eve = datetime(2026, 12, 24, 21, 0, tzinfo=UTC)  # Thu 16:00, then a holiday
    assert TORONTO.add(christmas_eve, 2 * 3600) == datetime(2026, 12, 28, 15, 0, tzinfo=UTC)


def test_no_open_time_at_all_is_far_away():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert Hours({}).add(start, 60) > start + timedelta(days=365 * 50)


@pytest.mark.django_db
def test_a_rule_counts_in_wall_clock_organization_or_team_hours(cast):
    start = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    wall = make_rule(cast.org, "wall")
    assert due_at(wall, start, 7200) == start + timedelta(hours=2)
    BusinessHours.objects.create(organization=cast.org, time_zone="America/Toronto", weekly=WEEK)
    org = make_rule(cast.org, "org", hours_basis=HoursBasis.ORGANIZATION)
    assert due_at(org, start, 7200) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    BusinessHours.objects.create(
        organization=cast.org, team=cast.support, time_zone="UTC", weekly={"fri": [["00:00", "24:00"]]}
    )
    team = make_rule(cast.org, "team", hours_basis=HoursBasis.TEAM, hours_team=cast.support)
    assert due_at(team, start, 7200) == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
