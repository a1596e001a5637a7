"""Whether a rule may be saved: its type, every condition and action against the catalog for its
type and scope, values of the right kind naming objects of the rule's organization, the seed's
time-condition rules, and a description. The editor refuses to save a rule with any message; the
engine trusts what was saved.

Values the editor writes (and the engine reads), beyond the catalog's kinds:
- "hours" with is_within / is_not_within: {"time_zone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]], ...}}
- "hours" with is_before / is_after: a UTC ISO instant, "2026-03-01T09:00:00+00:00"
- "users" / "labels": lists of UUID strings; "duration": whole seconds
- assign_users: "strategy" one of catalog.ASSIGN_STRATEGIES, "filters" a list of catalog.ASSIGN_FILTERS
"""

from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from conversations.models import CannedResponse, CannedScope, Conversation, Label
from inboxes.models import Account, Membership, Team
from rules import catalog
from rules.models import Channel, HoursBasis, Rule, Trigger, UserAction

MODES = ("all", "any", "none")
MODE_LABELS = {"all": "All", "any": "At least one", "none": "None"}
STATES = ("assigned", "closed", "team_inbox")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RECIPIENT_FIELDS = ("to", "cc", "bcc")
# Operators that compare with nothing (the field's presence, or the sender's contacts as a whole).
NO_VALUE_OPERATORS = frozenset(
    {"is_present", "is_blank", "in_contacts", "not_in_contacts", "is_past_recipient", "is_not_past_recipient"}
)
# User-action events that only happen to shared conversations: organization rules only.
ORGANIZATION_ONLY_USER_ACTIONS = frozenset({UserAction.TEAM_CHANGED})
MAX_DEPTH = 5
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def type_errors(trigger: str, channel: str, user_action: str, *, personal: bool) -> list[str]:
    """The rule type: a trigger, a channel (Post is incoming only), and a user-action event."""
    if trigger not in Trigger.values:
        return ["Choose when the rule runs: incoming message, outgoing message or user actions."]
    if trigger == Trigger.USER_ACTION:
        if user_action not in UserAction.values:
            return ["Choose the user action that runs the rule."]
        if personal and user_action in ORGANIZATION_ONLY_USER_ACTIONS:
            return [f"{UserAction(user_action).label} rules are organization rules only."]
        return []
    if channel not in Channel.values:
        return ["Choose a channel."]
    if trigger == Trigger.OUTGOING and channel == Channel.POST:
        return ["Post is an incoming channel only: choose another channel for an outgoing rule."]
    if user_action:
        return ["Only user-action rules choose a user action."]
    return []


def validate_rule(rule: Rule) -> list[str]:
    """Every reason the rule cannot be saved, in the editor's order; empty when it can."""
    errors = type_errors(rule.trigger, rule.channel, rule.user_action, personal=rule.is_personal)
    if errors:
        return errors + ([] if (rule.description or "").strip() else ["Add a description."])
    checker = RuleChecker(rule)
    checker.check_conditions(rule.conditions)
    checker.check_hours()
    checker.check_actions(rule.actions)
    if not (rule.description or "").strip():
        checker.errors.append("Add a description.")
    elif len(rule.description) > 200:
        checker.errors.append("Keep the description under 200 characters.")
    return checker.errors


