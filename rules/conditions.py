"""Evaluating a rule's condition tree against one trigger and the conversation's current state.

One small evaluator per condition field, behind the FIELDS lookup: each reads the field's values
from the `Facts` of the trigger (cached, and forgotten after an action changes the conversation,
so later rules see what earlier rules did), and the operator family of the field's catalog entry
compares them with the condition's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone

from conversations.models import (
    Assignment,
    Conversation,
    ConversationLabel,
    ConversationState,
    Direction,
    Label,
    Location,
    Message,
    Status,
)
from conversations.out_of_office import away_among
from conversations.text import html_to_text
from conversations.trackers import is_tracking_image
from rules.catalog import CONDITIONS, DELAY_FIELDS, NEGATIVE_TEXT_OPERATORS, SLA_FIELDS
from rules.contact_rules import OPERATORS as CONTACT_RULE_OPERATORS
from rules.contact_rules import contact_condition
from rules.hours import Hours

if TYPE_CHECKING:
    from rules.engine import TriggerEvent
    from rules.models import Rule


class UnsupportedCondition(Exception):
    """A condition this installation cannot evaluate yet (contact books): the run fails with it."""


# --- The facts of one trigger ---------------------------------------------------------------------


# Actions that change nothing a condition reads (color, per-person star or read state, an
# Activity notice, contacts and drafts): later rules may keep the values read before them.
ACTIONS_CHANGING_NO_FACTS = frozenset(
    {"set_color", "star", "unstar", "mark_read", "mark_unread", "notify", "create_contacts", "create_draft", "stop"}
)

_PEOPLE = ("value:watching_user", "value:out_of_office_user")
_ASSIGNMENT = ("value:assignee", "state", *_PEOPLE)
# The cached values some frequent actions may change (people: access and watching); any other
# action drops them all.
FACTS_CHANGED_BY: dict[str, tuple[str, ...]] = {
    "add_labels": ("value:label", *_PEOPLE),
    "remove_labels": ("value:label",),
    "close": ("state",),
    "assign_users": _ASSIGNMENT,
    "assign_me": _ASSIGNMENT,
    "assign_sender": _ASSIGNMENT,
    "unassign_users": _ASSIGNMENT,
}


@dataclass
class Facts:
    """What conditions read: the trigger, and values of the conversation computed once per rule
    pass (`forget()` after an action drops those that may have changed)."""

    event: TriggerEvent
    rule: Rule | None = None
    now: datetime = field(default_factory=timezone.now)
    cache: dict[str, Any] = field(default_factory=dict)
    # Kept across actions: the message's own fields do not change.
    message_cache: dict[str, Any] = field(default_factory=dict)

    def forget(self, action: str = "") -> None:
        """After an action: drop the values it may have changed (all of them, unless the action
        is known to change nothing a condition reads)."""
        if action in ACTIONS_CHANGING_NO_FACTS:
            return
        changed = FACTS_CHANGED_BY.get(action)
        if changed is None:
            self.cache.clear()
        for key in changed or ():
            self.cache.pop(key, None)

    def cached(self, key: str, compute: Callable[[], Any], *, message: bool = False) -> Any:
        store = self.message_cache if message else self.cache
        if key not in store:
            store[key] = compute()
        return store[key]

    @property
    def conversation(self) -> Conversation:
        return self.event.conversation

    @property
    def message(self) -> Message | None:
        return self.event.message


# --- Operators --------------------------------------------------------------------------------------


def _fold(value: Any) -> str:
    return str(value or "").strip().casefold()


# The positive tests as str's own methods, called (have, want): no Python frame per comparison.
_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "is": str.__eq__,
    "contains": str.__contains__,
    "starts_with": str.startswith,
    "ends_with": str.endswith,
}
_POSITIVE = {
    "is_not": "is",
    "does_not_contain": "contains",
    "does_not_start_with": "starts_with",
    "does_not_end_with": "ends_with",
}


def is_text_operator(op: str) -> bool:
    return op in _TEXT_TESTS or op in _POSITIVE


def text_test(op: str, wanted: Any) -> Callable[[list[str]], bool]:
    """The test of one text condition against already _fold()ed values, with its value folded
    and its operator resolved once. Case-insensitive. A positive operator matches when ANY value
    matches; a negative one when NO value matches its positive counterpart (an empty field: only
    negatives match)."""
    want = _fold(wanted)
    test = _TEXT_TESTS[_POSITIVE.get(op, op)]
    negative = op in NEGATIVE_TEXT_OPERATORS

    def matches(values: list[str]) -> bool:
        for value in values:
            if test(value, want):
                return not negative
        return negative

    return matches


def text_matches(op: str, values: list[str], wanted: Any) -> bool:
    """text_test for values not folded yet (read once, for one condition)."""
    return text_test(op, wanted)([_fold(value) for value in values])


def value_matches(op: str, values: set[str], wanted: Any) -> bool:
    if op == "is_present":
        return bool(values)
    if op == "is_blank":
        return not values
    hit = str(wanted) in values
    return hit if op == "is" else not hit


def number_matches(op: str, have: float, wanted: Any) -> bool:
    want = float(wanted)
    return {
        "is": have == want,
        "is_not": have != want,
        "is_lower_than": have < want,
        "is_greater_than": have > want,
    }[op]


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def bool_matches(op: str, have: bool, wanted: Any) -> bool:
    return (have == _as_bool(wanted)) if op == "is" else (have != _as_bool(wanted))


def time_matches(op: str, instant: datetime, wanted: Any) -> bool:
    """is within / is not within: weekly hours in their own time zone ({"weekly", "time_zone"});
    is before / is after: an absolute instant (UTC ISO)."""
    if op in ("is_within", "is_not_within"):
        inside = Hours.from_value(wanted or {}).is_open(instant)
        return inside if op == "is_within" else not inside
    moment = datetime.fromisoformat(str(wanted))
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return instant < moment if op == "is_before" else instant > moment


# --- Field evaluators -------------------------------------------------------------------------------


def _addresses(entries: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(e.get("address", ""), e.get("name", "")) for e in entries or [] if isinstance(e, dict)]


def _message_addresses(facts: Facts, name: str) -> list[tuple[str, str]]:
    message = facts.message
    if message is None:
        return []
    if name == "from":
        return [(message.from_address, message.from_name)]
    if name == "any_recipient":
        return _addresses(message.to) + _addresses(message.cc) + _addresses(message.bcc)
    return _addresses(getattr(message, name))


_PHONE_NOISE = re.compile(r"[\s\-().]")


def e164(number: str) -> str:
    """+15145551234 from "+1 (514) 555-1234" or "0015145551234"; digits kept as they are when
    no country can be told (no + or 00 prefix)."""
    number = _PHONE_NOISE.sub("", number or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    return number


def past_recipients(facts: Facts) -> set[str]:
    """Addresses our outbound messages went to: the organization's, or for a personal rule the
    owner's own (the "you" of "you've emailed this address before")."""

    def compute() -> set[str]:
        messages = Message.objects.filter(
            organization_id=facts.conversation.organization_id, direction=Direction.OUTBOUND
        )
        if facts.rule is not None and facts.rule.owner_id:
            messages = messages.filter(Q(author_id=facts.rule.owner_id) | Q(account__owner_id=facts.rule.owner_id))
        if facts.message is not None:
            messages = messages.exclude(id=facts.message.id)
        found: set[str] = set()
        for to, cc, bcc in messages.values_list("to", "cc", "bcc").iterator():
            for entries in (to, cc, bcc):
                found.update(address.lower() for address, _ in _addresses(entries))
        return found

    return facts.cached("past_recipients", compute, message=True)


