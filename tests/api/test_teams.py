"""GET, POST and PATCH /v1/teams."""

from __future__ import annotations

from inboxes.models import Team, TeamMembership, TeamRole


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
            }
        ]
    }
    response = api_as(cast.owner).post("/v1/teams", body)
    assert response.status_code == 201
    [team] = response.json()["teams"]
    assert team["name"] == "Sales" and team["color"] == "#ff0000"
    assert team["user_reply_behavior"] == "leave_in_team_inbox"
    assert team["team_mention_behavior"] == "all_members" and team["chat_room_enabled"] is True
    row = Team.objects.get(id=team["id"])
    assert not row.assign_on_reply and row.mention_adds_observers and row.has_chat_room
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
    hours = api.post("/v1/teams", {"teams": [item | {"business_hours": {"tz": "UTC", "t": []}}]})
    assert hours.status_code == 400 and hours.json()["field"] == "teams.0.business_hours"
    stranger = api.post("/v1/teams", {"teams": [item | {"active_members": [str(cast.outsider.id)]}]})
    assert stranger.status_code == 400 and stranger.json()["field"] == "teams.0.active_members"
    assert api.post("/v1/teams", {"teams": []}).status_code == 400
    assert not Team.objects.filter(name="Sales").exists()
    other = api.post("/v1/teams", {"teams": [{"name": "X", "organization": str(cast.other_org.id)}]})
    assert other.status_code == 404


def test_an_admin_updates_teams_by_id(cast, api_as):
    api = api_as(cast.owner)
    body = {"teams": [{"id": str(cast.support.id), "name": "Helpdesk", "team_inbox_enabled": False}]}
    response = api.patch(f"/v1/teams/{cast.support.id}", body)
    assert response.status_code == 200
    [team] = response.json()["teams"]
    assert team["name"] == "Helpdesk" and team["team_inbox_enabled"] is False
    assert set(team["active_members"]) == {str(cast.owner.id), str(cast.teammate.id)}
    mismatch = api.patch(f"/v1/teams/{cast.support.id}", {"teams": [{"id": str(cast.outsider_team.id)}]})
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "teams.0.id"
    assert api_as(cast.teammate).patch(f"/v1/teams/{cast.support.id}", body).status_code == 403
    outsider = api_as(cast.outsider).patch(
        f"/v1/teams/{cast.support.id}", {"teams": [{"id": str(cast.support.id), "name": "Mine"}]}
    )
    assert outsider.status_code == 404
    cast.support.refresh_from_db()
    assert cast.support.name == "Helpdesk"
