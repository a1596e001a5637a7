"""Rule validation: the rule type, each condition and action against the catalog for the rule's type
and scope, values naming the rule's organization, time conditions, business hours, description."""

import pytest

from conversations.models import CannedResponse, CannedScope, Label
from rules.models import HoursBasis, Rule, Trigger, UserAction
from rules.validation import validate_rule
from tests.factories import LabelFactory, TeamFactory, receive

pytestmark = pytest.mark.django_db


def _rule(cast, conditions=None, actions=None, **kwargs):
    label = (
        kwargs.pop("label", None) or Label.objects.get_or_create(organization=cast.org, owner=None, name="Disney")[0]
    )
    fields = {
        "organization": cast.org,
        "description": "Label Disney",
        "trigger": Trigger.INCOMING,
        "channel": "email",
        "conditions": {"mode": "all", "items": [{"field": "from", "op": "ends_with", "value": "disney.com"}]}
        if conditions is None
        else conditions,
        "actions": [{"type": "add_labels", "labels": [str(label.id)]}] if actions is None else actions,
    }
    fields.update(kwargs)
    return Rule(**fields)


def _items(*items, mode="all"):
    return {"mode": mode, "items": list(items)}


def test_the_seeds_canonical_rule_is_valid(cast):
    assert validate_rule(_rule(cast)) == []


def test_post_is_incoming_only(cast):
    assert validate_rule(_rule(cast, trigger=Trigger.OUTGOING, channel="post")) == [
        "Post is an incoming channel only: choose another channel for an outgoing rule."
    ]
    assert validate_rule(_rule(cast, channel="post", conditions={})) == []


def test_user_action_rules_choose_their_event(cast):
    rule = _rule(cast, trigger=Trigger.USER_ACTION, conditions={})
    assert validate_rule(rule) == ["Choose the user action that runs the rule."]
    rule.user_action = UserAction.LABEL_CHANGE
    assert validate_rule(rule) == []
    assert validate_rule(_rule(cast, user_action=UserAction.CLOSED)) == ["Only user-action rules choose a user action."]
    assert validate_rule(_rule(cast, trigger="sometimes")) == [
        "Choose when the rule runs: incoming message, outgoing message or user actions."
    ]


def test_team_changed_rules_are_organization_rules_only(cast):
    rule = _rule(
        cast, trigger=Trigger.USER_ACTION, user_action=UserAction.TEAM_CHANGED, conditions={}, owner=cast.owner
    )
    assert validate_rule(rule) == ["Team changed rules are organization rules only."]


def test_a_condition_field_must_be_allowed_for_the_rule_type(cast):
    sms = _rule(cast, channel="sms", conditions=_items({"field": "subject", "op": "contains", "value": "x"}))
    assert validate_rule(sms) == ["Condition 1 (Subject): not available for incoming SMS rules."]
    unknown = _rule(cast, conditions=_items({"field": "mood", "op": "is", "value": "x"}))
    assert validate_rule(unknown) == ["Condition 1: there is no condition 'mood'."]
    assert validate_rule(_rule(cast, conditions=_items({"op": "is"}))) == ["Condition 1: choose a field."]


def test_an_operator_is_required_and_must_be_the_fields(cast):
    missing = _rule(cast, conditions=_items({"field": "from", "op": "ends_with", "value": "a"}, {"field": "subject"}))
    assert validate_rule(missing) == ["Condition 2 (Subject): choose an operator."]
    wrong = _rule(cast, conditions=_items({"field": "subject", "op": "is_greater_than", "value": "a"}))
    assert validate_rule(wrong) == ["Condition 1 (Subject): “is greater than” is not an operator of this field."]