def _contact(op: str, facts: Facts, addresses: list[str], value: Any = None) -> bool:
    if op in ("is_past_recipient", "is_not_past_recipient"):
        known = past_recipients(facts)
        hit = any(address.lower() in known for address in addresses if address)
        return hit if op == "is_past_recipient" else not hit
    if op in CONTACT_RULE_OPERATORS:
        return contact_condition(op, facts.conversation.organization_id, addresses, value)
    raise UnsupportedCondition(f"The operator {op} cannot be evaluated.")


def _folded_once(key: str, read: Callable[[Facts], list[str]]) -> Callable[[Facts], list[str]]:
    """A field's values, folded once per message: a subject or sender is compared by many rules."""

    def values(facts: Facts) -> list[str]:
        store = facts.message_cache
        if key not in store:
            store[key] = [_fold(value) for value in read(facts)]
        return store[key]

    return values


def folded_addresses(name: str) -> Callable[[Facts], list[str]]:
    """The message's addresses in one field and their display names: an address matches on
    either."""
    return _folded_once(
        f"addresses:{name}", lambda facts: [part for pair in _message_addresses(facts, name) for part in pair if part]
    )


def address_field(name: str) -> Callable[[Facts, dict], bool]:
    values = folded_addresses(name)

    def evaluate(facts: Facts, item: dict) -> bool:
        op = item["op"]
        if is_text_operator(op):
            return text_test(op, item.get("value"))(values(facts))
        addresses = [address for address, _ in _message_addresses(facts, name)]
        return _contact(op, facts, addresses, item.get("value"))

    return evaluate


