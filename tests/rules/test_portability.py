"""Duplicate and Export / Import: the copy opens unsaved in the editor of the target scope, and
conditions and actions the target scope does not allow are dropped and named."""

import json

import pytest
from django.urls import reverse

from inboxes.models import Role
from rules.models import HoursBasis, Rule, Trigger, UserAction
from rules.portability import adapt, duplicate, export_definition, export_json, parse_import
from tests.conftest import login
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _rule(cast, **kwargs):
    fields = {
        "organization": cast.org,
        "description": "Route Disney",
        "trigger": Trigger.INCOMING,
        "conditions": {
            "mode": "all",
            "items": [
                {"field": "from", "op": "ends_with", "value": "disney.com"},
                {"field": "unreplied", "seconds": 3600},
                {"mode": "any", "items": [{"field": "team", "op": "is", "value": str(cast.support.id)}]},
            ],
        },
        "actions": [{"type": "move_to_team", "team": str(cast.support.id)}, {"type": "close"}],
    }
    fields.update(kwargs)
    return Rule.objects.create(**fields)


def test_duplicating_to_personal_drops_organization_only_actions(cast):
    rule = _rule(cast)
    copy, dropped = duplicate(rule, cast.org, cast.owner, created_by=cast.owner)
    assert copy.pk and copy._state.adding and not Rule.objects.filter(owner=cast.owner).exists()
    assert copy.owner == cast.owner and copy.description == "Route Disney"
    assert copy.actions == [{"type": "close"}]
    assert copy.conditions == rule.conditions
    assert dropped == ["Action “Move to team inbox”"]


def test_duplicating_to_another_organization_drops_its_team_business_hours(cast):
    rule = _rule(cast, hours_basis=HoursBasis.TEAM, hours_team=cast.support)
    copy, dropped = duplicate(rule, cast.other_org, None, created_by=cast.owner)
    assert copy.organization == cast.other_org and copy.hours_basis == HoursBasis.WALL_CLOCK
    assert copy.hours_team_id is None
    assert dropped[0] == "Team business hours (the team is not in this organization)"
    same, nothing = duplicate(rule, cast.org, None, created_by=cast.owner)
    assert same.hours_team_id == cast.support.id and nothing == []


def test_personal_is_refused_for_organization_only_rule_types(cast):
    rule = _rule(cast, trigger=Trigger.USER_ACTION, user_action=UserAction.TEAM_CHANGED, conditions={})
    with pytest.raises(ValueError, match="organization rules only"):
        duplicate(rule, cast.org, cast.owner, created_by=cast.owner)


def test_import_drops_what_the_rule_type_does_not_allow(cast):
    data = export_definition(_rule(cast))
    data["channel"] = "sms"
    data["conditions"]["items"].append({"field": "subject", "op": "is", "value": "x"})
    data["conditions"]["items"][2]["items"].append({"field": "delay", "seconds": 60})
    data["actions"].append({"type": "forward", "address": "a@b.test"})
    rule, dropped = adapt(data, cast.org, None, created_by=cast.owner)
    assert dropped == [
        "Condition “From”",
        "Condition “Delay”",
        "Condition “Subject”",
        "Action “Forward message”",
    ]
    assert rule.conditions["items"][0] == {"field": "unreplied", "seconds": 3600}
    assert rule.conditions["items"][1] == {
        "mode": "any",
        "items": [{"field": "team", "op": "is", "value": str(cast.support.id)}],
    }
    assert rule.actions == [{"type": "move_to_team", "team": str(cast.support.id)}, {"type": "close"}]


def test_export_round_trips_and_import_refuses_what_is_not_an_export(cast):
    rule = _rule(cast)
    data = parse_import(export_json(rule))
    assert data["conditions"] == rule.conditions and data["actions"] == rule.actions
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_import("{nope")
    with pytest.raises(ValueError, match="not a rule export"):
        parse_import(json.dumps({"description": "x"}))
    with pytest.raises(ValueError, match="newer version"):
        parse_import(json.dumps({"format": "missive-rule", "version": 99}))


