"""The IMAP sync benchmark's core, on 50 messages: a real Dovecot, `add_imap_account`, the
`sync_account --once` worker process, the re-checks, and exact counts."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from bench.imap_sync import report, run_benchmark
from channels_app.models import ImapMessage

# The worker is another process: it must see the committed rows, in the test database.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_benchmark_syncs_and_counts_a_small_mailbox(dovecot, settings, tmp_path):
    ca_file = tmp_path / "dovecot-ca.pem"
    ca_file.write_text(dovecot.cert_pem)
    settings.IMAP_EXTRA_CA_FILE = str(ca_file)
    database = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    worker_env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(database),
        "REDIS_URL": settings.REDIS_URL,
        "IMAP_EXTRA_CA_FILE": str(ca_file),
        "FILE_STORAGE_ROOT": str(tmp_path / "files"),
    }

    figures = run_benchmark(dovecot, messages=50, seed=1, rechecks=2, worker_env=worker_env, say=lambda line: None)
    dovecot.remove_user(figures.mailbox.user.username)

    assert figures.problems == []
    assert figures.worker.returncode == 0
    assert figures.worker.stdout.startswith("50 new, 0 updated, 0 failed"), figures.worker.stderr[-2000:]
    counts = figures.counts
    assert counts["imap_total"] == counts["imap_ingested"] == 50
    assert counts["messages"] == counts["distinct_message_ids"] == 50
    assert 0 < figures.mailbox.replies < 50, "the corpus threads replies"
    assert counts["conversations"] == 50 - figures.mailbox.replies
    assert ImapMessage.objects.count() == 50
    assert figures.rate > 0 and figures.peak_rss_mb > 20, "measured the worker process, not this one"
    assert len(figures.rechecks) == 2 and all(seconds > 0 for seconds in figures.rechecks)
    assert figures.recheck_worker is not None
    assert figures.recheck_worker.stdout.startswith("0 new, 0 updated, 0 failed")
    table = "\n".join(report(figures))
    assert "Initial sync, end to end" in table and "Peak RSS (+ parser)" in table and "Unchanged re-check" in table
