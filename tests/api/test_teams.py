"""GET, POST and PATCH /v1/teams."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from inboxes.models import Team, TeamMembership, TeamRole
from rules.hours import Hours
from rules.models import BusinessHours


def test_list_teams_of_the_callers_organizations(cast, api_as):
    body = api_as(cast.teammate).get("/v1/teams").json()
    [team] = body["teams"]
    assert team["id"] == str(cast.support.id)
    assert set(team["active_members"]) == {str(cast.owner.id), str(cast.teammate.id)}
    assert team["observers"] == [str(cast.observer.id)]
    assert team["team_inbox_enabled"] is True
    assert api_as(cast.outsider).get("/v1/teams", {"organization": str(cast.org.id)}).status_code == 404


def test_an_admin_creates_teams_with_their_settings(cast, api_as):
    body = {
        "teams": [
            {
                "name": "Sales",
                "organization": str(cast.org.id),
                "color": "#ff0000",
                "active_members": [str(cast.teammate.id)],
                "observers": [str(cast.observer.id)],
                "user_reply_behavior": "leave_in_team_inbox",
                "team_mention_behavior": "all_members",
                "chat_room_enabled": True,
                "team_sidebar_behavior": "show_team_inbox",
            }
        ]
    }
    response = api_as(cast.owner).post("/v1/teams", body)
    assert response.status_code == 201
    [team] = response.json()["teams"]
    assert team["name"] == "Sales" and team["color"] == "#ff0000"
    assert team["user_reply_behavior"] == "leave_in_team_inbox"
    assert team["team_mention_behavior"] == "all_members" and team["chat_room_enabled"] is True
    assert team["team_sidebar_behavior"] == "show_team_inbox"
    row = Team.objects.get(id=team["id"])
    assert not row.assign_on_reply and row.mention_adds_observers and row.has_chat_room
    assert not row.show_team_space
    roles = dict(TeamMembership.objects.filter(team=row).values_list("user_id", "role"))
    assert roles == {cast.teammate.id: TeamRole.ACTIVE, cast.observer.id: TeamRole.OBSERVER}


def test_creating_teams_is_refused_to_members_and_bad_values_name_the_field(cast, api_as):
    item = {"name": "Sales", "organization": str(cast.org.id)}
    forbidden = api_as(cast.teammate).post("/v1/teams", {"teams": [item]})
    assert forbidden.status_code == 403
    api = api_as(cast.owner)
    bad = api.post("/v1/teams", {"teams": [item | {"user_reply_behavior": "shout"}]})
    assert bad.status_code == 400 and bad.json()["field"] == "teams.0.user_reply_behavior"
    unknown = api.post("/v1/teams", {"teams": [item | {"mood": "happy"}]})
    assert unknown.status_code == 400 and unknown.json()["field"] == "teams.0.mood"
    missing = api.post("/v1/teams", {"teams": [{"organization": str(cast.org.id)}]})
    assert missing.status_code == 400 and missing.json()["field"] == "teams.0.name"
    hours = api.post("/v1/teams", {"teams": [item | {"business_hours": {"tz": "Mars/Olympus", "t": []}}]})
    assert hours.status_code == 400 and hours.json()["field"] == "teams.0.business_hours.tz"
    backwards = {"tz": "UTC", "t": [{"d": 1, "s": [61200, 32400]}]}
    hours = api.post("/v1/teams", {"teams": [item | {"business_hours": backwards}]})
    assert hours.status_code == 400 and hours.json()["field"] == "teams.0.business_hours.t.0.s"
    hours = api.post("/v1/teams", {"teams": [item | {"business_hours": {"tz": "UTC", "t": [{"d": 7, "s": [0, 60]}]}}]})
    assert hours.status_code == 400 and hours.json()["field"].startswith("teams.0.business_hours.t.0.d")
    stale = api.post("/v1/teams", {"teams": [item | {"inactivity_period": 60}]})  # an hour at the least
    assert stale.status_code == 400 and stale.json()["field"] == "teams.0.inactivity_period"
    sidebar = api.post("/v1/teams", {"teams": [item | {"team_sidebar_behavior": "show_tasks"}]})
    assert sidebar.status_code == 400 and sidebar.json()["field"] == "teams.0.team_sidebar_behavior"
    stranger = api.post("/v1/teams", {"teams": [item | {"active_members": [str(cast.outsider.id)]}]})
    assert stranger.status_code == 400 and stranger.json()["field"] == "teams.0.active_members"
    assert api.post("/v1/teams", {"teams": []}).status_code == 400
    assert not Team.objects.filter(name="Sales").exists()
    other = api.post("/v1/teams", {"teams": [{"name": "X", "organization": str(cast.other_org.id)}]})
    assert other.status_code == 404


def test_an_admin_updates_teams_by_id(cast, api_as):
    api = api_as(cast.owner)
    body = {
        "teams": [
            {"id": str(cast.support.id), "name": "Helpdesk", "team_inbox_enabled": False, "inactivity_period": 259200}
        ]
    }
    response = api.patch(f"/v1/teams/{cast.support.id}", body)
    assert response.status_code == 200
    [team] = response.json()["teams"]
    assert team["name"] == "Helpdesk" and team["team_inbox_enabled"] is False
    assert team["inactivity_period"] == 259200
    assert set(team["active_members"]) == {str(cast.owner.id), str(cast.teammate.id)}
    mismatch = api.patch(f"/v1/teams/{cast.support.id}", {"teams": [{"id": str(cast.outsider_team.id)}]})
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "teams.0.id"
    assert api_as(cast.teammate).patch(f"/v1/teams/{cast.support.id}", body).status_code == 403
    outsider = api_as(cast.outsider).patch(
        f"/v1/teams/{cast.support.id}", {"teams": [{"id": str(cast.support.id), "name": "Mine"}]}
    )
    assert outsider.status_code == 404
    cast.support.refresh_from_db()
    assert (cast.support.name, cast.support.inactivity_period) == ("Helpdesk", 259200)
    # Not given: kept.
    kept = api.patch(f"/v1/teams/{cast.support.id}", {"teams": [{"id": str(cast.support.id), "emoji": "🛟"}]})
    assert kept.json()["teams"][0]["inactivity_period"] == 259200


WEEKDAYS_9_TO_5 = {"tz": "Europe/Paris", "t": [{"d": d, "s": [32400, 61200]} for d in range(1, 6)]}


def test_business_hours_are_stored_for_the_rules_engine_and_returned(cast, api_as):
    api = api_as(cast.owner)
    body = {"teams": [{"name": "Sales", "organization": str(cast.org.id), "business_hours": WEEKDAYS_9_TO_5}]}
    created = api.post("/v1/teams", body)
    assert created.status_code == 201, created.content
    [team] = created.json()["teams"]
    assert team["business_hours"] == WEEKDAYS_9_TO_5
    row = BusinessHours.objects.get(team_id=team["id"])
    assert row.organization_id == cast.org.id and row.weekly["mon"] == [["09:00", "17:00"]] and row.weekly["sun"] == []
    hours = Hours.from_value({"weekly": row.weekly, "time_zone": row.time_zone})
    paris = ZoneInfo("Europe/Paris")
    assert hours.is_open(datetime(2026, 3, 2, 10, 0, tzinfo=paris))  # a Monday
    assert not hours.is_open(datetime(2026, 3, 1, 10, 0, tzinfo=paris))  # a Sunday

    BusinessHours.objects.filter(id=row.id).update(holidays=["2026-12-25"])
    sunday = {"tz": "UTC", "t": [{"d": 0, "s": [0, 86400]}]}
    patched = api.patch(f"/v1/teams/{team['id']}", {"teams": [{"id": team["id"], "business_hours": sunday}]})
    assert patched.status_code == 200 and patched.json()["teams"][0]["business_hours"] == sunday
    row.refresh_from_db()
    assert row.weekly["sun"] == [["00:00", "24:00"]] and row.weekly["mon"] == [] and row.holidays == ["2026-12-25"]
    listed = {t["id"]: t for t in api.get("/v1/teams").json()["teams"]}
    assert listed[team["id"]]["business_hours"] == sunday and listed[str(cast.support.id)]["business_hours"] is None

    outsider = api_as(cast.outsider)
    other = outsider.patch(
        f"/v1/teams/{team['id']}", {"teams": [{"id": team["id"], "business_hours": WEEKDAYS_9_TO_5}]}
    )
    assert other.status_code == 404
    member = api_as(cast.teammate)
    refused = member.patch(
        f"/v1/teams/{team['id']}", {"teams": [{"id": team["id"], "business_hours": WEEKDAYS_9_TO_5}]}
    )
    assert refused.status_code == 403
    row.refresh_from_db()
    assert row.time_zone == "UTC"