def phone_field(name: str) -> Callable[[Facts, dict], bool]:
    def evaluate(facts: Facts, item: dict) -> bool:
        message = facts.message
        if message is None:
            numbers = []
        elif name == "from_phone":
            numbers = [message.from_address]
        else:
            numbers = [address for address, _ in _addresses(message.to)]
        numbers = [e164(number) for number in numbers if number]
        op = item["op"]
        if is_text_operator(op):
            return text_matches(op, numbers, e164(str(item.get("value") or "")))
        return _contact(op, facts, numbers, item.get("value"))

    return evaluate


def body_text(message: Message) -> str:
    return message.body_text or html_to_text(message.body_html or "")


_QUOTE_START = re.compile(
    r"^(>|On .{0,200}wrote:\s*$|Le .{0,200}a écrit\s*:\s*$|-{2,}\s*Original Message\s*-{2,}|From: .+)",
    re.MULTILINE | re.IGNORECASE,
)


def without_quote(text: str) -> str:
    """The body up to the first quoted part (a "> " line, "On … wrote:", an original-message line)."""
    match = _QUOTE_START.search(text)
    return (text[: match.start()] if match else text).rstrip()


def raw_headers(message: Message) -> str:
    """The stored email's header block as text (empty when the original bytes were not kept)."""
    if not message.raw_file:
        return ""
    try:
        with message.raw_file.open("rb") as raw:
            head = raw.read(256 * 1024)
    except (OSError, ValueError):
        return ""
    end = re.search(rb"\r?\n\r?\n", head)
    return (head[: end.start()] if end else head).decode("utf-8", "replace")


def _content_values(facts: Facts, name: str) -> list[str]:
    message = facts.message
    if message is None:
        return []
    if name == "subject":
        return [message.subject]
    if name == "body":
        return [body_text(message)]
    if name == "body_without_quote":
        return [without_quote(body_text(message))]
    if name == "content":
        parts = [message.from_address, message.from_name]
        for entries in (message.to, message.cc, message.bcc):
            parts.extend(part for pair in _addresses(entries) for part in pair)
        parts += [message.subject, body_text(message)]
        return [" ".join(part for part in parts if part)]
    if name == "attachment_name":
        return list(message.attachments.values_list("filename", flat=True))
    if name == "headers":
        return [raw_headers(message)]
    raise KeyError(name)


def folded_content(name: str) -> Callable[[Facts], list[str]]:
    return _folded_once(f"content:{name}", lambda facts: _content_values(facts, name))


def content_field(name: str) -> Callable[[Facts, dict], bool]:
    values = folded_content(name)

    def evaluate(facts: Facts, item: dict) -> bool:
        return text_test(item["op"], item.get("value"))(values(facts))

    return evaluate


_AUTOMATED_HEADERS = re.compile(
    r"^(auto-submitted:\s*(?!no\b)\S|precedence:\s*(bulk|list|junk)|list-unsubscribe:|list-id:|"
    r"x-auto-response-suppress:|x-autoreply:|x-autorespond:)",
    re.IGNORECASE | re.MULTILINE,
)


def is_automated(message: Message) -> bool:
    """A newsletter, an autoresponder or auto-generated mail: the parser's flags, the headers the
    spec lists, or a mailer-daemon sender."""
    if message.is_auto_reply or message.is_bulk:
        return True
    local = message.from_address.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster") or local.startswith("mailer-daemon"):
        return True
    return bool(_AUTOMATED_HEADERS.search(raw_headers(message)))


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tracking = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and not self.tracking:
            self.tracking = is_tracking_image({name: value or "" for name, value in attrs})


def has_read_trackers(message: Message) -> bool:
    """The parser's flag, or the same detector over the HTML (outgoing messages are not parsed)."""
    if message.has_read_trackers:
        return True
    if "<img" not in (message.body_html or "").lower():
        return False
    images = _Images()
    images.feed(message.body_html)
    return images.tracking


def in_spam(facts: Facts) -> bool:
    """The message landed in the account's spam folder (or the team marked it as spam)."""
    conversation = facts.conversation
    if conversation.is_spam:
        return True
    account = facts.event.account
    owner_id = account.owner_id if account is not None else None
    states = ConversationState.objects.filter(conversation=conversation, location=Location.SPAM)
    if owner_id:
        states = states.filter(user_id=owner_id)
    return states.exists()


