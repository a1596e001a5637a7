"""Celery tasks of the inboxes app: one more thin interface to its actions."""

from __future__ import annotations

from celery import shared_task

from inboxes.status import do_apply_out_of_office_schedules


@shared_task(ignore_result=True)
def apply_out_of_office_schedules() -> int:
    """Beat, every minute. No retry: the next run catches every start and end due by then."""
    return do_apply_out_of_office_schedules()
