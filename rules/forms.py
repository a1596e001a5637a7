"""The rule editor's form: plain named inputs, read back into a rule definition (the JSON shapes of
`rules.models`) and turned into what the templates draw.

Names: the root group is "c"; its items "c.0", "c.1", a nested group's items "c.1.0", ... Each item
has "<path>.kind" (cond / group); a group "<path>.mode"; a condition "<path>.field", "<path>.op",
"<path>.value" and, by value kind, "<path>.amount" + "<path>.unit" (durations), "<path>.days",
"<path>.start", "<path>.end", "<path>.tz" (weekly hours). Actions are "a.0.type", "a.0.<param>", ...
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from functools import cache
from typing import Any

from django.db.models import Q
from django.http import QueryDict

from conversations.models import CannedResponse, CannedScope, Label
from inboxes.models import Account, Membership, Organization, Team, User
from rules import catalog
from rules.models import Channel, HoursBasis, Rule, Trigger, UserAction
from rules.validation import DAYS, MODE_LABELS, NO_VALUE_OPERATORS, ORGANIZATION_ONLY_USER_ACTIONS, STATES

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
STATE_LABELS = {"assigned": "assigned", "closed": "closed", "team_inbox": "in team inbox"}
DAY_LABELS = {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat", "sun": "Sun"}
STRATEGY_LABELS = {
    "all": "All at once",
    "random": "Randomly",
    "in_turn": "In turn (round-robin)",
    "least_busy": "Least busy",
}
FILTER_LABELS = {f: f.replace("_", " ").capitalize() for f in catalog.ASSIGN_FILTERS}
PARAM_LABELS = {
    "users": "Users",
    "labels": "Labels",
    "team": "Team",
    "strategy": "Strategy",
    "filters": "Only users who are",
    "title": "Title",
    "assignees": "Assignees",
    "due_in": "Due in",
    "color": "Color",
    "conversation": "Conversation (link or id)",
    "text": "Text",
    "canned_response": "Canned response",
    "at_most_every": "At most once every",
    "after": "After",
    "address": "Forward to",
    "url": "URL",
    "until": "Until",
    "contact_book": "Contact book",
    "field": "Field",
    "addresses": "Addresses (comma-separated)",
    "prompt": "Prompt",
}
LONG_TEXT = frozenset({"text", "prompt"})
SCOPE_PERSONAL, SCOPE_ORGANIZATION = "personal", "organization"


@cache
def time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


# --- Reading the posted form ------------------------------------------------------------------


def rule_from_post(data: QueryDict, rule: Rule) -> Rule:
    """Set the posted definition on `rule` (not saved)."""
    rule.trigger = data.get("trigger", "")
    rule.channel = data.get("channel", "") or Channel.EMAIL
    rule.user_action = data.get("user_action", "") if rule.trigger == Trigger.USER_ACTION else ""
    rule.description = data.get("description", "").strip()
    rule.ai_model = data.get("ai_model", "").strip()[:100]
    rule.hours_basis = data.get("hours_basis", "") or HoursBasis.WALL_CLOCK
    team = data.get("hours_team", "")
    rule.hours_team_id = team if team and rule.hours_basis == HoursBasis.TEAM else None  # type: ignore[assignment]
    rule.conditions = _group(data, "c") if "c.mode" in data else {"mode": "all", "items": []}
    rule.actions = [_action(data, f"a.{i}") for i in _indices(data, "a", "type")]
    return rule


def _indices(data: QueryDict, path: str, leaf: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(path)}\.(\d+)\.{leaf}$")
    return sorted({int(m.group(1)) for key in data for m in [pattern.match(key)] if m})


def _group(data: QueryDict, path: str) -> dict[str, Any]:
    items = []
    for i in _indices(data, path, "kind"):
        child = f"{path}.{i}"
        items.append(_group(data, child) if data.get(f"{child}.kind") == "group" else _condition(data, child))
    return {"mode": data.get(f"{path}.mode", "all"), "items": items}


def _seconds(data: QueryDict, path: str) -> int | None:
    try:
        amount = float(data.get(f"{path}.amount", ""))
    except ValueError:
        return None
    return round(amount * UNITS.get(data.get(f"{path}.unit", ""), 60))


def _condition(data: QueryDict, path: str) -> dict[str, Any]:
    name = data.get(f"{path}.field", "")
    item: dict[str, Any] = {"field": name}
    definition = catalog.CONDITIONS.get(name)
    if definition is None:
        return item
    if name in catalog.DELAY_FIELDS or name in catalog.SLA_FIELDS:
        item["seconds"] = _seconds(data, path)
        return item
    if name == "ai_prompt":  # the question the AI answers; the operator compares its answer
        item["prompt"] = data.get(f"{path}.prompt", "").strip()
    op = data.get(f"{path}.op", "")
    item["op"] = op if op in definition.operators else ""
    if not item["op"] or op in NO_VALUE_OPERATORS:
        return item
    raw = data.get(f"{path}.value", "")
    kind = definition.value
    value: Any = raw
    if kind == "number":
        try:
            number = float(raw)
            value = int(number) if number.is_integer() else number
        except ValueError:
            value = raw
    elif kind == "bool":
        value = {"true": True, "false": False}.get(raw)
    elif kind == "hours" and op in ("is_within", "is_not_within"):
        start, end = data.get(f"{path}.start", ""), data.get(f"{path}.end", "")
        value = {
            "time_zone": data.get(f"{path}.tz", "UTC"),
            "weekly": {day: [[start, end]] for day in DAYS if day in data.getlist(f"{path}.days")},
        }
    elif kind == "hours":
        # The browser's script fills "value" with the UTC instant of the local date and time it
        # shows; without it, the visible input is read as UTC.
        value = _instant(raw or data.get(f"{path}.local", ""))
    item["value"] = value
    return item


def _instant(raw: str) -> str:
    """A datetime-local value ("2026-03-01T09:00") or an ISO instant, as a UTC ISO instant."""
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).isoformat()


def _action(data: QueryDict, path: str) -> dict[str, Any]:
    action_type = data.get(f"{path}.type", "")
    action: dict[str, Any] = {"type": action_type}
    definition = catalog.ACTIONS.get(action_type)
    if definition is None:
        return action
    for param, kind in definition.params.items():
        key = f"{path}.{param}"
        if kind in ("users", "labels") or param == "filters":
            action[param] = [v for v in data.getlist(key) if v]
        elif kind == "duration":
            action[param] = _seconds(data, key)
        else:
            action[param] = data.get(key, "").strip()
    return action


# --- Editing operations (the editor's buttons) ------------------------------------------------


def _node(conditions: dict[str, Any], path: str) -> Any:
    node: Any = conditions
    for part in path.split(".")[1:]:
        node = node["items"][int(part)]
    return node


def apply_op(rule: Rule, op: str) -> None:
    """Add / remove / move a condition, group or action; unknown operations change nothing."""
    verb, _, arg = op.partition(":")
    tree = rule.conditions or {"mode": "all", "items": []}
    rule.conditions = tree
    try:
        if verb == "add_cond":
            _node(tree, arg)["items"].append({"field": ""})
        elif verb == "add_group":
            _node(tree, arg)["items"].append({"mode": "all", "items": [{"field": ""}]})
        elif verb == "remove" and "." in arg:
            parent, _, index = arg.rpartition(".")
            del _node(tree, parent)["items"][int(index)]
        elif verb == "add_action":
            rule.actions.append({"type": ""})
        elif verb == "remove_action":
            del rule.actions[int(arg)]
        elif verb in ("up", "down"):
            i = int(arg)
            j = i - 1 if verb == "up" else i + 1
            if 0 <= i < len(rule.actions) and 0 <= j < len(rule.actions):
                rule.actions[i], rule.actions[j] = rule.actions[j], rule.actions[i]
    except (KeyError, IndexError, ValueError, TypeError):
        return


# --- Drawing ----------------------------------------------------------------------------------


class Choices:
    """The organization's objects a rule's values name, loaded once per render."""

    def __init__(self, organization: Organization, owner: User | None) -> None:
        org = organization.id
        self.users = [
            (str(m.user_id), m.user.display_name)
            for m in Membership.objects.filter(organization_id=org).select_related("user").order_by("user__name")
        ]
        self.teams = [(str(t.id), t.name) for t in Team.objects.filter(organization_id=org).order_by("name")]
        label_q = Q(owner__isnull=True) | Q(owner=owner) if owner else Q(owner__isnull=True)
        self.labels = [
            (str(label.id), label.name) for label in Label.objects.filter(label_q, organization_id=org).order_by("name")
        ]
        self.accounts = [
            (str(a.id), f"{a.description or a.address} ({a.address})" if a.description else a.address)
            for a in Account.objects.filter(organization_id=org).order_by("description", "address")
        ]
        canned = CannedResponse.objects.filter(organization_id=org)
        canned = (
            canned.exclude(Q(scope=CannedScope.PERSONAL) & ~Q(owner=owner))
            if owner
            else canned.exclude(scope=CannedScope.PERSONAL)
        )
        self.canned = [(str(c.id), c.title) for c in canned.order_by("title")]

    def for_kind(self, kind: str) -> list[tuple[str, str]]:
        return {
            "user": self.users,
            "users": self.users,
            "team": self.teams,
            "label": self.labels,
            "labels": self.labels,
            "account": self.accounts,
            "state": [(s, STATE_LABELS[s]) for s in STATES],
            "canned_response": self.canned,
        }.get(kind, [])


def _duration_parts(seconds: Any) -> tuple[Any, str]:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        return ("", "minutes")
    for unit in ("days", "hours", "minutes"):
        if seconds % UNITS[unit] == 0:
            return (seconds // UNITS[unit], unit)
    return (round(seconds / 60, 2), "minutes")


def editor_context(rule: Rule, choices: Choices, errors: list[str] | None = None) -> dict[str, Any]:
    """What the editor template draws for `rule` (its type's options, the condition tree and the
    actions with their parameters), with each validation message also next to what it names."""
    by_condition: dict[int, list[str]] = {}
    by_action: dict[int, list[str]] = {}
    for message in errors or []:
        match = re.match(r"^(Condition|Action) (\d+)\b[^:]*: (.*)$", message)
        if match:
            target = by_condition if match.group(1) == "Condition" else by_action
            target.setdefault(int(match.group(2)), []).append(match.group(3))
    fields = catalog.conditions_for(rule.trigger, rule.channel, rule.user_action) if rule.trigger else []
    actions = catalog.actions_for(rule.trigger, rule.channel, personal=rule.is_personal) if rule.trigger else []
    tree = rule.conditions if isinstance(rule.conditions, dict) and "items" in rule.conditions else None
    tree = tree or {"mode": "all", "items": []}
    root_fields = {item.get("field") for item in tree.get("items", []) if isinstance(item, dict)}
    has_delay = bool(root_fields & catalog.DELAY_FIELDS)
    has_sla = bool(root_fields & catalog.SLA_FIELDS)
    state = {
        "fields": fields,
        "has_delay": has_delay,
        "has_sla": has_sla,
        "choices": choices,
        "counter": [0],
        "errors": by_condition,
    }
    return {
        "rule": rule,
        "triggers": Trigger.choices,
        "channels": [
            (v, label) for v, label in Channel.choices if not (rule.trigger == Trigger.OUTGOING and v == "post")
        ],
        "user_actions": [
            (value, label)
            for value, label in UserAction.choices
            if not (rule.is_personal and value in ORGANIZATION_ONLY_USER_ACTIONS)
        ],
        "root": _draw_group(tree, "c", 0, state),
        "has_sla": has_sla,
        "hours_bases": HoursBasis.choices,
        "teams": choices.teams,
        "actions": [
            {**_draw_action(a, i, len(rule.actions), actions, choices), "errors": by_action.get(i + 1, [])}
            for i, a in enumerate(rule.actions)
        ],
        "mode_labels": MODE_LABELS,
        "uses_ai": _uses_ai(tree)
        or any(
            isinstance(a, dict) and getattr(catalog.ACTIONS.get(a.get("type", "")), "group", "") == "AI"
            for a in rule.actions
        ),
    }


def _uses_ai(group: dict[str, Any]) -> bool:
    for item in group.get("items") or []:
        if isinstance(item, dict) and ("items" in item and _uses_ai(item) or item.get("field") == "ai_prompt"):
            return True
    return False


def _draw_group(group: dict[str, Any], path: str, depth: int, state: dict[str, Any]) -> dict[str, Any]:
    items = []
    for i, item in enumerate(group.get("items") or []):
        child = f"{path}.{i}"
        if isinstance(item, dict) and "items" in item:
            items.append(_draw_group(item, child, depth + 1, state))
        else:
            items.append(_draw_condition(item if isinstance(item, dict) else {}, child, depth, state))
    return {"is_group": True, "path": path, "depth": depth, "mode": group.get("mode", "all"), "items": items}


def _draw_condition(item: dict[str, Any], path: str, depth: int, state: dict[str, Any]) -> dict[str, Any]:
    name = item.get("field", "")
    state["counter"][0] += 1
    number = state["counter"][0]
    options = []
    for f in state["fields"]:
        timer = f.name in catalog.DELAY_FIELDS or f.name in catalog.SLA_FIELDS
        if timer and depth > 0:
            continue
        greyed = (f.name in catalog.SLA_FIELDS and state["has_delay"]) or (
            f.name in catalog.DELAY_FIELDS and state["has_sla"]
        )
        options.append({"name": f.name, "label": f.label, "group": f.group, "disabled": greyed and f.name != name})
    definition = catalog.CONDITIONS.get(name)
    available = any(o["name"] == name for o in options)
    drawn: dict[str, Any] = {
        "is_group": False,
        "path": path,
        "number": number,
        "errors": state["errors"].get(number, []),
        "field": name,
        "options": options,
        "unavailable_label": definition.label if definition and not available else "",
        "op": item.get("op", ""),
        "value": item.get("value", ""),
        "prompt": item.get("prompt", ""),
        "kind": "",
    }
    if definition is None:
        return drawn
    if name in catalog.DELAY_FIELDS or name in catalog.SLA_FIELDS:
        drawn["kind"] = "duration"
        drawn["amount"], drawn["unit"] = _duration_parts(item.get("seconds"))
        return drawn
    drawn["operators"] = [(op, catalog.OPERATOR_LABELS.get(op, op)) for op in definition.operators]
    op = drawn["op"]
    if not op or op in NO_VALUE_OPERATORS:
        drawn["kind"] = "none"
    elif op in ("in_contact_group", "not_in_contact_group", "in_contact_company", "not_in_contact_company") or op in (
        "in_contact_book",
        "not_in_contact_book",
    ):
        drawn["kind"] = "text"
    elif definition.value == "hours":
        drawn["kind"] = "instant" if op in ("is_before", "is_after") else "weekly"
        value = item.get("value")
        if drawn["kind"] == "weekly":
            value = value if isinstance(value, dict) else {}
            weekly = value.get("weekly") or {}
            first = next((iv[0] for iv in weekly.values() if iv), ["09:00", "17:00"])
            drawn.update(
                tz=value.get("time_zone") or "UTC",
                days=[(d, DAY_LABELS[d], d in weekly) for d in DAYS] if weekly else _default_days(),
                start=first[0],
                end=first[1],
                time_zones=time_zones(),
            )
        else:
            drawn["local"] = _utc_local(value)
    else:
        drawn["kind"] = definition.value
        drawn["choices"] = state["choices"].for_kind(definition.value)
        if definition.value == "bool":
            raw = item.get("value")
            drawn["value"] = "true" if raw is True else "false" if raw is False else ""
    return drawn


def _utc_local(value: Any) -> str:
    """A stored instant as a datetime-local value in UTC (the script shows it in local time)."""
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _default_days() -> list[tuple[str, str, bool]]:
    return [(d, DAY_LABELS[d], d not in ("sat", "sun")) for d in DAYS]


def _draw_action(
    action: Any, index: int, count: int, allowed: list[catalog.ActionType], choices: Choices
) -> dict[str, Any]:
    action = action if isinstance(action, dict) else {}
    action_type = action.get("type", "")
    definition = catalog.ACTIONS.get(action_type)
    allowed_names = {a.name for a in allowed}
    params = []
    if definition is not None:
        for param, kind in definition.params.items():
            value = action.get(param)
            drawn: dict[str, Any] = {
                "name": param,
                "kind": kind,
                "label": PARAM_LABELS.get(param, param.replace("_", " ").capitalize()),
                "optional": param in definition.optional,
                "value": value if value is not None else "",
            }
            if param == "strategy":
                drawn["widget"] = "select"
                drawn["choices"] = list(STRATEGY_LABELS.items())
            elif param == "filters":
                drawn["widget"] = "multi"
                drawn["choices"] = list(FILTER_LABELS.items())
                drawn["selected"] = value or []
            elif param == "field":
                drawn["widget"] = "select"
                drawn["choices"] = [("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")]
            elif param == "canned_response":
                drawn["widget"] = "select"
                drawn["choices"] = choices.canned
            elif param == "color":
                drawn["widget"] = "color"
            elif kind in ("users", "labels"):
                drawn["widget"] = "multi"
                drawn["choices"] = choices.for_kind(kind)
                drawn["selected"] = value or []
            elif kind in ("team", "user", "label", "account"):
                drawn["widget"] = "select"
                drawn["choices"] = choices.for_kind(kind)
            elif kind == "duration":
                drawn["widget"] = "duration"
                drawn["amount"], drawn["unit"] = _duration_parts(value)
            elif param in LONG_TEXT:
                drawn["widget"] = "textarea"
            elif param == "url":
                drawn["widget"] = "url"
            else:
                drawn["widget"] = "text"
            params.append(drawn)
    groups: dict[str, list[tuple[str, str]]] = {}
    for a in allowed:
        groups.setdefault(a.group, []).append((a.name, a.label))
    return {
        "index": index,
        "path": f"a.{index}",
        "type": action_type,
        "groups": list(groups.items()),
        "unavailable_label": definition.label if definition and action_type not in allowed_names else "",
        "params": params,
        "first": index == 0,
        "last": index == count - 1,
    }