def message_bool(name: str) -> Callable[[Facts, dict], bool]:
    def evaluate(facts: Facts, item: dict) -> bool:
        message = facts.message
        if name == "spam":
            have = facts.cached("spam", lambda: in_spam(facts))
        elif message is None:
            have = False
        elif name == "automated":
            have = facts.cached("automated", lambda: is_automated(message), message=True)
        else:
            have = facts.cached("read_trackers", lambda: has_read_trackers(message), message=True)
        return bool_matches(item["op"], have, item.get("value"))

    return evaluate


def _ids(values: Any) -> set[str]:
    return {str(value) for value in values if value is not None}


def _conversation_values(facts: Facts, name: str) -> set[str]:
    conversation = facts.conversation
    event = facts.event
    if name == "sender":
        author = facts.message.author_id if facts.message else None
        return _ids([author or (event.acting_user.id if event.acting_user else None)])
    if name in ("email_account", "account"):
        account_id = event.account.id if event.account else (facts.message.account_id if facts.message else None)
        return _ids([account_id])
    if name == "assignee":
        return _ids(Assignment.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    if name == "team":
        return _ids([conversation.team_id])
    if name == "label":
        return _ids(ConversationLabel.objects.filter(conversation=conversation).values_list("label_id", flat=True))
    if name == "watching_user":
        return _ids(
            ConversationState.objects.filter(conversation=conversation, watching=True).values_list("user_id", flat=True)
        )
    if name == "out_of_office_user":
        people = set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        return _ids(away_among(conversation.organization_id, people))
    raise KeyError(name)


def value_field(name: str) -> Callable[[Facts, dict], bool]:
    def evaluate(facts: Facts, item: dict) -> bool:
        values = facts.cached(f"value:{name}", lambda: _conversation_values(facts, name))
        return value_matches(item["op"], values, item.get("value"))

    return evaluate


def _message_count(facts: Facts, item: dict) -> bool:
    # The conversation's own count, kept by delivery and sending (no query per rule).
    count = facts.conversation.message_count
    return number_matches(item["op"], count, item.get("value"))


def _state(facts: Facts, item: dict) -> bool:
    def compute() -> dict[str, bool]:
        conversation = facts.conversation
        conversation.refresh_from_db(fields=["status", "assigned", "in_team_inbox"])
        return {
            "assigned": conversation.assigned,
            "closed": conversation.status == Status.CLOSED,
            "team_inbox": conversation.in_team_inbox,
        }

    states = facts.cached("state", compute)
    have = states.get(str(item.get("value")), False)
    return have if item["op"] == "is" else not have


def _reception_time(facts: Facts, item: dict) -> bool:
    instant = facts.message.created_at if facts.message else facts.event.at
    return time_matches(item["op"], instant, item.get("value"))


def _trigger_time(facts: Facts, item: dict) -> bool:
    return time_matches(item["op"], facts.event.at, item.get("value"))


def _ai_prompt(facts: Facts, item: dict) -> bool:
    from rules import ai

    rule, message = facts.rule, facts.message
    if rule is None or message is None:
        return False
    prompt = str(item.get("prompt") or "")
    answer = facts.cached(f"ai:{prompt}", lambda: ai.answer(rule, message, prompt), message=True)
    if answer is None:
        return False
    return text_matches(item["op"], [answer.strip()], item.get("value"))


# User-action fields: read from the event's data.


def _label_names(facts: Facts, added: bool, with_parents: bool) -> list[str]:
    data = facts.event.data
    if data.get("added") is not added or not data.get("label_id"):
        return []
    names: list[str] = []
    label = Label.objects.filter(id=data["label_id"]).select_related("parent").first()
    while label is not None:
        names.append(label.name)
        label = label.parent if with_parents else None
    return names


def label_event_field(added: bool, with_parents: bool) -> Callable[[Facts, dict], bool]:
    def evaluate(facts: Facts, item: dict) -> bool:
        key = f"label_names:{added}:{with_parents}"
        names = facts.cached(key, lambda: _label_names(facts, added, with_parents), message=True)
        return text_matches(item["op"], names, item.get("value"))

    return evaluate


def event_value_field(key: str) -> Callable[[Facts, dict], bool]:
    def evaluate(facts: Facts, item: dict) -> bool:
        if key == "initiator":
            user = facts.event.acting_user
            values = _ids([user.id if user else None])
        else:
            raw = facts.event.data.get(key)
            values = _ids(raw if isinstance(raw, list | set | tuple) else [raw])
        return value_matches(item["op"], values, item.get("value"))

    return evaluate


def _is_task(facts: Facts, item: dict) -> bool:
    return bool_matches(item["op"], bool(facts.event.data.get("is_task")), item.get("value"))


def _comment_text(facts: Facts, item: dict) -> bool:
    text = facts.event.data.get("comment_text")
    return text_matches(item["op"], [text] if text else [], item.get("value"))


_ADDRESS_FIELDS = ("from", "to", "cc", "bcc", "reply_to", "any_recipient")
_CONTENT_FIELDS = ("subject", "body", "body_without_quote", "content", "attachment_name", "headers")
# The fields whose text conditions compare folded values (compile_item builds their test once).
FOLDED_TEXT: dict[str, Callable[[Facts], list[str]]] = {
    **{name: folded_addresses(name) for name in _ADDRESS_FIELDS},
    **{name: folded_content(name) for name in _CONTENT_FIELDS},
}

FIELDS: dict[str, Callable[[Facts, dict], bool]] = {
    **{name: address_field(name) for name in _ADDRESS_FIELDS},
    "from_phone": phone_field("from_phone"),
    "to_phone": phone_field("to_phone"),
    **{name: content_field(name) for name in _CONTENT_FIELDS},
    **{name: message_bool(name) for name in ("automated", "read_trackers", "spam")},
    **{
        name: value_field(name)
        for name in (
            "sender",
            "email_account",
            "account",
            "assignee",
            "team",
            "label",
            "watching_user",
            "out_of_office_user",
        )
    },
    "message_count": _message_count,
    "state": _state,
    "reception_time": _reception_time,
    "trigger_time": _trigger_time,
    "ai_prompt": _ai_prompt,
    "initiator": event_value_field("initiator"),
    "added_label": label_event_field(True, False),
    "removed_label": label_event_field(False, False),
    "added_label_or_parent": label_event_field(True, True),
    "removed_label_or_parent": label_event_field(False, True),
    "added_assignee": event_value_field("added_assignees"),
    "removed_assignee": event_value_field("removed_assignees"),
    "new_team": event_value_field("new_team"),
    "previous_team": event_value_field("previous_team"),
    "is_task": _is_task,
    "mention": event_value_field("mentions"),
    "comment_text": _comment_text,
}
# Every catalog field has an evaluator, checkpoints aside (the engine handles those).
assert set(FIELDS) | DELAY_FIELDS | SLA_FIELDS == set(CONDITIONS), set(CONDITIONS) - set(FIELDS)


# --- Groups ---------------------------------------------------------------------------------------


_CHECKPOINT_FIELDS = DELAY_FIELDS | SLA_FIELDS


def is_checkpoint(item: dict) -> bool:
    return item.get("field") in _CHECKPOINT_FIELDS


Predicate = Callable[[Facts], bool]


def compile_item(item: dict) -> Predicate:
    if "items" in item:
        return compile_group(item)
    values = FOLDED_TEXT.get(item.get("field") or "")
    if values is not None and is_text_operator(item.get("op") or ""):
        # The commonest conditions (subject, sender, body): value folded, operator resolved here.
        matches = text_test(item["op"], item.get("value"))
        return lambda facts: matches(values(facts))
    evaluate = FIELDS.get(item.get("field") or "")
    if evaluate is None:  # refused when reached, as an item evaluated in turn would be
        return lambda facts: FIELDS[item["field"]](facts, item)
    return lambda facts: evaluate(facts, item)


def compile_group(group: dict, items: list[dict] | None = None) -> Predicate:
    """all / any (at least one) / none of the items, nested groups included; checkpoints are
    skipped; a group with nothing to check matches. Built once per rule (the engine keeps it with
    the rule), it runs each message with no dispatch or filtering left to do."""
    children = tuple(
        compile_item(item) for item in (group.get("items") or [] if items is None else items) if not is_checkpoint(item)
    )
    if not children:
        return lambda facts: True
    mode = group.get("mode") or "all"
    if len(children) == 1 and mode != "none":
        return children[0]  # all or any of one item: that item
    if mode == "any":
        return lambda facts: any(child(facts) for child in children)
    if mode == "none":
        return lambda facts: not any(child(facts) for child in children)
    return lambda facts: all(child(facts) for child in children)


def item_matches(facts: Facts, item: dict) -> bool:
    return compile_item(item)(facts)


def group_matches(facts: Facts, group: dict, items: list[dict] | None = None) -> bool:
    return compile_group(group, items)(facts)
