"""What a rule may contain: every condition field and action type of the seed, the operators and
values each takes, and the rule types (trigger, channel, scope) that allow it. The editor offers
only what is allowed; `rules.validation` refuses the rest; the engine runs it.

Value kinds: "text" (a string), "number", "bool", "user", "users", "team", "label", "labels",
"account", "state" (assigned / closed / team_inbox), "hours" (weekly intervals + time zone), "instant"
(UTC ISO time), "duration" (seconds), "contact_group" / "contact_company" / "contact_book" (ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.models import Channel, Trigger, UserAction

TEXT_OPERATORS = (
    "is",
    "is_not",
    "contains",
    "does_not_contain",
    "starts_with",
    "does_not_start_with",
    "ends_with",
    "does_not_end_with",
)
NEGATIVE_TEXT_OPERATORS = frozenset({"is_not", "does_not_contain", "does_not_start_with", "does_not_end_with"})
CONTACT_OPERATORS = (
    "in_contact_group",
    "not_in_contact_group",
    "in_contact_company",
    "not_in_contact_company",
    "in_contact_book",
    "not_in_contact_book",
    "in_contacts",
    "not_in_contacts",
    "is_past_recipient",
    "is_not_past_recipient",
)
VALUE_OPERATORS = ("is", "is_not", "is_present", "is_blank")
NUMBER_OPERATORS = ("is", "is_not", "is_lower_than", "is_greater_than")
BOOL_OPERATORS = ("is", "is_not")
TIME_OPERATORS = ("is_within", "is_not_within", "is_before", "is_after")

OPERATOR_LABELS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "does_not_contain": "does not contain",
    "starts_with": "starts with",
    "does_not_start_with": "does not start with",
    "ends_with": "ends with",
    "does_not_end_with": "does not end with",
    "in_contact_group": "in contact group",
    "not_in_contact_group": "not in contact group",
    "in_contact_company": "in contact company",
    "not_in_contact_company": "not in contact company",
    "in_contact_book": "in contact book",
    "not_in_contact_book": "not in contact book",
    "in_contacts": "in contacts",
    "not_in_contacts": "not in contacts",
    "is_past_recipient": "is a past recipient",
    "is_not_past_recipient": "is not a past recipient",
    "is_present": "is present",
    "is_blank": "is blank",
    "is_lower_than": "is lower than",
    "is_greater_than": "is greater than",
    "is_within": "is within",
    "is_not_within": "is not within",
    "is_before": "is before",
    "is_after": "is after",
}

ALL_TRIGGERS = frozenset(Trigger.values)
MESSAGE_TRIGGERS = frozenset({Trigger.INCOMING, Trigger.OUTGOING})
EMAIL_ONLY = frozenset({Channel.EMAIL})
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})
ALL_CHANNELS = frozenset(Channel.values)
# Post is an incoming channel only.
OUTGOING_CHANNELS = ALL_CHANNELS - {Channel.POST}


@dataclass(frozen=True)
class ConditionField:
    name: str
    label: str
    operators: tuple[str, ...]
    value: str
    triggers: frozenset[str] = ALL_TRIGGERS
    channels: frozenset[str] = ALL_CHANNELS
    # User-action rules: the events it applies to (empty: all six).
    user_actions: frozenset[str] = frozenset()
    group: str = "Conversation"


def _address(name: str, label: str) -> ConditionField:
    return ConditionField(
        name, label, TEXT_OPERATORS + CONTACT_OPERATORS, "text", MESSAGE_TRIGGERS, EMAIL_ONLY, group="Message"
    )


def _content(name: str, label: str, channels: frozenset[str] = ALL_CHANNELS) -> ConditionField:
    return ConditionField(name, label, TEXT_OPERATORS, "text", MESSAGE_TRIGGERS, channels, group="Message")


def _action_event(name: str, label: str, operators: tuple[str, ...], value: str, *events: str) -> ConditionField:
    return ConditionField(
        name, label, operators, value, frozenset({Trigger.USER_ACTION}), user_actions=frozenset(events), group="Action"
    )


CONDITIONS: dict[str, ConditionField] = {
    c.name: c
    for c in (
        # Message: addresses (email), phone numbers (SMS/WhatsApp), content, properties.
        _address("from", "From"),
        _address("to", "To"),
        _address("cc", "Cc"),
        _address("bcc", "Bcc"),
        _address("reply_to", "Reply-To"),
        _address("any_recipient", "To / Cc / Bcc"),
        ConditionField(
            "from_phone",
            "From (phone)",
            TEXT_OPERATORS + CONTACT_OPERATORS,
            "text",
            MESSAGE_TRIGGERS,
            PHONE_CHANNELS,
            group="Message",
        ),
        ConditionField(
            "to_phone",
            "To (phone)",
            TEXT_OPERATORS + CONTACT_OPERATORS,
            "text",
            MESSAGE_TRIGGERS,
            PHONE_CHANNELS,
            group="Message",
        ),
        _content("subject", "Subject", EMAIL_ONLY),
        _content("body", "Message body"),
        _content("body_without_quote", "Message body (without quote)"),
        _content("content", "Message content"),
        _content("attachment_name", "Attachment name"),
        _content("headers", "Headers", EMAIL_ONLY),
        ConditionField("automated", "Automated?", BOOL_OPERATORS, "bool", MESSAGE_TRIGGERS, group="Message"),
        ConditionField(
            "read_trackers", "Read trackers?", BOOL_OPERATORS, "bool", MESSAGE_TRIGGERS, EMAIL_ONLY, group="Message"
        ),
        ConditionField(
            "spam", "Spam?", BOOL_OPERATORS, "bool", frozenset({Trigger.INCOMING}), EMAIL_ONLY, group="Message"
        ),
        ConditionField(
            "sender",
            "Sender",
            VALUE_OPERATORS[:2],
            "user",
            frozenset({Trigger.OUTGOING}),
            OUTGOING_CHANNELS,
            group="Message",
        ),
        # Conversation.
        ConditionField("email_account", "Email account", VALUE_OPERATORS[:2], "account", channels=EMAIL_ONLY),
        ConditionField("account", "Account", VALUE_OPERATORS[:2], "account", channels=ALL_CHANNELS - EMAIL_ONLY),
        ConditionField("assignee", "Assignee", VALUE_OPERATORS, "user"),
        ConditionField("team", "Team", VALUE_OPERATORS, "team"),
        ConditionField("label", "Label", VALUE_OPERATORS, "label"),
        ConditionField("message_count", "Number of messages", NUMBER_OPERATORS, "number"),
        ConditionField("watching_user", "Watching user", VALUE_OPERATORS, "user"),
        ConditionField("out_of_office_user", "Out of office user", VALUE_OPERATORS, "user"),
        ConditionField("state", "Conversation state", BOOL_OPERATORS, "state"),
        # Time.
        ConditionField(
            "reception_time", "Reception time", TIME_OPERATORS, "hours", frozenset({Trigger.INCOMING}), group="Time"
        ),
        ConditionField(
            "trigger_time", "Rule trigger time", TIME_OPERATORS, "hours", frozenset({Trigger.USER_ACTION}), group="Time"
        ),
        ConditionField("delay", "Delay", (), "duration", group="Time"),
        ConditionField(
            "unreplied", "Unreplied and open after", (), "duration", frozenset({Trigger.INCOMING}), group="Time"
        ),
        ConditionField(
            "unassigned", "Unassigned and open after", (), "duration", frozenset({Trigger.INCOMING}), group="Time"
        ),
        # AI.
        ConditionField("ai_prompt", "Prompt (AI)", TEXT_OPERATORS, "text", MESSAGE_TRIGGERS, group="AI"),
        # User actions.
        _action_event("initiator", "Action initiator", VALUE_OPERATORS[:2], "user"),
        _action_event("added_label", "Added label name", TEXT_OPERATORS, "text", UserAction.LABEL_CHANGE),
        _action_event("removed_label", "Removed label name", TEXT_OPERATORS, "text", UserAction.LABEL_CHANGE),
        _action_event(
            "added_label_or_parent",
            "Added label name (or parent name)",
            TEXT_OPERATORS,
            "text",
            UserAction.LABEL_CHANGE,
        ),
        _action_event(
            "removed_label_or_parent",
            "Removed label name (or parent name)",
            TEXT_OPERATORS,
            "text",
            UserAction.LABEL_CHANGE,
        ),
        _action_event("added_assignee", "Added assignee", VALUE_OPERATORS[:2], "user", UserAction.ASSIGNEE_CHANGED),
        _action_event("removed_assignee", "Removed assignee", VALUE_OPERATORS[:2], "user", UserAction.ASSIGNEE_CHANGED),
        _action_event("new_team", "New team", VALUE_OPERATORS[:2], "team", UserAction.TEAM_CHANGED),
        _action_event("previous_team", "Previous team", VALUE_OPERATORS[:2], "team", UserAction.TEAM_CHANGED),
        _action_event("is_task", "Is a task", BOOL_OPERATORS, "bool", UserAction.NEW_COMMENT),
        _action_event("mention", "Mention", VALUE_OPERATORS[:2], "user", UserAction.NEW_COMMENT),
        _action_event("comment_text", "Comment text", TEXT_OPERATORS, "text", UserAction.NEW_COMMENT),
    )
}

# Checkpoints that stand alone in the root group (no operator) and change when actions run.
DELAY_FIELDS = frozenset({"delay"})
SLA_FIELDS = frozenset({"unreplied", "unassigned"})


@dataclass(frozen=True)
class ActionType:
    name: str
    label: str
    # Parameter name -> value kind (see the module docstring), all required unless in `optional`.
    params: dict[str, str] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    triggers: frozenset[str] = ALL_TRIGGERS
    channels: frozenset[str] = ALL_CHANNELS
    personal_only: bool = False
    organization_only: bool = False
    # Calls the network (webhook, AI, sending): run after the rule pass's commit, never inside it.
    network: bool = False
    group: str = "Conversation"


ASSIGN_STRATEGIES = ("all", "random", "in_turn", "least_busy")
ASSIGN_FILTERS = (
    "in_conversation",
    "not_assigned",
    "assigned",
    "snoozed",
    "team_active",
    "team_observers",
    "watching",
    "out_of_office",
    "online",
    "offline",
    "account_owner",
    "delegated",
    "mentioned",
    "task_assignees",
    "initiator",
    "added_assignees",
    "removed_assignees",
)

ACTIONS: dict[str, ActionType] = {
    a.name: a
    for a in (
        # Assignment & routing.
        ActionType("assign_me", "Assign to me", personal_only=True, group="Assignment"),
        ActionType(
            "assign_users",
            "Assign user(s)",
            {"users": "users", "strategy": "text", "filters": "text"},
            optional=frozenset({"filters"}),
            group="Assignment",
        ),
        ActionType("assign_sender", "Assign sender", group="Assignment"),
        ActionType("unassign_users", "Unassign user(s)", {"users": "users"}, group="Assignment"),
        ActionType("move_to_team", "Move to team inbox", {"team": "team"}, organization_only=True, group="Assignment"),
        ActionType("unassign_team", "Unassign team", organization_only=True, group="Assignment"),
        ActionType("add_to_inbox", "Add to user Inbox", {"users": "users"}, group="Assignment"),
        ActionType(
            "add_task",
            "Add task",
            {"title": "text", "assignees": "users", "due_in": "duration", "team": "team"},
            optional=frozenset({"assignees", "due_in", "team"}),
            group="Assignment",
        ),
        # Labels & organization.
        ActionType("add_labels", "Add label(s)", {"labels": "labels"}, group="Labels"),
        ActionType("remove_labels", "Remove label(s)", {"labels": "labels"}, group="Labels"),
        ActionType("set_color", "Set conversation color", {"color": "text"}, group="Labels"),
        ActionType("merge_into", "Merge in conversation", {"conversation": "text"}, group="Labels"),
        # Communication.
        ActionType("add_note", "Add note", {"text": "text"}, group="Communication"),
        ActionType(
            "create_draft",
            "Create draft",
            {"canned_response": "text", "text": "text"},
            optional=frozenset({"canned_response", "text"}),
            group="Communication",
        ),
        ActionType(
            "send_response",
            "Send response",
            {"canned_response": "text", "at_most_every": "duration"},
            optional=frozenset({"at_most_every"}),
            network=True,
            group="Communication",
        ),
        ActionType(
            "follow_up",
            "Schedule auto follow-up",
            {"canned_response": "text", "after": "duration"},
            triggers=frozenset({Trigger.OUTGOING}),
            group="Communication",
        ),
        ActionType(
            "forward", "Forward message", {"address": "text"}, channels=EMAIL_ONLY, network=True, group="Communication"
        ),
        ActionType("notify", "Notify", {"users": "users", "text": "text"}, group="Communication"),
        ActionType("webhook", "Webhook", {"url": "text"}, network=True, group="Communication"),
        # Conversation state.
        ActionType("close", "Close", group="State"),
        ActionType("archive", "Archive", {"users": "users"}, group="State"),
        ActionType(
            "archive_team", "Archive (from team inbox)", {"team": "team"}, organization_only=True, group="State"
        ),
        ActionType("trash", "Trash", group="State"),
        ActionType(
            "snooze", "Snooze", {"until": "text", "users": "users"}, optional=frozenset({"users"}), group="State"
        ),
        ActionType("discard_snooze", "Discard snooze", {"users": "users"}, group="State"),
        ActionType("mark_read", "Mark messages as read", {"users": "users"}, group="State"),
        ActionType("mark_unread", "Mark messages as unread", {"users": "users"}, group="State"),
        ActionType("star", "Star", {"users": "users"}, group="State"),
        ActionType("unstar", "Unstar", {"users": "users"}, group="State"),
        ActionType("watch", "Watch", {"users": "users"}, group="State"),
        ActionType("stop_watching", "Stop watching", {"users": "users"}, group="State"),
        ActionType("silence", "Silence notifications", {"users": "users"}, group="State"),
        # Contacts & sharing.
        ActionType("create_contacts", "Create contact(s)", {"contact_book": "contact_book"}, group="Contacts"),
        ActionType("share", "Share with teammates", {"users": "users"}, organization_only=True, group="Contacts"),
        ActionType("remove_users", "Remove user(s) from conversation", {"users": "users"}, group="Contacts"),
        # Email-specific.
        ActionType(
            "add_recipients",
            "Add recipient(s)",
            {"field": "text", "addresses": "text"},
            triggers=frozenset({Trigger.OUTGOING}),
            channels=EMAIL_ONLY,
            group="Email",
        ),
        ActionType("move_to_new_conversation", "Move email to new conversation", channels=EMAIL_ONLY, group="Email"),
        ActionType("mark_spam", "Mark as spam", channels=EMAIL_ONLY, group="Email"),
        ActionType("mark_not_spam", "Mark as not spam", channels=EMAIL_ONLY, group="Email"),
        ActionType("unsubscribe", "Unsubscribe from mailing list", channels=EMAIL_ONLY, network=True, group="Email"),
        ActionType(
            "prevent_delivery", "Prevent message delivery", triggers=frozenset({Trigger.OUTGOING}), group="Email"
        ),
        # AI.
        ActionType("ai_note", "Add AI note", {"prompt": "text"}, network=True, group="AI"),
        ActionType("ai_draft", "Create draft with AI", {"prompt": "text"}, network=True, group="AI"),
        ActionType("ai_tasks", "Add tasks with AI", {"prompt": "text"}, network=True, group="AI"),
        ActionType(
            "ai_labels", "Add label(s) with AI", {"prompt": "text", "labels": "labels"}, network=True, group="AI"
        ),
        # Control flow.
        ActionType("stop", "Stop processing more rules", group="Control"),
    )
}


def conditions_for(trigger: str, channel: str, user_action: str = "") -> list[ConditionField]:
    """The condition fields a rule of this type may use, in the editor's order."""
    return [
        c
        for c in CONDITIONS.values()
        if trigger in c.triggers
        and (trigger == Trigger.USER_ACTION or channel in c.channels)
        and (not c.user_actions or user_action in c.user_actions)
    ]


def actions_for(trigger: str, channel: str, *, personal: bool) -> list[ActionType]:
    """The action types a rule of this type and scope may use."""
    return [
        a
        for a in ACTIONS.values()
        if trigger in a.triggers
        and (trigger == Trigger.USER_ACTION or channel in a.channels)
        and not (personal and a.organization_only)
        and not (not personal and a.personal_only)
    ]
