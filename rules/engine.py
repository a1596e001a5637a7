"""Running rules: for one trigger, the enabled rules of its scope in the seed's order, each at most
once (RuleRun's unique (rule, trigger_key)), conditions against the current state, actions in
order.

Rule changes go through the conversation actions with no acting person (or, for a person's own
copy, that person), never through the user-action signals' "real user" path, so a rule's change
never fires user-action rules. The timeline events an action writes are then attributed to the
rule (`data["rule"]`, actor none): "Rule <description> archived the conversation".
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from conversations.attribution import rule_acting
from conversations.models import Conversation, ConversationEvent, ConversationState, Message
from inboxes.models import Account, User
from rules.catalog import ACTIONS, DELAY_FIELDS, SLA_FIELDS
from rules.conditions import Facts, Predicate, UnsupportedCondition, compile_group
from rules.hours import due_at
from rules.models import Rule, RuleRun, RuleTimer, RunStatus, TimerKind, Trigger

logger = logging.getLogger(__name__)


@dataclass
class TriggerEvent:
    """What happened: an incoming or outgoing message, or a user action on a conversation.

    `data` holds the user action's details: label_id + added, added_assignees / removed_assignees
    (user id lists), new_team / previous_team, comment_id, comment_text, is_task, mentions.
    `trigger_key` names the trigger for exactly-once (e.g. "msg:<message>:acct:<account>")."""

    kind: str
    conversation: Conversation
    trigger_key: str
    channel: str = "email"
    user_action: str = ""
    message: Message | None = None
    account: Account | None = None
    acting_user: User | None = None
    outbox: Any = None
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=timezone.now)
    # No rule can have run on this trigger yet (a message created in this very transaction):
    # the pass skips looking for earlier runs.
    fresh: bool = False


@dataclass
class PassResult:
    runs: list[RuleRun] = field(default_factory=list)
    stopped: bool = False


def record_event(conversation: Conversation, kind: str, *, rule: Rule, **data: Any) -> ConversationEvent:
    """A timeline event written by a rule: shown as "Rule <description> <what>"."""
    return ConversationEvent.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        actor=None,
        kind=kind,
        data={"rule": rule.description, **data},
    )


# --- Which rules ----------------------------------------------------------------------------------


def scope_q(conversation: Conversation, event: TriggerEvent) -> Q:
    """Organization rules on conversations shared with the organization (a team's, a shared
    account's, shared with people); personal rules on their owner's private conversations (the
    receiving account's owner, or whoever has the conversation)."""
    if conversation.is_shared or conversation.team_id:
        return Q(owner__isnull=True)
    if event.account is not None and event.kind != Trigger.USER_ACTION:
        return Q(owner_id=event.account.owner_id)
    owners = set(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    return Q(owner_id__in=owners)


def _version_key(organization_id: Any) -> str:
    return f"rules:version:{organization_id}"


# The rules of each organization and trigger, as last read by this process, with the version
# they were read at: a batch costs one cache read, not a query and 200 JSON parses.
_loaded: dict[tuple[str, str], tuple[str, list[Rule]]] = {}


def forget_rule_presence(organization_id: Any) -> None:
    """A rule was saved or deleted (rules.receivers): every process reads the rules again."""
    cache.set(_version_key(organization_id), uuid.uuid4().hex, timeout=None)


def enabled_rules(organization_id: Any, kind: str) -> list[Rule]:
    """The organization's enabled rules of one trigger, in order, read once for a whole batch
    and kept in this process until a Rule is saved or deleted (a new version in the cache), so
    that delivery to an organization without rules costs no query and with rules no reread."""
    version = cache.get(_version_key(organization_id))
    if version is None:
        version = uuid.uuid4().hex
        cache.set(_version_key(organization_id), version, timeout=None)
    key = (str(organization_id), kind)
    known = _loaded.get(key)
    if known is not None and known[0] == version:
        return known[1]
    rules = list(Rule.objects.filter(organization_id=organization_id, trigger=kind, enabled=True).in_order())
    _loaded[key] = (version, rules)
    return rules


# Each scope's share of a candidate list (keyed by the list's id, which the value's first item
# keeps alive): the next message of the same scope filters nothing.
_scoped: dict[tuple[int, Any, str, Any], tuple[list[Rule], list[Rule]]] = {}
_NOBODY = object()  # a private conversation reached through no account: no personal rule applies


def _scoped_candidates(candidates: list[Rule], event: TriggerEvent) -> list[Rule]:
    """Organization rules on shared and team conversations; on a private one, the personal rules
    of the receiving account's owner."""
    conversation = event.conversation
    if conversation.is_shared or conversation.team_id:
        owner: Any = None
    else:
        owner = event.account.owner_id if event.account is not None else _NOBODY
    key = (id(candidates), conversation.organization_id, event.channel, owner)
    known = _scoped.get(key)
    if known is not None and known[0] is candidates:
        return known[1]
    if len(_scoped) > 256:  # lists of rule versions gone by
        _scoped.clear()
    chosen = [
        rule
        for rule in candidates
        if rule.channel == event.channel
        and rule.organization_id == conversation.organization_id
        and rule.owner_id == owner
    ]
    _scoped[key] = (candidates, chosen)
    return chosen


def rules_for(event: TriggerEvent, candidates: list[Rule] | None = None) -> list[Rule]:
    """The rules the trigger runs. `candidates` (enabled_rules of its kind) saves the query for
    each message of a batch."""
    conversation = event.conversation
    if candidates is not None and event.kind != Trigger.USER_ACTION:
        return _scoped_candidates(candidates, event)
    rules = Rule.objects.filter(
        scope_q(conversation, event),
        organization_id=conversation.organization_id,
        trigger=event.kind,
        enabled=True,
    )
    if event.kind == Trigger.USER_ACTION:
        rules = rules.filter(user_action=event.user_action)
    else:
        rules = rules.filter(channel=event.channel)
    return list(rules.in_order())


# --- Running ----------------------------------------------------------------------------------------


def run_rules(event: TriggerEvent, candidates: list[Rule] | None = None) -> PassResult:
    """Run every rule of the trigger's scope and type, in order, until one says stop."""
    result = PassResult()
    rules = rules_for(event, candidates)
    if not rules:
        return result
    facts = Facts(event)
    # A retried trigger: the rules that already ran are known in one query (the unique
    # constraint still decides between two workers racing on the same trigger).
    done = (
        {} if event.fresh else dict(RuleRun.objects.filter(trigger_key=event.trigger_key).values_list("rule_id", "log"))
    )
    for rule in rules:
        if rule.id in done:
            if _has_stop(done[rule.id]):
                result.stopped = True
                break
            continue
        facts.rule = rule
        run, stop = run_rule(rule, facts)
        if run is not None:
            result.runs.append(run)
        if stop:
            result.stopped = True
            break
    # A fresh trigger's runs are new rows (run_rule): written together, in one statement.
    RuleRun.objects.bulk_create([run for run in result.runs if run._state.adding])
    return result


def _compiled(rule: Rule) -> tuple[list[dict], int | None, list[dict], Predicate]:
    """The root items, the position of a Delay checkpoint (None without), the SLA checkpoints, and
    the conditions to check now (those before the Delay). Built once per rule object: the engine
    keeps an organization's rules between messages."""
    if "_compiled" not in rule.__dict__:
        conditions = rule.conditions or {}
        items = list(conditions.get("items") or [])
        delay = next((i for i, item in enumerate(items) if item.get("field") in DELAY_FIELDS), None)
        slas = [item for item in items if item.get("field") in SLA_FIELDS]
        matches = compile_group(conditions, items[:delay] if delay is not None else items)
        rule.__dict__["_compiled"] = (items, delay, slas, matches)
    return rule.__dict__["_compiled"]


_CLAIM = """
    INSERT INTO {table} (id, organization_id, rule_id, trigger_key, conversation_id, message_id, status, log, error,
                         created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, '[]'::jsonb, %s, %s)
    ON CONFLICT (rule_id, trigger_key) DO NOTHING
    RETURNING id
"""


def _run_row(rule: Rule, facts: Facts, status: str, error: str = "") -> RuleRun:
    event = facts.event
    return RuleRun(
        organization_id=rule.organization_id,
        rule=rule,
        trigger_key=event.trigger_key,
        conversation=event.conversation,
        message=event.message,
        status=status,
        error=error,
        log=[],
    )


def _claim(rule: Rule, facts: Facts, status: str, error: str = "") -> RuleRun | None:
    """The run row, created once: None when this rule already ran on this trigger. One statement
    that cannot fail on the unique key (no savepoint): this runs for every matching rule."""
    run = _run_row(rule, facts, status, error)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM.format(table=RuleRun._meta.db_table),
            [
                run.id,
                run.organization_id,
                rule.id,
                run.trigger_key,
                run.conversation_id,
                run.message_id,
                status,
                error,
                run.created_at,
            ],
        )
        claimed = cursor.fetchone() is not None
    if not claimed:
        return None
    run._state.adding = False  # it is in the database: a save() updates it
    return run


def _has_stop(log: list[dict] | None) -> bool:
    return any(entry.get("type") == "stop" and entry.get("state") == "done" for entry in log or [])


def _already_stopped(rule: Rule, trigger_key: str) -> bool:
    log = RuleRun.objects.filter(rule=rule, trigger_key=trigger_key).values_list("log", flat=True).first()
    return _has_stop(log)


def run_rule(rule: Rule, facts: Facts) -> tuple[RuleRun | None, bool]:
    """Evaluate and apply one rule. Returns its run (None when it did not match or had already
    run) and whether later rules must not run. Only matching rules leave a run row: a pass over
    hundreds of rules writes only for those that act."""
    try:
        items, delay, slas, matches = _compiled(rule)
        if not matches(facts):
            return None, False
    except UnsupportedCondition as problem:
        return _claim(rule, facts, RunStatus.FAILED, error=str(problem)[:500]), False
    except Exception:  # a broken condition must not stop the other rules, nor the delivery
        logger.exception("Rule %s: evaluating its conditions failed", rule.id)
        return None, False
    if delay is not None or slas:
        run = _claim(rule, facts, RunStatus.WAITING)
        if run is None:
            return None, False
        _arm_timers(rule, run, facts, items, delay, slas)
        return run, False
    if facts.event.fresh:
        # No run can exist for a message this transaction created: the row is written once, with
        # its log, after the pass (run_rules), instead of claimed first and updated after.
        run = _run_row(rule, facts, RunStatus.MATCHED)
    else:
        claimed = _claim(rule, facts, RunStatus.MATCHED)
        if claimed is None:
            return None, _already_stopped(rule, facts.event.trigger_key)
        run = claimed
    stop = run_actions(rule, run, facts)
    return run, stop


def _arm_timers(rule: Rule, run: RuleRun, facts: Facts, items: list[dict], delay: int | None, slas: list[dict]) -> None:
    start = facts.event.at
    if delay is not None:
        seconds = int(items[delay].get("seconds") or 0)
        RuleTimer.objects.create(
            organization_id=rule.organization_id,
            run=run,
            kind=TimerKind.DELAY,
            due_at=due_at(rule, start, seconds),
            resume_at=delay + 1,
        )
        return
    for item in slas:
        RuleTimer.objects.create(
            organization_id=rule.organization_id,
            run=run,
            kind=item["field"],
            due_at=due_at(rule, start, int(item.get("seconds") or 0)),
        )


def run_actions(rule: Rule, run: RuleRun, facts: Facts) -> bool:
    """The rule's actions in order; returns whether a Stop ran. Network actions are logged as
    pending and run after commit by rules.tasks.run_network_actions (contract 1). A refused
    action is logged as failed and the next ones still run."""
    from rules import actions as handlers

    stop = False
    log: list[dict[str, Any]] = list(run.log or [])
    network = False
    for index, action in enumerate(rule.actions or []):
        kind = action.get("type", "")
        spec = ACTIONS.get(kind)
        if spec is None:
            log.append({"index": index, "type": kind, "state": "failed", "detail": "Unknown action."})
            continue
        if spec.network:
            log.append({"index": index, "type": kind, "state": "pending"})
            network = True
            continue
        if kind == "stop":
            stop = True
            log.append({"index": index, "type": kind, "state": "done"})
            continue
        try:
            with transaction.atomic(), rule_acting(rule.description):
                detail = handlers.apply(rule, run, facts, index, action)
            entry = {"index": index, "type": kind, "state": "done"}
            if detail:
                entry["detail"] = str(detail)[:300]
        except (ValidationError, PermissionDenied, ValueError, LookupError) as problem:
            message = " ".join(getattr(problem, "messages", None) or [str(problem)])
            entry = {"index": index, "type": kind, "state": "failed", "detail": message[:300]}
        log.append(entry)
        facts.forget(kind)
    run.log = log
    if facts.conversation.id != run.conversation_id:
        run.conversation = facts.conversation
    run.status = RunStatus.MATCHED
    if not run._state.adding:  # a new row is written at the end of the pass (run_rules)
        run.save(update_fields=["log", "status", "conversation"])
    if network:
        run_id = str(run.id)

        def queue() -> None:
            from rules.tasks import run_network_actions

            run_network_actions.delay(run_id)

        transaction.on_commit(queue)
    return stop
