"""The rules' non-network actions, each through the existing conversation actions.

`apply(rule, run, facts, index, action)` runs one action against `facts.conversation` (which
"Move email to new conversation" switches for the actions below it) and returns a short detail
for the run log, or raises ActionRefused / ValidationError (logged as failed; the next actions
still run). Changes that could fire user-action rules are made with no acting person. Actions
about one person's own copy (archive, star, read, ...) act as that person, and changes that the
conversation actions only allow to someone with access act through a stand-in with access; the
engine then attributes their timeline events to the rule.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from conversations import live
from conversations.actions import (
    ActionRefused,
    _grant_access,
    do_archive,
    do_assign_conversation,
    do_close,
    do_mark_not_spam,
    do_mark_spam,
    do_move_to_team,
    do_remove_access,
    do_set_starred,
    do_set_unread,
    do_set_watching,
    do_share_conversation,
    do_snooze,
    do_trash,
    do_unassign,
    do_unassign_team,
    do_unsnooze,
)
from conversations.activity import do_set_silenced
from conversations.canned import do_insert_response
from conversations.comment_format import format_comment
from conversations.counts import invalidate_counts_now_and_after_commit
from conversations.delivery import recipients_for_new_conversation
from conversations.drafts import do_start_draft
from conversations.labels import do_add_label, do_remove_label
from conversations.merge import do_merge_conversations, do_move_message_out
from conversations.models import (
    AccessSource,
    Assignment,
    CannedResponse,
    Comment,
    Conversation,
    ConversationState,
    Draft,
    DraftKind,
    Label,
    Location,
    OutboxStatus,
    Status,
    Subtask,
)
from conversations.out_of_office import away_among
from conversations.sending import clean_recipients, do_schedule_draft
from conversations.task_actions import do_create_subtask
from inboxes.models import Account, Membership, Team, TeamMembership, TeamRole, User
from missive.ids import is_uuid
from rules.actor import rule_actor
from rules.conditions import Facts
from rules.contact_rules import create_contacts as add_people
from rules.models import Rule, RuleRun

# --- Helpers ----------------------------------------------------------------------------------------


def _ids(value: Any) -> list[str]:
    if value in (None, "", "all"):
        return []
    values = value if isinstance(value, list | tuple) else [value]
    return [str(v) for v in values if is_uuid(str(v))]


def _resolved(rule: Rule, key: tuple, resolve: Callable[[], Any]) -> Any:
    """What an action's settings name (users, labels), read once per rule object. The engine keeps
    an organization's rule objects only until a rule, a label or a membership changes
    (rules.receivers), so this never outlives what it read."""
    memo: dict[tuple, Any] = rule.__dict__.setdefault("_resolved", {})
    if key not in memo:
        memo[key] = resolve()
    return memo[key]


def org_users(rule: Rule, value: Any) -> list[User]:
    """The users named by id, members of the rule's organization only, in the given order."""
    ids = _ids(value)

    def resolve() -> list[User]:
        found = {
            str(user.id): user
            for user in User.objects.filter(id__in=ids, memberships__organization_id=rule.organization_id)
        }
        return [found[i] for i in ids if i in found]

    return list(_resolved(rule, ("users", *ids), resolve))


def org_team(rule: Rule, value: Any) -> Team:
    team = Team.objects.filter(id=value, organization_id=rule.organization_id).first() if is_uuid(str(value)) else None
    if team is None:
        raise ActionRefused("That team does not exist in this organization.")
    return team


def with_access(conversation: Conversation, users: list[User]) -> list[User]:
    having = set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    return [user for user in users if user.id in having]


def stand_in(rule: Rule, facts: Facts) -> User:
    """Whom an action that needs a person with access acts through (rules.actor)."""
    return rule_actor(rule, facts.conversation, account=facts.event.account)


def _each(conversation: Conversation, users: list[User], do: Callable[[User], None]) -> str:
    done = [user for user in with_access(conversation, users)]
    for user in done:
        do(user)
    return ", ".join(user.display_name for user in done)


