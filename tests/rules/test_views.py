"""Settings › Rules: who sees which rules, the list in the seed's order, enable / disable, delete,
the editor (type-dependent options, nested groups, actions in order, inline validation, save) and
the run log."""

import json
import re

import pytest
from django.urls import reverse

from conversations.models import Label
from inboxes.models import Role
from rules.models import Rule, RuleRun, RunStatus, Trigger
from tests.conftest import login
from tests.factories import MembershipFactory, UserFactory, receive

pytestmark = pytest.mark.django_db


def _rule(cast, description="Label Disney", **kwargs):
    fields = {
        "organization": cast.org,
        "description": description,
        "trigger": Trigger.INCOMING,
        "conditions": {"mode": "all", "items": [{"field": "from", "op": "ends_with", "value": "disney.com"}]},
        "actions": [{"type": "close"}],
    }
    fields.update(kwargs)
    return Rule.objects.create(**fields)


def _disney(cast):
    return Label.objects.get_or_create(organization=cast.org, owner=None, name="Disney")[0]


def _canonical_post(cast, **extra):
    data = {
        "rule_id": "",
        "scope": "organization",
        "trigger": "incoming",
        "channel": "email",
        "c.mode": "all",
        "c.0.kind": "cond",
        "c.0.field": "from",
        "c.0.op": "ends_with",
        "c.0.value": "disney.com",
        "a.0.type": "add_labels",
        "a.0.labels": [str(_disney(cast).id)],
        "description": "Label Disney",
        "hours_basis": "wall",
        "op": "save",
    }
    data.update(extra)
    return data


def _editor(cast):
    return reverse("settings_rule_editor", args=[cast.org.id])


def test_the_list_shows_organization_rules_in_the_seeds_order(client, cast):
    for description in ("2. Second", "10. Tenth", "b rule", "A rule"):
        _rule(cast, description)
    _rule(cast, "Mine", owner=cast.owner)
    login(client, cast.owner)
    html = client.get(reverse("settings_rules", args=[cast.org.id])).content.decode()
    titles = re.findall(r'class="s-row-title rule-title"[^>]*>([^<]+)<', html)
    assert titles == ["10. Tenth", "2. Second", "A rule", "b rule"]
    personal = client.get(reverse("settings_rules_personal", args=[cast.org.id])).content.decode()
    assert re.findall(r'class="s-row-title rule-title"[^>]*>([^<]+)<', personal) == ["Mine"]
    assert f'href="/settings/orgs/{cast.org.id}/rules/"' in html  # the scope switch and the nav


def test_only_owners_and_admins_manage_organization_rules(client, cast):
    rule = _rule(cast)
    login(client, cast.teammate)
    assert client.get(reverse("settings_rules", args=[cast.org.id])).status_code == 403
    assert client.get(reverse("settings_rule", args=[cast.org.id, rule.id])).status_code == 403
    assert client.post(reverse("settings_rule_toggle", args=[cast.org.id, rule.id])).status_code == 403
    assert client.post(_editor(cast), _canonical_post(cast)).status_code == 403
    assert client.get(reverse("settings_rules_personal", args=[cast.org.id])).status_code == 200
    admin = UserFactory()
    MembershipFactory(organization=cast.org, user=admin, role=Role.ADMIN)
    login(client, admin)
    assert client.get(reverse("settings_rules", args=[cast.org.id])).status_code == 200


def test_someone_elses_personal_rule_and_other_organizations_are_404(client, cast):
    theirs = _rule(cast, owner=cast.teammate)
    login(client, cast.owner)
    assert client.get(reverse("settings_rule", args=[cast.org.id, theirs.id])).status_code == 404
    assert client.post(reverse("settings_rule_delete", args=[cast.org.id, theirs.id])).status_code == 404
    assert client.post(_editor(cast), _canonical_post(cast, rule_id=str(theirs.id))).status_code == 404
    assert client.post(_editor(cast), _canonical_post(cast, rule_id="nope")).status_code == 404
    login(client, cast.outsider)
    assert client.get(reverse("settings_rules_personal", args=[cast.org.id])).status_code == 404
    assert Rule.objects.filter(id=theirs.id).exists()


def test_the_settings_nav_links_to_rules(client, cast):
    login(client, cast.teammate)
    html = client.get(reverse("settings_labels", args=[cast.org.id])).content.decode()
    assert reverse("settings_rules_personal", args=[cast.org.id]) in html
    login(client, cast.owner)
    html = client.get(reverse("settings_labels", args=[cast.org.id])).content.decode()
    assert reverse("settings_rules", args=[cast.org.id]) in html


def test_disabled_rules_are_grey_and_show_why(client, cast):
    _rule(cast, enabled=False, disabled_reason="Disabled after 51 failed webhook deliveries.")
    login(client, cast.owner)
    html = client.get(reverse("settings_rules", args=[cast.org.id])).content.decode()
    assert "rule-row is-disabled" in html
    assert "Disabled after 51 failed webhook deliveries." in html


