"""The rules benchmark at a tiny size: real rules, real deliveries, figures reported."""

from __future__ import annotations

import pytest

from bench.rules import report, run_benchmark

pytestmark = pytest.mark.django_db


def test_the_rules_benchmark_runs_the_rules_stage_on_every_message():
    figures = run_benchmark(rules=16, messages=8)
    assert len(figures.millis) == 8
    assert figures.matched_runs > 0, "some rules of the mix match"
    assert 0 < figures.percentile(50) <= figures.percentile(95)
    lines = report(figures)
    assert lines[0].startswith("Rules: 16 enabled organization rules, 8 incoming messages")
    assert "p95" in lines[1] and "messages/s" in lines[2]