def test_duplicate_opens_the_editor_unsaved_in_the_target_scope(client, cast):
    rule = _rule(cast)
    login(client, cast.owner)
    url = reverse("settings_rule_duplicate", args=[cast.org.id, rule.id])
    html = client.post(url, {"target": "personal"}).content.decode()
    assert "New personal rule" in html and "Copied from Route Disney" in html
    assert "Action “Move to team inbox”" in html
    assert 'name="rule_id" value=""' in html and 'name="scope" value="personal"' in html
    assert Rule.objects.count() == 1


def test_duplicate_to_an_organization_only_where_i_manage_rules(client, cast):
    rule = _rule(cast)
    managed = OrganizationFactory(name="Initech")
    MembershipFactory(organization=managed, user=cast.owner, role=Role.ADMIN)
    TeamFactory(organization=managed, name="Ops")
    member_only = OrganizationFactory(name="Umbrella")
    MembershipFactory(organization=member_only, user=cast.owner, role=Role.MEMBER)
    login(client, cast.owner)
    url = reverse("settings_rule_duplicate", args=[cast.org.id, rule.id])
    html = client.post(url, {"target": str(managed.id)}).content.decode()
    assert "New organization rule" in html and reverse("settings_rule_editor", args=[managed.id]) in html
    assert client.post(url, {"target": str(member_only.id)}).status_code == 404
    assert client.post(url, {"target": str(cast.other_org.id)}).status_code == 404


def test_duplicate_to_personal_of_an_organization_only_type_says_why(client, cast):
    rule = _rule(cast, trigger=Trigger.USER_ACTION, user_action=UserAction.TEAM_CHANGED, conditions={})
    login(client, cast.owner)
    listing = client.get(reverse("settings_rules", args=[cast.org.id])).content.decode()
    assert 'value="personal" disabled' in listing
    response = client.post(
        reverse("settings_rule_duplicate", args=[cast.org.id, rule.id]), {"target": "personal"}, follow=True
    )
    assert "Team changed rules are organization rules only." in response.content.decode()


def test_import_in_the_editor_replaces_the_form_and_says_what_was_dropped(client, cast):
    data = export_definition(_rule(cast))
    login(client, cast.owner)
    post = {"rule_id": "", "scope": "personal", "trigger": "incoming", "channel": "email", "c.mode": "all"}
    post.update(op="import", import_json=json.dumps(data))
    html = client.post(reverse("settings_rule_editor", args=[cast.org.id]), post).content.decode()
    assert "Rule imported. Review it and save." in html and "Action “Move to team inbox”" in html
    assert 'name="c.0.value" value="disney.com"' in html and 'value="Route Disney"' in html
    post.update(import_json="not json")
    html = client.post(reverse("settings_rule_editor", args=[cast.org.id]), post).content.decode()
    assert "This is not a rule export: it is not valid JSON." in html
    assert Rule.objects.count() == 1


def test_values_naming_another_organizations_objects_are_cleared_and_named(cast):
    theirs = TeamFactory(organization=cast.other_org, name="Their team")
    rule = _rule(cast)
    copy, dropped = duplicate(rule, cast.other_org, None, created_by=cast.owner)
    assert copy.conditions["items"][2]["items"][0]["value"] == ""
    assert copy.actions[0] == {"type": "move_to_team", "team": ""}
    assert dropped == [
        "The team of condition “Team” (not in this organization)",
        "The team of action “Move to team inbox” (not in this organization)",
    ]
    assert rule.conditions["items"][2]["items"][0]["value"] == str(cast.support.id)  # the original is untouched
    rule.actions = [
        {"type": "assign_users", "users": [str(cast.teammate.id), str(cast.outsider.id)], "strategy": "all"}
    ]
    copy, dropped = duplicate(rule, cast.other_org, None, created_by=cast.owner)
    assert copy.actions[0]["users"] == [str(cast.outsider.id)]
    assert "Some users of action “Assign user(s)” (not in this organization)" in dropped
    assert theirs.organization == cast.other_org