class RuleChecker:
    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.errors: list[str] = []
        personal = rule.is_personal
        self.fields = {c.name: c for c in catalog.conditions_for(rule.trigger, rule.channel, rule.user_action)}
        self.actions = {a.name: a for a in catalog.actions_for(rule.trigger, rule.channel, personal=personal)}
        self.time_fields: set[str] = set()
        self.counter = 0
        org = rule.organization_id
        self._ids: dict[str, set[str]] = {}
        self._loaders = {
            "user": lambda: Membership.objects.filter(organization_id=org).values_list("user_id", flat=True),
            "team": lambda: Team.objects.filter(organization_id=org).values_list("id", flat=True),
            "label": lambda: (
                Label.objects.filter(organization_id=org).filter(_owner_q(rule)).values_list("id", flat=True)
            ),
            "account": lambda: Account.objects.filter(organization_id=org).values_list("id", flat=True),
            "canned_response": lambda: (
                CannedResponse.objects.filter(organization_id=org)
                .exclude(_canned_excluded_q(rule))
                .values_list("id", flat=True)
            ),
        }

    # --- Objects of the organization ---------------------------------------------------------

    def known(self, kind: str, value: Any) -> bool:
        if kind not in self._ids:
            self._ids[kind] = {str(i) for i in self._loaders[kind]()}
        return isinstance(value, str) and value in self._ids[kind]

    # --- Conditions --------------------------------------------------------------------------

    def check_conditions(self, tree: Any) -> None:
        if tree in (None, {}):
            return
        if not isinstance(tree, dict):
            self.errors.append("The conditions are not a group.")
            return
        self._group(tree, depth=0)
        if self.time_fields & catalog.DELAY_FIELDS and self.time_fields & catalog.SLA_FIELDS:
            self.errors.append(
                "Delay cannot be combined with Unreplied and open after or Unassigned and open after: "
                "keep one kind of time condition."
            )

    def _group(self, group: dict[str, Any], depth: int) -> None:
        if group.get("mode") not in MODES:
            self.errors.append(f"{'Conditions' if depth == 0 else 'A group'}: choose All, At least one or None.")
        if depth > MAX_DEPTH:
            self.errors.append(f"Groups nest at most {MAX_DEPTH} deep.")
            return
        items = group.get("items") or []
        if not isinstance(items, list):
            self.errors.append("A group's conditions are not a list.")
            return
        if depth > 0 and not items:
            self.errors.append("A group is empty: add a condition to it or remove it.")
        for item in items:
            if isinstance(item, dict) and "items" in item:
                self._group(item, depth + 1)
            else:
                self._condition(item, depth)

    def _condition(self, item: Any, depth: int) -> None:
        self.counter += 1
        name = f"Condition {self.counter}"
        if not isinstance(item, dict) or not item.get("field"):
            self.errors.append(f"{name}: choose a field.")
            return
        field_name = item["field"]
        definition = catalog.CONDITIONS.get(field_name)
        if definition is None:
            self.errors.append(f"{name}: there is no condition {field_name!r}.")
            return
        name = f"{name} ({definition.label})"
        if field_name not in self.fields:
            self.errors.append(f"{name}: not available for {self.type_label()} rules.")
            return
        if field_name in catalog.DELAY_FIELDS or field_name in catalog.SLA_FIELDS:
            self.time_fields.add(field_name)
            if depth > 0:
                self.errors.append(f"{name}: only in the top group, not inside a nested group.")
            seconds = item.get("seconds")
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
                self.errors.append(f"{name}: enter a duration greater than zero.")
            elif seconds > 366 * 86400:
                self.errors.append(f"{name}: enter a duration of at most a year.")
            basis = item.get("hours_basis")
            if basis is not None and basis != self.rule.hours_basis:
                self.errors.append(f"{name}: every time condition of a rule uses the same business hours setting.")
            return
        if field_name == "ai_prompt" and not _text(item.get("prompt")):
            self.errors.append(f"{name}: enter the prompt the AI answers.")
        op = item.get("op")
        if not op:
            self.errors.append(f"{name}: choose an operator.")
            return
        if op not in definition.operators:
            self.errors.append(f"{name}: “{catalog.OPERATOR_LABELS.get(op, op)}” is not an operator of this field.")
            return
        if op in NO_VALUE_OPERATORS:
            return
        problem = self._condition_value(definition.value, op, item.get("value"))
        if problem:
            self.errors.append(f"{name}: {problem}")

    def _condition_value(self, kind: str, op: str, value: Any) -> str:
        if op in {"in_contact_group", "not_in_contact_group", "in_contact_company", "not_in_contact_company"}:
            return "" if _text(value) else "choose a contact group or company."
        if op in {"in_contact_book", "not_in_contact_book"}:
            return "" if _text(value) else "choose a contact book."
        if kind == "text":
            return "" if _text(value) else "enter a value."
        if kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            return "" if ok else "enter a number."
        if kind == "bool":
            return "" if isinstance(value, bool) else "choose yes or no."
        if kind == "state":
            return "" if value in STATES else "choose assigned, closed or in team inbox."
        if kind in ("user", "team", "label", "account"):
            if not _text(value):
                return f"choose {_KIND_NOUN[kind]}."
            return "" if self.known(kind, value) else f"choose {_KIND_NOUN[kind]} of this organization."
        if kind == "hours":
            if op in ("is_before", "is_after"):
                return "" if _instant(value) else "enter a date and time."
            return _hours_problem(value)
        return ""

    # --- Business hours ----------------------------------------------------------------------

    def check_hours(self) -> None:
        rule = self.rule
        if rule.hours_basis not in HoursBasis.values:
            self.errors.append("Business hours: choose wall-clock time, the organization's or a team's hours.")
        elif rule.hours_basis == HoursBasis.TEAM:
            if rule.hours_team_id is None:
                self.errors.append("Business hours: choose the team whose hours count.")
            elif not self.known("team", str(rule.hours_team_id)):
                self.errors.append("Business hours: choose a team of this organization.")
        elif rule.hours_team_id is not None:
            self.errors.append("Business hours: one setting per rule; a team only goes with team business hours.")

    # --- Actions -----------------------------------------------------------------------------

    def check_actions(self, actions: Any) -> None:
        if not isinstance(actions, list) or not actions:
            self.errors.append("Add at least one action.")
            return
        for index, action in enumerate(actions, 1):
            name = f"Action {index}"
            if not isinstance(action, dict) or not action.get("type"):
                self.errors.append(f"{name}: choose an action.")
                continue
            definition = catalog.ACTIONS.get(action["type"])
            if definition is None:
                self.errors.append(f"{name}: there is no action {action['type']!r}.")
                continue
            name = f"{name} ({definition.label})"
            if action["type"] not in self.actions:
                if definition.personal_only and not self.rule.is_personal:
                    self.errors.append(f"{name}: personal rules only.")
                elif definition.organization_only and self.rule.is_personal:
                    self.errors.append(f"{name}: organization rules only.")
                else:
                    self.errors.append(f"{name}: not available for {self.type_label()} rules.")
                continue
            for param, kind in definition.params.items():
                value = action.get(param)
                if _empty(value):
                    if param not in definition.optional:
                        self.errors.append(f"{name}: {_REQUIRED[param]}")
                    continue
                problem = self._param(action["type"], param, kind, value)
                if problem:
                    self.errors.append(f"{name}: {problem}")
            if (
                action["type"] == "create_draft"
                and _empty(action.get("canned_response"))
                and _empty(action.get("text"))
            ):
                self.errors.append(f"{name}: choose a canned response or write the draft's text.")

    def _param(self, action_type: str, param: str, kind: str, value: Any) -> str:
        if param == "strategy":
            return "" if value in catalog.ASSIGN_STRATEGIES else "choose how to assign."
        if param == "filters":
            ok = isinstance(value, list) and all(f in catalog.ASSIGN_FILTERS for f in value)
            return "" if ok else "choose filters from the list."
        if param == "canned_response":
            return "" if self.known("canned_response", value) else "choose a canned response of this organization."
        if param == "url":
            return "" if _valid(URLValidator(schemes=["http", "https"]), value) else "enter an http(s) URL."
        if param == "address":
            return "" if _valid(EmailValidator(), value) else "enter an email address."
        if param == "addresses":
            parts = [p.strip() for p in str(value).split(",") if p.strip()]
            ok = bool(parts) and all(_valid(EmailValidator(), p) for p in parts)
            return "" if ok else "enter email addresses separated by commas."
        if param == "conversation":
            found = _UUID_RE.search(str(value))
            ok = (
                found is not None
                and Conversation.objects.filter(id=found.group(0), organization_id=self.rule.organization_id).exists()
            )
            return "" if ok else "enter a link to a conversation of this organization."
        if param == "field":
            return "" if value in RECIPIENT_FIELDS else "choose To, Cc or Bcc."
        if param == "color":
            return "" if isinstance(value, str) and COLOR_RE.match(value) else "choose a color."
        if kind == "duration":
            return "" if _is_int(value) and value > 0 else "enter a duration greater than zero."
        if kind in ("users", "labels"):
            single = kind[:-1]
            if not isinstance(value, list) or not all(self.known(single, v) for v in value):
                return f"choose {kind} of this organization."
            return ""
        if kind in ("team", "user", "label", "account"):
            return "" if self.known(kind, value) else f"choose {_KIND_NOUN[kind]} of this organization."
        if kind == "text" or kind.startswith("contact_"):
            return "" if _text(value) else _REQUIRED.get(param, "enter a value.")
        return ""

    def type_label(self) -> str:
        return type_label(self.rule.trigger, self.rule.channel, self.rule.user_action)


