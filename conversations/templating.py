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