# --- Assignment -----------------------------------------------------------------------------------------


def delegated(account: Account | None) -> set:
    """Who has delegated access to the receiving account: whom delivery gives its conversations
    (the people and teams it is shared with, a team inbox's members), but its owner. A personal
    account has nobody."""
    if account is None or not account.is_shared:
        return set()
    return set(recipients_for_new_conversation(account)) - {account.owner_id}


def _filter(rule: Rule, facts: Facts, spec: Any) -> set:
    """The users one filter allows (an unknown filter: ActionRefused). Online means the app is
    open (live.online_users) and the person is not out of office; offline, every other member."""
    conversation, event = facts.conversation, facts.event
    name = spec.get("type") if isinstance(spec, dict) else str(spec)
    states = ConversationState.objects.filter(conversation=conversation)
    if name in ("not_assigned", "assigned"):
        assigned = set(Assignment.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        return {"not", *assigned} if name == "not_assigned" else assigned  # "not": everyone but these
    if name == "in_conversation":
        return set(states.values_list("user_id", flat=True))
    if name == "snoozed":
        return set(states.filter(location=Location.SNOOZED).values_list("user_id", flat=True))
    if name in ("team_active", "team_observers"):
        team = org_team(rule, spec.get("team") if isinstance(spec, dict) else None)
        role = TeamRole.ACTIVE if name == "team_active" else TeamRole.OBSERVER
        return set(TeamMembership.objects.filter(team=team, role=role).values_list("user_id", flat=True))
    if name == "watching":
        return set(states.filter(watching=True).values_list("user_id", flat=True))
    if name == "out_of_office":
        members = set(Membership.objects.filter(organization_id=rule.organization_id).values_list("user_id", flat=True))
        return set(away_among(rule.organization_id, members))
    if name in ("online", "offline"):
        members = set(Membership.objects.filter(organization_id=rule.organization_id).values_list("user_id", flat=True))
        # Someone out of office does not count as online, app open or not (seed, Live Chat FAQ).
        online = live.online_users(members) - set(away_among(rule.organization_id, members))
        return online if name == "online" else members - online
    if name == "account_owner":
        return {event.account.owner_id} if event.account else set()
    if name == "delegated":
        return delegated(event.account)
    if name == "mentioned":
        return {str(i) for i in event.data.get("mentions") or []}
    if name == "task_assignees":
        return {str(i) for i in event.data.get("task_assignees") or []}
    if name == "initiator":
        return {event.acting_user.id} if event.acting_user else set()
    if name == "added_assignees":
        return {str(i) for i in event.data.get("added_assignees") or []}
    if name == "removed_assignees":
        return {str(i) for i in event.data.get("removed_assignees") or []}
    raise ActionRefused(f"The {name} filter is not available.")


def candidates(rule: Rule, facts: Facts, action: dict) -> list[User]:
    users = org_users(rule, action.get("users"))
    filters = action.get("filters") or []
    for spec in filters if isinstance(filters, list) else [filters]:
        allowed = _filter(rule, facts, spec)
        if "not" in allowed:
            users = [u for u in users if u.id not in allowed and str(u.id) not in allowed]
        else:
            users = [u for u in users if u.id in allowed or str(u.id) in allowed]
    return users


# The action's cursor advanced, and the rule's cursors returned, in one statement: the row lock it
# takes orders two deliveries assigning with the same rule at once.
_ADVANCE_CURSOR = """
    UPDATE {table} SET turn_cursors = jsonb_set(
        COALESCE(turn_cursors, '{{}}'::jsonb),
        ARRAY[%(key)s],
        to_jsonb(COALESCE((turn_cursors ->> %(key)s)::int, 0) + 1)
    )
    WHERE id = %(rule)s
    RETURNING turn_cursors
"""


def _next_in_turn(rule: Rule, index: int, users: list[User]) -> User:
    """Round-robin: the rule's cursor for this action, locked and advanced."""
    with connection.cursor() as cursor:
        cursor.execute(_ADVANCE_CURSOR.format(table=Rule._meta.db_table), {"key": str(index), "rule": rule.id})
        row = cursor.fetchone()
    if row is None:
        raise ActionRefused("The rule no longer exists.")
    cursors = json.loads(row[0])  # Django's connection reads jsonb as text
    rule.turn_cursors = cursors
    return users[(int(cursors[str(index)]) - 1) % len(users)]


def _least_busy(rule: Rule, index: int, users: list[User]) -> User:
    """Fewest open assigned conversations in the organization; ties in turn."""
    counts = dict(
        Assignment.objects.filter(
            organization_id=rule.organization_id, user__in=users, conversation__status=Status.OPEN
        )
        .values_list("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )
    fewest = min(counts.get(user.id, 0) for user in users)
    return _next_in_turn(rule, index, [user for user in users if counts.get(user.id, 0) == fewest])


def assign_users(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    users = candidates(rule, facts, action)
    if not users:
        return "No user to assign."
    strategy = action.get("strategy") or "all"
    if strategy == "random":
        users = [random.choice(users)]
    elif strategy == "in_turn":
        users = [_next_in_turn(rule, index, users)]
    elif strategy == "least_busy":
        users = [_least_busy(rule, index, users)]
    do_assign_conversation(facts.conversation, users, acting_user=None)
    return ", ".join(user.display_name for user in users)


def assign_me(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    if rule.owner is None:
        raise ActionRefused("Assign to me is for personal rules.")
    do_assign_conversation(facts.conversation, [rule.owner], acting_user=None)
    return rule.owner.display_name


def assign_sender(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    message = facts.message
    author = message.author if message is not None else None
    if author is None:
        return "The sender is not a user."
    do_assign_conversation(facts.conversation, [author], acting_user=None)
    return author.display_name


def unassign_users(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    conversation = facts.conversation
    users = org_users(rule, action.get("users"))
    if not _ids(action.get("users")):  # empty or "all": every assignee
        users = [a.user for a in conversation.assignments.select_related("user")]
    for user in users:
        do_unassign(conversation, user, acting_user=None)
    return ", ".join(user.display_name for user in users)


def move_to_team(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    team = org_team(rule, action.get("team"))
    do_move_to_team(facts.conversation, team, acting_user=None)
    return str(team)


def unassign_team(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> None:
    do_unassign_team(facts.conversation, acting_user=None)


def add_to_inbox(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    """Into the users' own Inbox: access for those without, and moved there for the others."""
    conversation = facts.conversation
    users = org_users(rule, action.get("users"))
    ids = {user.id for user in users}
    _grant_access(conversation, ids, source=AccessSource.ADDED, in_inbox=True)
    ConversationState.objects.filter(conversation=conversation, user_id__in=ids).exclude(
        location__in=[Location.TRASHED, Location.SPAM]
    ).update(location=Location.INBOX, unread=True)
    invalidate_counts_now_and_after_commit(ids)
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=list(ids), kind="changed")
    return ", ".join(user.display_name for user in users)


def add_task(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    team = org_team(rule, action["team"]) if action.get("team") else None
    due = None
    if action.get("due_in"):
        due = (timezone.now() + timedelta(seconds=int(action["due_in"]))).date()
    task: Subtask = do_create_subtask(
        facts.conversation,
        acting_user=stand_in(rule, facts),
        title=str(action.get("title") or ""),
        assignees=org_users(rule, action.get("assignees")),
        team=team,
        due_date=due,
    )
    return task.title


# --- Labels, color, merge -------------------------------------------------------------------------------


def org_labels(rule: Rule, value: Any, *, create: bool) -> list[Label]:
    """Labels by id or by name (organization labels; a personal rule's own personal labels too).
    Names that do not exist are created as organization labels when `create`."""
    names = value if isinstance(value, list | tuple) else [value]
    entries = [text for text in (str(entry or "").strip() for entry in names) if text]
    return list(_resolved(rule, ("labels", create, *entries), lambda: _org_labels(rule, entries, create=create)))


def _org_labels(rule: Rule, entries: list[str], *, create: bool) -> list[Label]:
    labels: list[Label] = []
    usable = Label.objects.filter(organization_id=rule.organization_id).filter(
        Q(owner__isnull=True) | Q(owner_id=rule.owner_id) if rule.owner_id else Q(owner__isnull=True)
    )
    by_id = {label.id: label for label in usable.filter(id__in=[entry for entry in entries if is_uuid(entry)])}
    for entry in entries:
        label = by_id.get(uuid.UUID(entry)) if is_uuid(entry) else None
        if label is None and not is_uuid(entry):
            label = usable.filter(name__iexact=entry, parent__isnull=True).first()
            if label is None and create:
                label = Label.objects.create(organization_id=rule.organization_id, name=entry[:80])
        if label is not None:
            labels.append(label)
    return labels


def add_labels(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    labels = org_labels(rule, action.get("labels"), create=True)
    for label in labels:
        do_add_label(facts.conversation, label, acting_user=None)
    return ", ".join(label.name for label in labels)


def remove_labels(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    conversation = facts.conversation
    if _ids(action.get("labels")) or (action.get("labels") not in (None, "", "all", [])):
        labels = org_labels(rule, action.get("labels"), create=False)
    else:  # every label
        labels = list(conversation.labels.filter(owner__isnull=True))
    for label in labels:
        do_remove_label(conversation, label, acting_user=None)
    return ", ".join(label.name for label in labels)


def set_color(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    from conversations.actions import do_set_color

    color = str(action.get("color") or "")
    do_set_color(facts.conversation, color, acting_user=None)
    return color


def merge_into(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    target_id = str(action.get("conversation") or "")
    target = (
        Conversation.objects.filter(id=target_id, organization_id=rule.organization_id).first()
        if is_uuid(target_id)
        else None
    )
    if target is None:
        raise ActionRefused("The conversation to merge into does not exist.")
    facts.event.conversation = do_merge_conversations(facts.conversation, target, acting_user=None)
    return target.display_subject


# --- Communication --------------------------------------------------------------------------------------


def add_note(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> None:
    """A Markdown comment from the rule (no author, shown as "Rule <description>"): everyone with
    access sees it."""
    conversation = facts.conversation
    body = str(action.get("text") or "").strip()
    if not body:
        raise ActionRefused("The note is empty.")
    format_comment(body)  # checks it renders
    Comment.objects.create(
        organization_id=conversation.organization_id, conversation=conversation, body=body, by_rule=rule.description
    )
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    ConversationState.objects.filter(conversation=conversation).update(unread=True)
    invalidate_counts_now_and_after_commit(user_ids)
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=user_ids, kind="comment")


def _canned(rule: Rule, value: Any) -> CannedResponse | None:
    if not value:
        return None
    response = (
        CannedResponse.objects.filter(id=value, organization_id=rule.organization_id).first()
        if is_uuid(str(value))
        else None
    )
    if response is None:
        raise ActionRefused("That canned response does not exist.")
    return response


def _draft(rule: Rule, facts: Facts, action: dict, author: User) -> Draft:
    draft = do_start_draft(
        facts.conversation,
        acting_user=author,
        kind=DraftKind.REPLY,
        message_id=facts.message.id if facts.message else None,
    )
    response = _canned(rule, action.get("canned_response"))
    if response is not None:
        inserted = do_insert_response(draft, response, acting_user=author)
        body = inserted.html
    else:
        body = "".join(f"<p>{escape(line)}</p>" for line in str(action.get("text") or "").splitlines())
    draft.body_html = body + draft.body_html
    draft.save(update_fields=["body_html"])
    return draft


def create_draft(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    draft = _draft(rule, facts, action, stand_in(rule, facts))
    return str(draft.id)


def follow_up(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    """An automatic follow-up: a reply scheduled for later, discarded if someone replies."""
    author = facts.message.author if facts.message else None
    author = author or stand_in(rule, facts)
    draft = _draft(rule, facts, action, author)
    at = timezone.now() + timedelta(seconds=int(action.get("after") or 0))
    do_schedule_draft(draft, acting_user=author, at=at, discard_if_reply=True)
    return at.isoformat()


# --- State -----------------------------------------------------------------------------------------------


def close(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> None:
    do_close(facts.conversation, acting_user=None)


def _users_or_owner(rule: Rule, facts: Facts, action: dict) -> list[User]:
    users = org_users(rule, action.get("users"))
    return users or [stand_in(rule, facts)]


def archive(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    conversation = facts.conversation
    users = org_users(rule, action.get("users"))
    if not _ids(action.get("users")):  # everyone with access
        users = [s.user for s in ConversationState.objects.filter(conversation=conversation).select_related("user")]
    return _each(conversation, users, lambda u: do_archive(conversation, acting_user=u, close=False))


def archive_team(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    """Out of the team inbox: closed for the team, archived for its members."""
    conversation = facts.conversation
    team = org_team(rule, action.get("team"))
    if conversation.team_id != team.id:
        return "Not in that team inbox."
    members = list(User.objects.filter(team_memberships__team=team))
    return _each(conversation, members, lambda u: do_archive(conversation, acting_user=u, from_team_inbox=True))


def trash(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> None:
    """A personal rule trashes its owner's copy; an organization rule, everyone's (from the team
    inbox when the conversation has a team)."""
    conversation = facts.conversation
    if rule.owner_id:
        do_trash(conversation, acting_user=stand_in(rule, facts))
        return
    if conversation.team_id:
        do_trash(conversation, acting_user=stand_in(rule, facts), from_team_inbox=True)
        return
    states = ConversationState.objects.filter(conversation=conversation).exclude(location=Location.TRASHED)
    for state in states.select_related("user"):
        do_trash(conversation, acting_user=state.user)


def _until(value: Any) -> datetime:
    """An ISO instant, or a number of seconds from now."""
    text = str(value or "").strip()
    if text.lstrip("+").isdigit():
        return timezone.now() + timedelta(seconds=int(text.lstrip("+")))
    moment = datetime.fromisoformat(text)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def snooze(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    conversation = facts.conversation
    until = _until(action.get("until"))
    users = org_users(rule, action.get("users"))
    if not users:  # for everyone
        do_snooze(conversation, acting_user=stand_in(rule, facts), until=until, for_everyone=True)
        return until.isoformat()
    _each(conversation, users, lambda u: do_snooze(conversation, acting_user=u, until=until))
    return until.isoformat()


def discard_snooze(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    conversation = facts.conversation
    return _each(conversation, _users_or_owner(rule, facts, action), lambda u: do_unsnooze(conversation, acting_user=u))


def _per_user(do: Callable[[Conversation, User], None]) -> Callable[..., str]:
    def handler(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
        conversation = facts.conversation
        return _each(conversation, _users_or_owner(rule, facts, action), lambda u: do(conversation, u))

    return handler


def share(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    users = org_users(rule, action.get("users"))
    do_share_conversation(facts.conversation, acting_user=stand_in(rule, facts), users=users, show_in_inbox=True)
    return ", ".join(user.display_name for user in users)


def remove_users(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    conversation = facts.conversation
    actor = stand_in(rule, facts)
    users = org_users(rule, action.get("users"))
    for user in users:
        do_remove_access(conversation, user, acting_user=actor)
    return ", ".join(user.display_name for user in users)


def mark_spam(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> None:
    conversation = facts.conversation
    do_mark_spam(conversation, acting_user=stand_in(rule, facts), from_team_inbox=bool(conversation.team_id))


def mark_not_spam(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> None:
    do_mark_not_spam(facts.conversation, acting_user=stand_in(rule, facts))


# --- Outgoing messages ---------------------------------------------------------------------------------


def prevent_delivery(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    """The outbox row is not sent; the message stays, marked not delivered (blocked by rule)."""
    outbox = facts.event.outbox
    if outbox is None:
        raise ActionRefused("Only an outgoing message can be stopped.")
    reason = f"Not delivered (blocked by rule {rule.description})"
    type(outbox).objects.filter(id=outbox.id, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.CANCELLED, last_error=reason
    )
    outbox.status, outbox.last_error = OutboxStatus.CANCELLED, reason
    return reason


def add_recipients(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    message = facts.message
    if message is None or facts.event.outbox is None:
        raise ActionRefused("Recipients are added to outgoing messages only.")
    name = str(action.get("field")) if action.get("field") in ("to", "cc", "bcc") else "cc"
    raw = action.get("addresses") or []
    entries = [a.strip() for a in (raw.split(",") if isinstance(raw, str) else raw) if str(a).strip()]
    added = clean_recipients([{"name": "", "address": a} for a in entries])
    current = list(getattr(message, name) or [])
    known = {entry.get("address", "").lower() for entry in current}
    current += [entry for entry in added if entry["address"].lower() not in known]
    setattr(message, name, current)
    message.save(update_fields=[name])
    return ", ".join(entry["address"] for entry in added)


def move_to_new_conversation(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    """The triggering email becomes its own conversation; the actions below act on that one."""
    if facts.message is None:
        raise ActionRefused("There is no email to move.")
    new = do_move_message_out(facts.message, acting_user=stand_in(rule, facts), shared=True)
    facts.event.conversation = new
    facts.message.conversation = new
    return str(new.id)


def notify(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> Any:
    """An Activity feed item with the rule's text for the chosen users who can see the conversation."""
    from rules.network import notify as network_notify

    count = network_notify(rule, facts.conversation, action.get("users", []), action.get("text", ""))
    return f"Notified {count} user(s)"


def create_contacts(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> str:
    return add_people(
        organization_id=rule.organization_id,
        owner=rule.owner,
        message=facts.message,
        book_id=action.get("contact_book"),
    )


HANDLERS: dict[str, Callable[[Rule, RuleRun, Facts, int, dict], Any]] = {
    "assign_me": assign_me,
    "assign_users": assign_users,
    "assign_sender": assign_sender,
    "unassign_users": unassign_users,
    "move_to_team": move_to_team,
    "unassign_team": unassign_team,
    "add_to_inbox": add_to_inbox,
    "add_task": add_task,
    "add_labels": add_labels,
    "remove_labels": remove_labels,
    "set_color": set_color,
    "merge_into": merge_into,
    "add_note": add_note,
    "create_draft": create_draft,
    "follow_up": follow_up,
    "notify": notify,
    "close": close,
    "archive": archive,
    "archive_team": archive_team,
    "trash": trash,
    "snooze": snooze,
    "discard_snooze": discard_snooze,
    "mark_read": _per_user(lambda c, u: do_set_unread(c, acting_user=u, unread=False)),
    "mark_unread": _per_user(lambda c, u: do_set_unread(c, acting_user=u, unread=True)),
    "star": _per_user(lambda c, u: do_set_starred(c, acting_user=u, starred=True)),
    "unstar": _per_user(lambda c, u: do_set_starred(c, acting_user=u, starred=False)),
    "watch": _per_user(lambda c, u: do_set_watching(c, acting_user=u, watching=True)),
    "stop_watching": _per_user(lambda c, u: do_set_watching(c, acting_user=u, watching=False)),
    "silence": _per_user(lambda c, u: do_set_silenced(c, acting_user=u, silenced=True)),
    "create_contacts": create_contacts,
    "share": share,
    "remove_users": remove_users,
    "mark_spam": mark_spam,
    "mark_not_spam": mark_not_spam,
    "prevent_delivery": prevent_delivery,
    "add_recipients": add_recipients,
    "move_to_new_conversation": move_to_new_conversation,
}


def apply(rule: Rule, run: RuleRun, facts: Facts, index: int, action: dict) -> Any:
    handler = HANDLERS.get(action.get("type", ""))
    if handler is None:
        raise ActionRefused("This action cannot run here.")
    return handler(rule, run, facts, index, action)
