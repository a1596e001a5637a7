"""Delay checkpoints and SLA timers, fired by the beat task with an explicit clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from conversations.actions import do_assign_conversation, do_close
from conversations.models import Direction, Message, Status
from rules import tasks
from rules.models import RuleRun, RuleTimer, RunStatus, TimerState
from rules.timers import fire_due_timers
from tests.factories import receive
from tests.rules.helpers import make_rule

pytestmark = pytest.mark.django_db


def later(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)


def delay_rule(cast, after: dict):
    return make_rule(
        cast.org,
        "delayed",
        conditions={
            "mode": "all",
            "items": [
                {"field": "subject", "op": "contains", "value": "help"},
                {"field": "delay", "seconds": 300},
                after,
            ],
        },
        actions=[{"type": "add_note", "text": "5 minutes later"}],
    )


def test_delay_checks_the_conditions_before_at_trigger_and_after_when_due(cast):
    delay_rule(cast, {"field": "state", "op": "is_not", "value": "closed"})
    ignored = receive(cast.support_account, subject="Hello")
    message = receive(cast.support_account, subject="Help me")
    assert not RuleRun.objects.filter(conversation=ignored.conversation).exists()
    run = RuleRun.objects.get()
    assert run.status == RunStatus.WAITING
    assert fire_due_timers(now=later(200)) == 0
    assert not message.conversation.comments.exists()
    assert fire_due_timers(now=later(301)) == 1
    assert message.conversation.comments.get().body == "5 minutes later"
    run.refresh_from_db()
    assert run.status == RunStatus.MATCHED
    assert fire_due_timers(now=later(900)) == 0  # fires once


def test_delay_conditions_after_it_see_the_state_when_due(cast):
    delay_rule(cast, {"field": "state", "op": "is_not", "value": "closed"})
    message = receive(cast.support_account, subject="Help me")
    do_close(message.conversation, acting_user=cast.owner)
    fire_due_timers(now=later(301))
    assert not message.conversation.comments.exists()
    assert RuleRun.objects.get().status == RunStatus.NOT_MATCHED


def sla_rule(cast, field: str):
    return make_rule(
        cast.org,
        f"{field} SLA",
        conditions={"mode": "all", "items": [{"field": field, "seconds": 3600}]},
        actions=[{"type": "add_note", "text": f"{field} alarm"}],
    )


def test_unreplied_fires_once_when_still_open_and_unreplied(cast):
    sla_rule(cast, "unreplied")
    message = receive(cast.support_account, subject="Q")
    timer = RuleTimer.objects.get()
    assert abs((timer.due_at - message.created_at).total_seconds() - 3600) < 1
    assert fire_due_timers(now=later(3601)) == 1
    assert message.conversation.comments.get().body == "unreplied alarm"
    assert fire_due_timers(now=later(7200)) == 0


def test_a_reply_cancels_the_unreplied_timer(cast):
    sla_rule(cast, "unreplied")
    message = receive(cast.support_account, subject="Q")
    Message.objects.create(
        organization=cast.org, conversation=message.conversation, direction=Direction.OUTBOUND, subject="Re: Q"
    )
    fire_due_timers(now=later(3601))
    assert not message.conversation.comments.exists()
    assert RuleRun.objects.get().status == RunStatus.CANCELLED


def test_an_assignment_cancels_the_unassigned_timer(cast, django_capture_on_commit_callbacks):
    sla_rule(cast, "unassigned")
    message = receive(cast.support_account, subject="Q")
    with django_capture_on_commit_callbacks(execute=True):
        do_assign_conversation(message.conversation, [cast.teammate], acting_user=cast.owner)
    assert RuleTimer.objects.get().state == TimerState.CANCELLED
    assert fire_due_timers(now=later(3601)) == 0
    assert not message.conversation.comments.filter(author=None).exists()


def test_a_closed_conversation_does_not_fire(cast):
    sla_rule(cast, "unassigned")
    message = receive(cast.support_account, subject="Q")
    do_close(message.conversation, acting_user=None)
    message.conversation.refresh_from_db()
    assert message.conversation.status == Status.CLOSED
    fire_due_timers(now=later(3601))
    assert not message.conversation.comments.exists()
    assert RuleRun.objects.get().status == RunStatus.CANCELLED


def test_the_beat_schedule_runs_the_timer_task():
    assert any(entry["task"] == tasks.fire_due_timers.name for entry in settings.CELERY_BEAT_SCHEDULE.values())