def test_toggling_disables_and_re_enabling_clears_the_reason_and_failures(client, cast):
    rule = _rule(cast, enabled=False, disabled_reason="Too many failures", consecutive_failures=51)
    login(client, cast.owner)
    url = reverse("settings_rule_toggle", args=[cast.org.id, rule.id])
    response = client.post(url, headers={"HX-Request": "true", "HX-Target": "rule-list"})
    assert response.status_code == 200 and "<html" not in response.content.decode()
    rule.refresh_from_db()
    assert (rule.enabled, rule.disabled_reason, rule.consecutive_failures) == (True, "", 0)
    client.post(url)
    rule.refresh_from_db()
    assert rule.enabled is False


def test_delete(client, cast):
    rule = _rule(cast)
    login(client, cast.owner)
    response = client.post(reverse("settings_rule_delete", args=[cast.org.id, rule.id]))
    assert response.status_code == 302
    assert not Rule.objects.filter(id=rule.id).exists()


def test_creating_the_seeds_canonical_rule(client, cast):
    login(client, cast.owner)
    response = client.post(_editor(cast), _canonical_post(cast), headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == reverse(
        "settings_rules", args=[cast.org.id]
    )
    rule = Rule.objects.get()
    assert (rule.trigger, rule.channel, rule.owner, rule.description) == ("incoming", "email", None, "Label Disney")
    assert rule.conditions == {"mode": "all", "items": [{"field": "from", "op": "ends_with", "value": "disney.com"}]}
    assert rule.actions == [{"type": "add_labels", "labels": [str(_disney(cast).id)]}]


def test_a_personal_rule_belongs_to_its_author(client, cast):
    login(client, cast.teammate)
    data = _canonical_post(cast, scope="personal")
    data.update({"a.0.type": "assign_me"})
    del data["a.0.labels"]
    client.post(_editor(cast), data)
    rule = Rule.objects.get()
    assert rule.owner == cast.teammate and rule.actions == [{"type": "assign_me"}]


def test_an_invalid_rule_re_renders_with_its_messages_and_is_not_saved(client, cast):
    login(client, cast.owner)
    data = _canonical_post(cast, description="", **{"c.0.op": ""})
    response = client.post(_editor(cast), data, headers={"HX-Request": "true", "HX-Target": "rule-editor"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Condition 1 (From): choose an operator." in html
    assert "Add a description." in html
    assert '<ul class="errorlist"><li>choose an operator.</li></ul>' in html  # next to the condition
    assert not Rule.objects.exists()


def test_editing_an_existing_rule_saves_it_in_place(client, cast):
    rule = _rule(cast)
    login(client, cast.owner)
    assert "Label Disney" in client.get(reverse("settings_rule", args=[cast.org.id, rule.id])).content.decode()
    client.post(_editor(cast), _canonical_post(cast, rule_id=str(rule.id), description="01. Disney"))
    rule.refresh_from_db()
    assert rule.description == "01. Disney" and Rule.objects.count() == 1


def _options(html, name):
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def test_fields_and_actions_offered_follow_the_rule_type_and_scope(client, cast):
    login(client, cast.owner)
    data = _canonical_post(cast, op="", channel="sms")
    html = client.post(_editor(cast), data).content.decode()
    fields = _options(html, "c.0.field")
    assert "from_phone" in fields and "subject" not in fields and "initiator" not in fields
    actions = _options(html, "a.0.type")
    assert "move_to_team" in actions and "assign_me" not in actions and "forward" not in actions
    data = _canonical_post(cast, op="", trigger="user_action", user_action="label_change", scope="personal")
    html = client.post(_editor(cast), data).content.decode()
    fields = _options(html, "c.0.field")
    assert fields[:2] == ["", "from"]  # From stays visible, flagged, until changed
    assert "initiator" in fields and "added_label" in fields and "from" not in fields[2:]
    assert "assign_me" in _options(html, "a.0.type") and "move_to_team" not in _options(html, "a.0.type")
    assert "(not available here)" in html  # From stays visible, flagged, until changed
    assert "team_changed" not in _options(html, "user_action")  # organization rules only


def test_operators_follow_the_field_and_values_fit_its_kind(client, cast):
    login(client, cast.owner)
    data = _canonical_post(cast, op="", **{"c.0.field": "assignee", "c.0.op": "ends_with"})
    html = client.post(_editor(cast), data).content.decode()
    assert _options(html, "c.0.op") == ["", "is", "is_not", "is_present", "is_blank"]
    data = _canonical_post(cast, op="", **{"c.0.field": "assignee", "c.0.op": "is"})
    html = client.post(_editor(cast), data).content.decode()
    assert str(cast.teammate.id) in _options(html, "c.0.value")
    assert str(cast.outsider.id) not in html
    data = _canonical_post(cast, op="", **{"c.0.field": "reception_time", "c.0.op": "is_within"})
    html = client.post(_editor(cast), data).content.decode()
    assert 'name="c.0.days"' in html and "Europe/Paris" in html
    data = _canonical_post(cast, op="", **{"c.0.field": "delay", "c.0.amount": "5", "c.0.unit": "minutes"})
    html = client.post(_editor(cast), data).content.decode()
    assert 'name="c.0.amount" value="5"' in html


def test_delay_greys_out_the_sla_timers_and_they_stay_out_of_nested_groups(client, cast):
    login(client, cast.owner)
    data = _canonical_post(
        cast,
        op="add_group:c",
        **{"c.0.field": "delay", "c.0.amount": "5", "c.0.unit": "minutes"},
    )
    html = client.post(_editor(cast), data).content.decode()
    root = re.search(r'name="c\.0\.field"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.search(r'<option value="unreplied" disabled', root)
    assert not re.search(r'<option value="delay"[^>]*disabled', root)
    nested = _options(html, "c.1.0.field")
    assert "delay" not in nested and "unreplied" not in nested and "subject" in nested


def test_groups_conditions_and_actions_are_added_removed_and_reordered(client, cast):
    login(client, cast.owner)
    data = _canonical_post(cast, op="add_cond:c")
    html = client.post(_editor(cast), data).content.decode()
    assert 'name="c.1.field"' in html
    data = _canonical_post(
        cast,
        op="remove:c.0",
        **{"c.1.kind": "group", "c.1.mode": "none", "c.1.0.kind": "cond", "c.1.0.field": "subject"},
    )
    html = client.post(_editor(cast), data).content.decode()
    assert 'name="c.0.mode"' in html and 'name="c.0.0.field"' in html and 'value="none" selected' in html
    data = _canonical_post(cast, op="down:0", **{"a.1.type": "close"})
    html = client.post(_editor(cast), data).content.decode()
    assert re.search(r'name="a\.0\.type".*?<option value="close" selected', html, re.S)
    assert re.search(r'name="a\.1\.type".*?<option value="add_labels" selected', html, re.S)
    html = client.post(_editor(cast), _canonical_post(cast, op="remove_action:0")).content.decode()
    assert 'name="a.0.type"' not in html
    html = client.post(_editor(cast), _canonical_post(cast, op="add_action")).content.decode()
    assert 'name="a.1.type"' in html


def test_nested_groups_and_action_parameters_are_saved(client, cast):
    login(client, cast.owner)
    data = _canonical_post(
        cast,
        **{
            "c.1.kind": "group",
            "c.1.mode": "any",
            "c.1.0.kind": "cond",
            "c.1.0.field": "subject",
            "c.1.0.op": "contains",
            "c.1.0.value": "urgent",
            "c.1.1.kind": "cond",
            "c.1.1.field": "message_count",
            "c.1.1.op": "is_greater_than",
            "c.1.1.value": "3",
            "a.1.type": "assign_users",
            "a.1.users": [str(cast.teammate.id)],
            "a.1.strategy": "in_turn",
            "a.1.filters": ["online"],
            "a.2.type": "send_response",
            "a.2.canned_response": "",
            "a.2.at_most_every.amount": "2",
            "a.2.at_most_every.unit": "hours",
        },
    )
    html = client.post(_editor(cast), data).content.decode()
    assert "Action 3 (Send response): choose a canned response." in html
    assert not Rule.objects.exists()
    data["a.2.type"] = "webhook"
    data["a.2.url"] = "https://hooks.example.com/x"
    client.post(_editor(cast), data)
    rule = Rule.objects.get()
    assert rule.conditions["items"][1] == {
        "mode": "any",
        "items": [
            {"field": "subject", "op": "contains", "value": "urgent"},
            {"field": "message_count", "op": "is_greater_than", "value": 3},
        ],
    }
    assert rule.actions[1:] == [
        {"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "in_turn", "filters": ["online"]},
        {"type": "webhook", "url": "https://hooks.example.com/x"},
    ]


def test_user_written_text_is_escaped(client, cast):
    _rule(cast, "<script>alert(1)</script>")
    login(client, cast.owner)
    html = client.get(reverse("settings_rules", args=[cast.org.id])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_run_log_newest_first_with_conversation_links_only_when_visible(client, cast):
    rule = _rule(cast)
    mine = receive(cast.personal_account, subject="Owner's private").conversation
    theirs = receive(cast.support_account, subject="Support thread").conversation
    RuleRun.objects.create(
        organization=cast.org,
        rule=rule,
        trigger_key="a",
        conversation=mine,
        status=RunStatus.MATCHED,
        log=[{"index": 0, "type": "webhook", "state": "failed", "detail": "HTTP 500"}],
    )
    RuleRun.objects.create(
        organization=cast.org, rule=rule, trigger_key="b", conversation=theirs, status=RunStatus.FAILED, error="Boom"
    )
    admin = UserFactory()
    MembershipFactory(organization=cast.org, user=admin, role=Role.ADMIN)
    login(client, admin)
    html = client.get(reverse("settings_rule_runs", args=[cast.org.id, rule.id])).content.decode()
    assert html.index("Boom") < html.index("Webhook · failed · HTTP 500")
    assert "Owner&#x27;s private" not in html and "A conversation you cannot see" in html
    login(client, cast.owner)
    html = client.get(reverse("settings_rule_runs", args=[cast.org.id, rule.id])).content.decode()
    assert "Owner&#x27;s private" in html and "Support thread" in html


def test_the_run_log_is_paginated(client, cast):
    rule = _rule(cast)
    for i in range(30):
        RuleRun.objects.create(organization=cast.org, rule=rule, trigger_key=f"k{i}", status=RunStatus.NOT_MATCHED)
    login(client, cast.owner)
    url = reverse("settings_rule_runs", args=[cast.org.id, rule.id])
    first = client.get(url).content.decode()
    assert first.count('class="rule-run ') == 25 and "Page 1 of 2" in first
    assert client.get(url + "?page=2").content.decode().count('class="rule-run ') == 5


def test_export_gives_the_definition_as_json(client, cast):
    rule = _rule(cast)
    login(client, cast.owner)
    response = client.get(reverse("settings_rule_export", args=[cast.org.id, rule.id]))
    assert response["Content-Disposition"] == 'attachment; filename="rule-label-disney.json"'
    data = json.loads(response.content)
    assert data["description"] == "Label Disney" and data["actions"] == [{"type": "close"}]
    assert "id" not in data and "organization" not in data


def test_before_and_after_save_the_instant_in_utc(client, cast):
    login(client, cast.owner)
    fields = {"c.0.field": "reception_time", "c.0.op": "is_after"}
    client.post(_editor(cast), _canonical_post(cast, **fields, **{"c.0.value": "2026-03-01T09:00:00+01:00"}))
    rule = Rule.objects.get()
    assert rule.conditions["items"][0]["value"] == "2026-03-01T08:00:00+00:00"
    html = client.get(reverse("settings_rule", args=[cast.org.id, rule.id])).content.decode()
    assert 'name="c.0.local" value="2026-03-01T08:00"' in html
    assert 'name="c.0.value" value="2026-03-01T08:00:00+00:00"' in html
    # Without the script, the visible input counts as UTC.
    client.post(
        _editor(cast),
        _canonical_post(cast, rule_id=str(rule.id), **fields, **{"c.0.value": "", "c.0.local": "2026-04-02T10:30"}),
    )
    rule.refresh_from_db()
    assert rule.conditions["items"][0]["value"] == "2026-04-02T10:30:00+00:00"


def test_is_within_saves_weekly_hours_and_a_time_zone(client, cast):
    login(client, cast.owner)
    fields = {
        "c.0.field": "reception_time",
        "c.0.op": "is_not_within",
        "c.0.days": ["mon", "fri"],
        "c.0.start": "09:00",
        "c.0.end": "17:30",
        "c.0.tz": "Europe/Paris",
    }
    client.post(_editor(cast), _canonical_post(cast, **fields))
    assert Rule.objects.get().conditions["items"][0]["value"] == {
        "time_zone": "Europe/Paris",
        "weekly": {"mon": [["09:00", "17:30"]], "fri": [["09:00", "17:30"]]},
    }


def test_ai_rules_choose_their_model(client, cast):
    login(client, cast.owner)
    html = client.post(_editor(cast), _canonical_post(cast, op="")).content.decode()
    assert 'id="rule-ai-model"' not in html
    fields = {
        "c.0.field": "ai_prompt",
        "c.0.prompt": "Is this customer upset? Respond with only YES or NO.",
        "c.0.op": "is",
        "c.0.value": "YES",
        "ai_model": "small-model",
    }
    html = client.post(_editor(cast), _canonical_post(cast, op="", **fields)).content.decode()
    assert 'id="rule-ai-model"' in html and 'value="small-model"' in html
    client.post(_editor(cast), _canonical_post(cast, **fields))
    rule = Rule.objects.get()
    assert rule.ai_model == "small-model"
    assert rule.conditions["items"][0]["prompt"] == "Is this customer upset? Respond with only YES or NO."
    assert (
        reverse("settings_rule_runs", args=[cast.org.id, rule.id])
        in client.get(reverse("settings_rule", args=[cast.org.id, rule.id])).content.decode()
    )
