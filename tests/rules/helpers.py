"""Making rules for the engine tests."""

from __future__ import annotations

from typing import Any

from rules.engine import TriggerEvent
from rules.models import Rule, Trigger


def make_rule(org, description: str = "Rule", *, conditions: Any = None, actions: Any = None, **fields) -> Rule:
    return Rule.objects.create(
        organization=org,
        description=description,
        trigger=fields.pop("trigger", Trigger.INCOMING),
        conditions=conditions or {"mode": "all", "items": []},
        actions=actions or [],
        **fields,
    )


def subject_is(value: str) -> dict:
    return {"mode": "all", "items": [{"field": "subject", "op": "is", "value": value}]}


def incoming_event(message, key: str = "k1") -> TriggerEvent:
    """The incoming trigger of a delivered message, on the conversation as it is now."""
    message.conversation.refresh_from_db()
    return TriggerEvent(
        kind=Trigger.INCOMING,
        conversation=message.conversation,
        message=message,
        account=message.account,
        trigger_key=key,
    )
