"""Liquid templates: signatures, canned responses and automatic replies.

Templates are written by users, so they run sandboxed: no file system (no `include`/`render`
loader), and limits on loops, nesting and output size, so a template cannot hang or exhaust a
worker. A template that does not parse or fails while rendering raises `TemplateProblem` with a
message fit for the composer; callers show it instead of sending anything.
"""

from __future__ import annotations

from typing import Any

from liquid import Environment
from liquid.exceptions import LiquidError


class TemplateProblem(ValueError):
    """A template that cannot be used, with the reason in words a user understands."""


class _SandboxedEnvironment(Environment):
    loop_iteration_limit = 10_000
    local_namespace_limit = 100_000
    context_depth_limit = 30
    output_stream_limit = 1_000_000


_environment = _SandboxedEnvironment()


def render(source: str, context: dict[str, Any]) -> str:
    """Render `source` with `context`; raises TemplateProblem instead of LiquidError."""
    try:
        return _environment.from_string(source).render(**context)
    except LiquidError as error:
        raise TemplateProblem(_describe(error)) from error


def variable_paths(source: str) -> list[str]:
    """Every variable the template reads from outside itself, as dotted paths, in order."""
    try:
        return list(_environment.from_string(source).global_variable_paths())
    except LiquidError as error:
        raise TemplateProblem(_describe(error)) from error


def _describe(error: LiquidError) -> str:
    # The first line is the reason ("missing expression"); the rest is a source excerpt.
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"The template has an error: {reason}"


# The data a template can read. Roots a template may use beyond these become form fields a
# user fills in (canned responses), see `form_variables`.
KNOWN_ROOTS = ("user", "recipient", "conversation", "message")


def user_variables(user: Any, membership: Any | None) -> dict[str, Any]:
    """`user.*`: the sending (or inserting) user's profile, with custom fields and label-scoped
    phone numbers (`user.work.phone_number`)."""
    name = user.name or ""
    first, _, last = name.partition(" ")
    profile = (membership.profile if membership is not None else None) or {}
    data: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "name": name,
        "email": user.email,
        "avatar_url": profile.get("avatar_url", ""),
        "status": getattr(membership, "status_message", "") or "",
        "status_emoji": getattr(membership, "status_emoji", "") or "",
        "custom": {normalise_key(key): value for key, value in (profile.get("custom") or {}).items()},
    }
    for phone in profile.get("phones") or []:
        label = normalise_key(phone.get("label") or "")
        if label and label not in data:
            data[label] = {"phone_number": phone.get("number", "")}
    return data


def recipient_variables(recipients: list[dict[str, str]]) -> dict[str, Any]:
    """`recipient.*` from the message data (name, address) of the first recipient."""
    if not recipients:
        return {}
    first_recipient = recipients[0]
    name = first_recipient.get("name") or ""
    first, _, last = name.partition(" ")
    address = first_recipient.get("address") or ""
    return {
        "handle": address,
        "email": address,
        "name": name,
        "first_name": first,
        "last_name": last.rpartition(" ")[2] if last else "",
        "middle_name": last.rpartition(" ")[0] if " " in last else "",
    }


def message_variables(*, message_id: Any, from_name: str, from_address: str) -> dict[str, Any]:
    first, _, last = (from_name or "").partition(" ")
    return {
        "id": str(message_id),
        "from_handle": from_address,
        "from_email": from_address,
        "from_name": from_name,
        "from_first_name": first,
        "from_last_name": last,
    }


def normalise_key(key: str) -> str:
    """ "Order Amount" and "order_amount" are the same key (the seed's rule)."""
    return "_".join(key.strip().lower().split())


def form_variables(source: str) -> list[str]:
    """Variables of a canned response that match no data: fields to fill in before inserting."""
    fields: list[str] = []
    for path in variable_paths(source):
        if path.split(".", 1)[0] not in KNOWN_ROOTS and path not in fields:
            fields.append(path)
    return fields
