"""Who did it, when a rule acts: the timeline and the Activity feed name the rule.

rules.engine and rules.network run a rule's actions inside `rule_acting(description)`. The actions
they call are the ordinary conversation actions, sometimes through a person with access (a
stand-in); what those write while a rule acts says "Rule <description> …" and names no person.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_acting_rule: ContextVar[str | None] = ContextVar("acting_rule", default=None)


@contextmanager
def rule_acting(description: str) -> Iterator[None]:
    token = _acting_rule.set(description)
    try:
        yield
    finally:
        _acting_rule.reset(token)


def acting_rule() -> str | None:
    """The description of the rule whose actions are running, if any."""
    return _acting_rule.get()