def test_values_have_the_right_kind(cast):
    cases = [
        ({"field": "subject", "op": "contains", "value": "  "}, "Condition 1 (Subject): enter a value."),
        (
            {"field": "message_count", "op": "is_greater_than", "value": "3"},
            "Condition 1 (Number of messages): enter a number.",
        ),
        ({"field": "automated", "op": "is", "value": "yes"}, "Condition 1 (Automated?): choose yes or no."),
        (
            {"field": "state", "op": "is", "value": "gone"},
            "Condition 1 (Conversation state): choose assigned, closed or in team inbox.",
        ),
        (
            {"field": "reception_time", "op": "is_before", "value": "tomorrow"},
            "Condition 1 (Reception time): enter a date and time.",
        ),
        (
            {"field": "reception_time", "op": "is_within", "value": {"time_zone": "Mars/Olympus", "weekly": {}}},
            "Condition 1 (Reception time): choose a time zone.",
        ),
        (
            {
                "field": "reception_time",
                "op": "is_within",
                "value": {"time_zone": "UTC", "weekly": {"mon": [["17:00", "09:00"]]}},
            },
            "Condition 1 (Reception time): on Mon, the end comes after the start.",
        ),
        ({"field": "from", "op": "in_contact_group"}, "Condition 1 (From): choose a contact group or company."),
    ]
    for item, message in cases:
        assert validate_rule(_rule(cast, conditions=_items(item))) == [message], item
    fine = [
        {"field": "from", "op": "in_contacts"},
        {"field": "assignee", "op": "is_blank"},
        {"field": "message_count", "op": "is_lower_than", "value": 3},
        {"field": "automated", "op": "is", "value": False},
        {"field": "reception_time", "op": "is_after", "value": "2026-03-01T09:00:00+00:00"},
        {
            "field": "reception_time",
            "op": "is_not_within",
            "value": {"time_zone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]]}},
        },
    ]
    assert validate_rule(_rule(cast, conditions=_items(*fine))) == []


def test_objects_must_belong_to_the_rules_organization(cast):
    foreign_team = cast.outsider_team
    items = _items(
        {"field": "team", "op": "is", "value": str(foreign_team.id)},
        {"field": "assignee", "op": "is", "value": str(cast.outsider.id)},
        {"field": "assignee", "op": "is", "value": str(cast.teammate.id)},
        {"field": "email_account", "op": "is", "value": str(cast.outsider_account.id)},
        {"field": "email_account", "op": "is", "value": str(cast.support_account.id)},
        {"field": "team", "op": "is", "value": str(cast.support.id)},
    )
    assert validate_rule(_rule(cast, conditions=items)) == [
        "Condition 1 (Team): choose a team of this organization.",
        "Condition 2 (Assignee): choose a user of this organization.",
        "Condition 4 (Email account): choose an account of this organization.",
    ]
    foreign_label = LabelFactory(organization=cast.other_org, name="Theirs")
    rule = _rule(cast, actions=[{"type": "add_labels", "labels": [str(foreign_label.id)]}])
    assert validate_rule(rule) == ["Action 1 (Add label(s)): choose labels of this organization."]


def test_someone_elses_personal_label_is_refused(cast):
    private = LabelFactory(organization=cast.org, name="Mine", owner=cast.teammate)
    org_rule = _rule(cast, actions=[{"type": "add_labels", "labels": [str(private.id)]}])
    assert validate_rule(org_rule) == ["Action 1 (Add label(s)): choose labels of this organization."]
    own = _rule(cast, actions=[{"type": "add_labels", "labels": [str(private.id)]}], owner=cast.teammate)
    assert validate_rule(own) == []


def test_nested_groups_are_checked_and_numbered_in_order(cast):
    tree = _items(
        {"field": "from", "op": "ends_with", "value": "disney.com"},
        {"mode": "any", "items": [{"field": "subject", "op": "contains", "value": "a"}, {"field": "subject"}]},
        {"mode": "none", "items": []},
        {"mode": "sometimes", "items": [{"field": "subject", "op": "contains", "value": "b"}]},
    )
    assert validate_rule(_rule(cast, conditions=tree)) == [
        "Condition 3 (Subject): choose an operator.",
        "A group is empty: add a condition to it or remove it.",
        "A group: choose All, At least one or None.",
    ]


def test_delay_only_in_the_root_group(cast):
    tree = _items({"mode": "any", "items": [{"field": "delay", "seconds": 300}]})
    assert validate_rule(_rule(cast, conditions=tree)) == [
        "Condition 1 (Delay): only in the top group, not inside a nested group."
    ]
    assert validate_rule(_rule(cast, conditions=_items({"field": "delay", "seconds": 0}))) == [
        "Condition 1 (Delay): enter a duration greater than zero."
    ]
    assert validate_rule(_rule(cast, conditions=_items({"field": "delay", "seconds": 300}))) == []


def test_delay_and_sla_timers_cannot_be_combined(cast):
    tree = _items({"field": "delay", "seconds": 300}, {"field": "unreplied", "seconds": 3600})
    assert validate_rule(_rule(cast, conditions=tree)) == [
        "Delay cannot be combined with Unreplied and open after or Unassigned and open after: "
        "keep one kind of time condition."
    ]
    both_sla = _items({"field": "unassigned", "seconds": 600}, {"field": "unreplied", "seconds": 3600})
    assert validate_rule(_rule(cast, conditions=both_sla)) == []
    outgoing = _rule(cast, trigger=Trigger.OUTGOING, conditions=_items({"field": "unreplied", "seconds": 60}))
    assert validate_rule(outgoing) == [
        "Condition 1 (Unreplied and open after): not available for outgoing Email rules."
    ]


def test_one_business_hours_setting_per_rule(cast):
    tree = _items({"field": "unreplied", "seconds": 3600, "hours_basis": "organization"})
    assert validate_rule(_rule(cast, conditions=tree, hours_basis=HoursBasis.ORGANIZATION)) == []
    assert validate_rule(_rule(cast, conditions=tree, hours_basis=HoursBasis.WALL_CLOCK)) == [
        "Condition 1 (Unreplied and open after): every time condition of a rule uses the same business hours setting."
    ]
    assert validate_rule(_rule(cast, hours_basis=HoursBasis.TEAM)) == [
        "Business hours: choose the team whose hours count."
    ]
    assert validate_rule(_rule(cast, hours_basis=HoursBasis.TEAM, hours_team=cast.outsider_team)) == [
        "Business hours: choose a team of this organization."
    ]
    assert validate_rule(_rule(cast, hours_basis=HoursBasis.TEAM, hours_team=cast.support)) == []
    assert validate_rule(_rule(cast, hours_team=cast.support)) == [
        "Business hours: one setting per rule; a team only goes with team business hours."
    ]


def test_actions_must_be_allowed_for_type_and_scope(cast):
    assert validate_rule(_rule(cast, actions=[])) == ["Add at least one action."]
    assert validate_rule(_rule(cast, actions=[{"type": "assign_me"}])) == [
        "Action 1 (Assign to me): personal rules only."
    ]
    personal = _rule(cast, owner=cast.owner, actions=[{"type": "move_to_team", "team": str(cast.support.id)}])
    assert validate_rule(personal) == ["Action 1 (Move to team inbox): organization rules only."]
    assert validate_rule(_rule(cast, actions=[{"type": "prevent_delivery"}])) == [
        "Action 1 (Prevent message delivery): not available for incoming Email rules."
    ]
    assert validate_rule(_rule(cast, actions=[{"type": "teleport"}])) == ["Action 1: there is no action 'teleport'."]
    assert validate_rule(_rule(cast, actions=[{}])) == ["Action 1: choose an action."]


def test_required_action_parameters(cast):
    actions = [
        {"type": "close"},
        {"type": "assign_users", "users": [str(cast.teammate.id)]},
        {"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "alphabetical"},
        {"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "in_turn", "filters": ["online", "x"]},
        {"type": "webhook", "url": "ftp://example.com"},
        {"type": "webhook"},
        {"type": "forward", "address": "not an address"},
        {"type": "create_draft"},
        {"type": "send_response", "canned_response": "00000000-0000-0000-0000-000000000000"},
        {"type": "move_to_team"},
        {"type": "set_color", "color": "red"},
        {"type": "add_task", "title": "Call back", "due_in": -5},
    ]
    assert validate_rule(_rule(cast, actions=actions)) == [
        "Action 2 (Assign user(s)): choose how to assign.",
        "Action 3 (Assign user(s)): choose how to assign.",
        "Action 4 (Assign user(s)): choose filters from the list.",
        "Action 5 (Webhook): enter an http(s) URL.",
        "Action 6 (Webhook): enter the URL to call.",
        "Action 7 (Forward message): enter an email address.",
        "Action 8 (Create draft): choose a canned response or write the draft's text.",
        "Action 9 (Send response): choose a canned response of this organization.",
        "Action 10 (Move to team inbox): choose a team.",
        "Action 11 (Set conversation color): choose a color.",
        "Action 12 (Add task): enter a duration greater than zero.",
    ]


def test_canned_responses_of_the_organization_and_not_someone_elses_personal_one(cast):
    shared = CannedResponse.objects.create(organization=cast.org, scope=CannedScope.ORGANIZATION, title="Thanks")
    mine = CannedResponse.objects.create(
        organization=cast.org, scope=CannedScope.PERSONAL, owner=cast.teammate, title="Hi"
    )
    ok = [{"type": "send_response", "canned_response": str(shared.id), "at_most_every": 3600}]
    assert validate_rule(_rule(cast, actions=ok)) == []
    theirs = [{"type": "create_draft", "canned_response": str(mine.id)}]
    assert validate_rule(_rule(cast, actions=theirs)) == [
        "Action 1 (Create draft): choose a canned response of this organization."
    ]
    assert validate_rule(_rule(cast, actions=theirs, owner=cast.teammate)) == []


def test_a_description_is_required(cast):
    assert validate_rule(_rule(cast, description="  ")) == ["Add a description."]
    assert validate_rule(_rule(cast, description="x" * 201)) == ["Keep the description under 200 characters."]
    assert validate_rule(_rule(cast, trigger=Trigger.OUTGOING, channel="post", description="")) == [
        "Post is an incoming channel only: choose another channel for an outgoing rule.",
        "Add a description.",
    ]


def test_team_values_come_from_the_organization(cast):
    sales = TeamFactory(organization=cast.org, name="Sales")
    rule = _rule(cast, actions=[{"type": "move_to_team", "team": str(sales.id)}])
    assert validate_rule(rule) == []
    rule.actions = [{"type": "move_to_team", "team": str(cast.outsider_team.id)}]
    assert validate_rule(rule) == ["Action 1 (Move to team inbox): choose a team of this organization."]


def test_merge_into_names_a_conversation_of_the_organization(cast):
    ours = receive(cast.support_account, subject="Ours").conversation
    theirs = receive(cast.outsider_account, subject="Theirs").conversation
    rule = _rule(cast, actions=[{"type": "merge_into", "conversation": f"https://missive.test/m/all/{ours.id}/"}])
    assert validate_rule(rule) == []
    rule.actions = [{"type": "merge_into", "conversation": str(theirs.id)}]
    assert validate_rule(rule) == [
        "Action 1 (Merge in conversation): enter a link to a conversation of this organization."
    ]


def test_the_ai_condition_needs_its_prompt(cast):
    asked = {"field": "ai_prompt", "op": "is", "value": "YES"}
    assert validate_rule(_rule(cast, conditions=_items(asked))) == [
        "Condition 1 (Prompt (AI)): enter the prompt the AI answers."
    ]
    asked["prompt"] = "Is this customer upset? Respond with only YES or NO."
    assert validate_rule(_rule(cast, conditions=_items(asked))) == []
