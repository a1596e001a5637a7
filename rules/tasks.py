"""Celery tasks of rules: thin interfaces to the engine and to rules.network."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def run_network_actions(run_id: str) -> None:
    """A run's network actions, after the rule pass's commit (contract 1: exactly once inside)."""
    from rules.network import do_run_network_actions

    do_run_network_actions(run_id)


@shared_task(ignore_result=True)
def fire_due_timers() -> int:
    """Beat, every 30 seconds: Delay checkpoints and SLA timers whose time has come."""
    from rules.timers import fire_due_timers as fire

    return fire()
