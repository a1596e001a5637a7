"""Celery tasks: one more thin interface to the actions."""

from __future__ import annotations

from celery import shared_task

from conversations import activity, auto_reply, search_index
from conversations.actions import do_wake_due_snoozes
from conversations.sending import do_send_due_drafts
from conversations.task_actions import do_remind_due_tasks


@shared_task(ignore_result=True)
def wake_due_snoozes() -> int:
    """Beat, every 30 seconds. No retry: a missed run is made up by the next one, which picks up
    every snooze that is due by then."""
    return do_wake_due_snoozes()


@shared_task(ignore_result=True)
def index_search_backlog() -> int:
    """After each change that search reads, and from beat every minute (which catches a kick
    lost with a broker restart). Several running at once share the backlog."""
    search_index.take_kick_mark()
    return search_index.index_backlog()


@shared_task(ignore_result=True)
def delete_old_activity() -> int:
    """Beat, every hour: Activity feed items past their 30 days go. A missed run is made up by
    the next one."""
    return activity.do_delete_old_activity()


@shared_task(ignore_result=True)
def remind_due_tasks() -> int:
    """Beat, every 5 minutes. No retry: the next run reminds whatever is still unreminded."""
    return do_remind_due_tasks()


@shared_task(ignore_result=True)
def send_due_drafts() -> int:
    """Beat, every 30 seconds: Send later. No retry: the next run sends whatever is still due."""
    return do_send_due_drafts()


@shared_task(ignore_result=True)
def send_auto_replies(message_ids: list[str]) -> int:
    """After a delivery commits: the Out of office auto-responses it calls for. No retry: the
    throttle's claim and the reply are one transaction, so a failed run leaves nothing half done,
    and a reply that cannot be sent would fail again."""
    return auto_reply.do_send_auto_replies(message_ids)