def type_label(trigger: str, channel: str, user_action: str) -> str:
    if trigger == Trigger.USER_ACTION:
        return f"{UserAction(user_action).label}" if user_action in UserAction.values else "user-action"
    channel_label = Channel(channel).label if channel in Channel.values else channel
    return f"{'incoming' if trigger == Trigger.INCOMING else 'outgoing'} {channel_label}"


_KIND_NOUN = {"user": "a user", "team": "a team", "label": "a label", "account": "an account"}
_REQUIRED = {
    "users": "choose at least one user.",
    "labels": "choose at least one label.",
    "team": "choose a team.",
    "strategy": "choose how to assign.",
    "title": "enter the task's title.",
    "color": "choose a color.",
    "conversation": "enter the conversation to merge into.",
    "text": "enter the text.",
    "canned_response": "choose a canned response.",
    "after": "enter how long to wait.",
    "at_most_every": "enter a duration.",
    "address": "enter the address to forward to.",
    "url": "enter the URL to call.",
    "until": "enter when the snooze ends.",
    "contact_book": "choose a contact book.",
    "field": "choose To, Cc or Bcc.",
    "addresses": "enter the addresses to add.",
    "prompt": "enter the prompt.",
    "due_in": "enter a duration.",
    "assignees": "choose at least one user.",
}


