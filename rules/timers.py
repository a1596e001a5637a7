"""Rules that wait: a Delay checkpoint resumes the conditions after it when due; an SLA timer
("Unreplied / Unassigned and open after") runs the actions once if, when due, the conversation
is still open and unreplied (or unassigned), and is cancelled otherwise.

Timers are armed by the engine at trigger time (their due time counted in wall-clock time or in
the rule's business hours, rules.hours). The beat task claims due rows with SKIP LOCKED, each in a
transaction of its own, so several workers share them and each fires once. A reply or an
assignment also cancels the matching SLA timers at once (`cancel_sla`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from conversations.models import Assignment, Conversation, Direction, Message, Status
from rules.conditions import Facts, group_matches
from rules.engine import TriggerEvent, _arm_timers, _compiled, run_actions
from rules.models import RuleRun, RuleTimer, RunStatus, TimerKind, TimerState


def _event(run: RuleRun, now: datetime) -> TriggerEvent | None:
    conversation = run.conversation
    if conversation is None:
        return None
    message = run.message
    return TriggerEvent(
        kind=run.rule.trigger,
        conversation=conversation,
        message=message,
        account=message.account if message is not None else None,
        trigger_key=run.trigger_key,
        channel=run.rule.channel,
        user_action=run.rule.user_action,
        at=now,
    )


def _end(run: RuleRun, status: str, timers_state: str = TimerState.CANCELLED) -> None:
    run.status = status
    run.save(update_fields=["status"])
    RuleTimer.objects.filter(run=run, state=TimerState.PENDING).update(state=timers_state)


def sla_holds(kind: str, conversation: Conversation, since: datetime | None) -> bool:
    """Still open, and still unreplied (no outgoing message after the trigger) or unassigned."""
    if conversation.status != Status.OPEN:
        return False
    if kind == TimerKind.UNASSIGNED:
        return not Assignment.objects.filter(conversation=conversation).exists()
    replies = Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND)
    if since is not None:
        replies = replies.filter(created_at__gt=since)
    return not replies.exists()


def fire(timer: RuleTimer, now: datetime) -> str:
    """Fire one claimed timer; returns what happened ("ran", "not_matched", "cancelled", "waiting")."""
    run = (
        RuleRun.objects.select_for_update(of=("self",))
        .select_related("rule", "conversation", "message__account")
        .get(id=timer.run_id)
    )
    rule = run.rule
    timer.state = TimerState.DONE
    timer.save(update_fields=["state"])
    event = _event(run, now)
    if event is None or not rule.enabled or run.status != RunStatus.WAITING:
        _end(run, RunStatus.CANCELLED if run.status == RunStatus.WAITING else run.status)
        return "cancelled"
    facts = Facts(event, rule=rule, now=now)
    if timer.kind == TimerKind.DELAY:
        items, _, _, _ = _compiled(rule)
        rest = items[timer.resume_at :]
        later = next((i for i, item in enumerate(rest) if item.get("field") == "delay"), None)
        checked = rest if later is None else rest[:later]
        if not group_matches(facts, rule.conditions or {}, checked):
            _end(run, RunStatus.NOT_MATCHED)
            return "not_matched"
        if later is not None:  # another checkpoint: wait again
            _arm_timers(rule, run, facts, items, timer.resume_at + later, [])
            return "waiting"
    else:
        since = run.message.created_at if run.message is not None else run.created_at
        if not sla_holds(timer.kind, event.conversation, since):
            _end(run, RunStatus.CANCELLED)
            return "cancelled"
        if RuleTimer.objects.filter(run=run, state=TimerState.PENDING).exists():
            return "waiting"  # the rule's other SLA timer decides
    run_actions(rule, run, facts)
    return "ran"


def fire_due_timers(*, now: datetime | None = None, limit: int = 200) -> int:
    """Beat: fire the due timers, each in its own transaction; returns how many fired."""
    now = now or timezone.now()
    fired = 0
    for _ in range(limit):
        with transaction.atomic():
            timer = (
                RuleTimer.objects.select_for_update(skip_locked=True)
                .filter(state=TimerState.PENDING, due_at__lte=now)
                .order_by("due_at")
                .first()
            )
            if timer is None:
                break
            fire(timer, now)
            fired += 1
    return fired


def cancel_sla(conversation_id: UUID | str, kind: str) -> int:
    """A reply (unreplied) or an assignment (unassigned) came: those timers will not fire."""
    runs = RuleTimer.objects.filter(
        state=TimerState.PENDING, kind=kind, run__conversation_id=conversation_id
    ).values_list("run_id", flat=True)
    run_ids = list(runs)
    if not run_ids:
        return 0
    RuleRun.objects.filter(id__in=run_ids, status=RunStatus.WAITING).update(status=RunStatus.CANCELLED)
    return RuleTimer.objects.filter(run_id__in=run_ids, state=TimerState.PENDING).update(state=TimerState.CANCELLED)
