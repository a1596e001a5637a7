"""Moving a rule definition between scopes: Duplicate (to Personal or an organization the user
manages) and Export / Import (the definition as JSON). Conditions and actions the target scope does
not allow are dropped, and each drop is named so the editor can say what was left behind."""

from __future__ import annotations

import json
from typing import Any

from inboxes.models import Organization, User
from missive.ids import is_uuid
from rules import catalog
from rules.models import HoursBasis, Rule, Trigger
from rules.validation import ORGANIZATION_ONLY_USER_ACTIONS, RuleChecker, type_errors

FORMAT = "missive-rule"
VERSION = 1


def export_definition(rule: Rule) -> dict[str, Any]:
    """The rule's definition, without its identity, scope, state or run bookkeeping."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "description": rule.description,
        "trigger": rule.trigger,
        "channel": rule.channel,
        "user_action": rule.user_action,
        "hours_basis": rule.hours_basis,
        "hours_team": str(rule.hours_team_id) if rule.hours_team_id else None,
        "conditions": rule.conditions,
        "actions": rule.actions,
    }


def export_json(rule: Rule) -> str:
    return json.dumps(export_definition(rule), indent=2, ensure_ascii=False)


def parse_import(text: str) -> dict[str, Any]:
    """The definition in an exported file; ValueError with a message to show otherwise."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise ValueError("This is not a rule export: it is not valid JSON.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("This is not a rule export.")
    if data.get("version") != VERSION:
        raise ValueError("This rule export comes from a newer version.")
    return data


def allows_personal(trigger: str, user_action: str) -> bool:
    """Personal is disabled for rule types that only work at the organization level."""
    return not (trigger == Trigger.USER_ACTION and user_action in ORGANIZATION_ONLY_USER_ACTIONS)


def adapt(
    data: dict[str, Any], organization: Organization, owner: User | None, *, created_by: User
) -> tuple[Rule, list[str]]:
    """An unsaved rule of `organization` (personal to `owner` when set) from a definition, and what
    had to be dropped for the target scope. ValueError when the rule type itself cannot go there."""
    trigger, channel = str(data.get("trigger", "")), str(data.get("channel", "") or "email")
    user_action = str(data.get("user_action", "") or "")
    problems = type_errors(trigger, channel, user_action, personal=owner is not None)
    if problems:
        raise ValueError(problems[0])
    rule = Rule(
        organization=organization,
        owner=owner,
        description=str(data.get("description", ""))[:200],
        trigger=trigger,
        channel=channel,
        user_action=user_action,
        created_by=created_by,
    )
    dropped: list[str] = []
    basis = data.get("hours_basis") or HoursBasis.WALL_CLOCK
    rule.hours_basis = basis if basis in HoursBasis.values else HoursBasis.WALL_CLOCK
    if rule.hours_basis == HoursBasis.TEAM:
        team_id = str(data.get("hours_team"))
        team = organization.teams.filter(id=team_id).first() if is_uuid(team_id) else None
        if team is not None:
            rule.hours_team = team
        else:
            rule.hours_basis = HoursBasis.WALL_CLOCK
            dropped.append("Team business hours (the team is not in this organization)")
    allowed_fields = {c.name for c in catalog.conditions_for(trigger, channel, user_action)}
    conditions = data.get("conditions") or {}
    rule.conditions = _keep_group(conditions, allowed_fields, dropped, 0) if isinstance(conditions, dict) else {}
    allowed_actions = {a.name for a in catalog.actions_for(trigger, channel, personal=owner is not None)}
    rule.actions = []
    for action in data.get("actions") or []:
        action_type = action.get("type") if isinstance(action, dict) else None
        if action_type in allowed_actions:
            rule.actions.append(dict(action))
        else:
            definition = catalog.ACTIONS.get(str(action_type))
            dropped.append(f"Action “{definition.label if definition else action_type}”")
    dropped += _foreign_values(rule)
    return rule, dropped


def _foreign_values(rule: Rule) -> list[str]:
    """Clear values naming users, teams, labels or accounts the target organization does not have
    (a copy to another organization), and name what was cleared."""
    checker = RuleChecker(rule)
    cleared: list[str] = []

    def walk(group: dict[str, Any]) -> None:
        for item in group.get("items") or []:
            if "items" in item:
                walk(item)
                continue
            definition = catalog.CONDITIONS.get(str(item.get("field")))
            kind = definition.value if definition else ""
            named = kind in ("user", "team", "label", "account") and "value" in item
            if named and not checker.known(kind, item["value"]):
                item["value"] = ""
                cleared.append(f"The {kind} of condition “{definition.label}”")  # type: ignore[union-attr]

    if isinstance(rule.conditions, dict):
        walk(rule.conditions)
    for action in rule.actions:
        definition = catalog.ACTIONS[action["type"]]
        for param, kind in definition.params.items():
            single = {"users": "user", "labels": "label", "assignees": "user"}.get(param, kind)
            if single not in ("user", "team", "label", "account") or param not in action:
                continue
            value = action[param]
            if isinstance(value, list):
                kept = [v for v in value if checker.known(single, v)]
                if len(kept) != len(value):
                    action[param] = kept
                    cleared.append(f"Some {param} of action “{definition.label}”")
            elif value and not checker.known(single, value):
                action[param] = ""
                cleared.append(f"The {param} of action “{definition.label}”")
    return [f"{text} (not in this organization)" for text in cleared]


def _keep_group(group: dict[str, Any], allowed: set[str], dropped: list[str], depth: int) -> dict[str, Any]:
    kept = []
    for item in group.get("items") or []:
        if not isinstance(item, dict):
            continue
        if "items" in item:
            kept.append(_keep_group(item, allowed, dropped, depth + 1))
            continue
        name = item.get("field")
        timer = name in catalog.DELAY_FIELDS or name in catalog.SLA_FIELDS
        if name in allowed and not (timer and depth > 0):
            kept.append(dict(item))
        else:
            definition = catalog.CONDITIONS.get(str(name))
            dropped.append(f"Condition “{definition.label if definition else name}”")
    return {"mode": group.get("mode", "all"), "items": kept}


def duplicate(
    rule: Rule, organization: Organization, owner: User | None, *, created_by: User
) -> tuple[Rule, list[str]]:
    """An unsaved copy of `rule` in the target scope (the editor opens it), and what was dropped."""
    return adapt(export_definition(rule), organization, owner, created_by=created_by)