def _owner_q(rule: Rule) -> Any:
    """Labels a rule may name: organization labels, and the owner's own for a personal rule."""
    from django.db.models import Q

    return Q(owner__isnull=True) | Q(owner_id=rule.owner_id) if rule.owner_id else Q(owner__isnull=True)


def _canned_excluded_q(rule: Rule) -> Any:
    from django.db.models import Q

    others = Q(scope=CannedScope.PERSONAL)
    return others & ~Q(owner_id=rule.owner_id) if rule.owner_id else others


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid(validator: Any, value: Any) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def _instant(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None


def _hours_problem(value: Any) -> str:
    if not isinstance(value, dict):
        return "choose days and hours."
    try:
        zoneinfo.ZoneInfo(str(value.get("time_zone") or ""))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "choose a time zone."
    weekly = value.get("weekly")
    if not isinstance(weekly, dict) or set(weekly) - set(DAYS):
        return "choose days and hours."
    any_interval = False
    for day, intervals in weekly.items():
        for interval in intervals or []:
            if not (isinstance(interval, list | tuple) and len(interval) == 2):
                return "choose days and hours."
            start, end = interval
            if not (isinstance(start, str) and isinstance(end, str) and TIME_RE.match(start) and TIME_RE.match(end)):
                return "enter times as HH:MM."
            if start >= end:
                return f"on {day.title()}, the end comes after the start."
            any_interval = True
    return "" if any_interval else "choose at least one day with hours."


def uuid_strings(values: Iterable[Any]) -> list[str]:
    out = []
    for v in values:
        try:
            out.append(str(uuid.UUID(str(v))))
        except ValueError:
            continue
    return out
