"""The live-updates benchmark's core on 5 streams: the real web process (uvicorn) on loopback,
authenticated streams, comments through the real action, and every notice accounted for."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from bench.live import report, run_benchmark

# The web process is another process: it must see the committed rows, in the test database.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_benchmark_delivers_every_comment_to_every_stream_and_measures_the_web_process(settings):
    database = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    web_env = {**os.environ, "DATABASE_URL": urlunsplit(database), "REDIS_URL": settings.REDIS_URL}

    figures = run_benchmark(streams=5, changes=3, web_env=web_env, say=lambda line: None)

    assert figures.lost == 0 and len(figures.latencies) == 15
    assert 0 < figures.percentile(50) <= figures.percentile(95) <= figures.percentile(100) < 5
    assert figures.rss_mb > 20 and figures.threads >= 1, "measured the web process, not this one"
    lines = report(figures)
    assert lines[0].startswith("Live updates: 5 streams, 3 comments, 15 notices received, 0 lost")
    assert "Notice latency p95 (target < 1000 ms)" in lines[3] and "Web process RSS with the streams" in lines[6]
