"""Rules and runs as the engine leaves them for the network actions: a RuleRun whose log holds
one pending entry per network action (contract 1 of the rules issue)."""

from __future__ import annotations

from typing import Any

from conversations.models import Message
from rules.catalog import ACTIONS
from rules.models import Rule, RuleRun, RunStatus, Trigger


def make_rule(cast: Any, actions: list[dict[str, Any]], **fields: Any) -> Rule:
    return Rule.objects.create(
        organization=cast.org,
        description=fields.pop("description", "Notify the helpdesk"),
        trigger=fields.pop("trigger", Trigger.INCOMING),
        actions=actions,
        created_by=fields.pop("created_by", cast.owner),
        **fields,
    )


def pending_run(rule: Rule, message: Message, *, key: str | None = None) -> RuleRun:
    """The run the engine recorded when the message arrived (its network actions pending: their
    task runs after commit, which these tests do not reach), or, for a message the rule was not
    enabled for, the same run made by hand."""
    recorded = RuleRun.objects.filter(rule=rule, message=message).first() if key is None else None
    if recorded is not None:
        assert any(entry.get("state") == "pending" for entry in recorded.log), recorded.log
        return recorded
    log = [
        {"index": i, "type": action["type"], "state": "pending" if ACTIONS[action["type"]].network else "done"}
        for i, action in enumerate(rule.actions)
    ]
    return RuleRun.objects.create(
        organization=rule.organization,
        rule=rule,
        trigger_key=key or f"msg:{message.id}:acct:{message.account_id}",
        conversation=message.conversation,
        message=message,
        status=RunStatus.MATCHED,
        log=log,
    )
