"""`make bench`, second part: the initial IMAP sync of a 20,000-message mailbox, end to end.

A Dovecot of its own (tests/imap_server.py) gets a user whose INBOX receives varied generated
messages (tests/mail_factory.py: sizes up to ~200 KB, attachments, charsets, replies). The account
is connected the way operators do it (`manage.py add_imap_account`, STARTTLS, the password in an
environment variable, all history), then one worker process runs `manage.py sync_account ACCOUNT
--once`: its wall time gives messages/second end to end (Python and Django start-up included);
its peak memory is that of the worker and the parser process it starts, summed (sampled from
/proc, and never less than the kernel's own accounting of the worker, wait4's ru_maxrss). The database must then hold
every message exactly once and nothing failed. Last, the unchanged mailbox is re-checked with
`sync_account` in this process (a warm worker's cost) and once more as the command.

Targets (issue 3): at least 300 messages/s, peak RSS under 300 MB, unchanged re-check under
100 ms. Misses print FAIL but the exit code stays 0: the figures are the point. They are appended
to bench/results/imap.txt.

The worker runs as in production, with DEBUG off (throwaway SECRET_KEY and ENCRYPTION_KEY unless
set): DEBUG on keeps the last 9,000 SQL statements in memory. --debug keeps DEBUG as the
environment says.

    .venv/bin/python -m missive.services exec -- .venv/bin/python bench/imap_sync.py
        [--messages N] [--seed S] [--rechecks N] [--debug] [--keep] [--profile [N]]

--profile N syncs N messages (default 2,000) in this process instead, twice on two fresh
mailboxes: once with timers around each stage of `ingest` and every SQL statement, once under
cProfile; prints where the time goes (bench/results/imap-profile.prof keeps the profile).
"""

# ruff: noqa: E402 - Django is set up (after the environment is ready) before the project's modules load.
from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import math
import os
import platform
import pstats
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from tests.imap_server import DovecotServer, ImapUser
from tests.mail_factory import varied_corpus

MESSAGES = 20_000
SEED = 1
RECHECKS = 30
PROFILE_MESSAGES = 2_000
TARGET_RATE = 300  # messages/s, end to end, one worker
TARGET_RSS_MB = 300
TARGET_RECHECK_MS = 100
PASSWORD_ENV = "BENCH_IMAP_PASSWORD"  # noqa: S105 - the variable's name, not a password
BENCH_DOMAIN = "@imap-bench.example"  # owners and accounts the benchmark creates
RESULTS = BASE_DIR / "bench" / "results" / "imap.txt"
PROFILE_OUTPUT = BASE_DIR / "bench" / "results" / "imap-profile.prof"


# --- Measuring ------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    user: ImapUser
    messages: int
    bytes: int
    replies: int  # messages with In-Reply-To: they join an earlier message's conversation
    seconds: float  # generating and APPENDing

    @property
    def expected_conversations(self) -> int:
        return self.messages - self.replies


@dataclass
class WorkerRun:
    command: list[str]
    seconds: float
    peak_rss_kb: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def reported_seconds(self) -> float | None:
        """The sync's own time as the command prints it ("... in 12.34 s")."""
        found = re.search(r"in ([0-9.]+) s", self.stdout)
        return float(found.group(1)) if found else None


@dataclass
class Figures:
    mailbox: Mailbox
    account_id: str
    connect_seconds: float
    worker: WorkerRun
    counts: dict[str, int]
    problems: list[str]
    recheck_warmup: float
    rechecks: list[float]
    recheck_worker: WorkerRun | None
    debug: bool
    commit: str  # of the code measured: HEAD when the worker started

    @property
    def rate(self) -> float:
        return self.mailbox.messages / self.worker.seconds

    @property
    def peak_rss_mb(self) -> float:
        return self.worker.peak_rss_kb / 1024

    @property
    def recheck_p50_ms(self) -> float:
        return percentile(self.rechecks, 50) * 1000

    @property
    def recheck_p95_ms(self) -> float:
        return percentile(self.rechecks, 95) * 1000


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fill_mailbox(server: DovecotServer, messages: int, seed: int) -> Mailbox:
    """A new user whose INBOX holds varied_corpus(messages, seed), APPENDed in MULTIAPPEND batches."""
    user = server.add_random_user()
    totals = {"bytes": 0, "replies": 0}

    def corpus() -> Iterator[bytes]:
        for raw in varied_corpus(messages, seed=seed):
            totals["bytes"] += len(raw)
            totals["replies"] += b"\nIn-Reply-To:" in raw[: raw.find(b"\r\n\r\n")]
            yield raw

    started = time.perf_counter()
    uids = server.append_many(user.username, "INBOX", corpus())
    seconds = time.perf_counter() - started
    if len(uids) != messages:
        raise RuntimeError(f"Dovecot took {len(uids)} of {messages} messages")
    return Mailbox(user, messages, totals["bytes"], totals["replies"], seconds)


def connect_account(server: DovecotServer, user: ImapUser) -> Any:
    """A new organization and owner, and the account connected by `manage.py add_imap_account`."""
    from django.core.management import call_command

    from inboxes.actions import do_create_organization
    from inboxes.models import Account, User

    token = secrets.token_hex(4)
    owner = User.objects.create_user(email=f"owner-{token}{BENCH_DOMAIN}", name="IMAP bench owner")
    organization = do_create_organization(name=f"IMAP bench {token}", owner=owner)
    address = f"{user.username}{BENCH_DOMAIN}"
    os.environ[PASSWORD_ENV] = user.password
    try:
        # The command's arguments as an operator types them; it verifies the login before saving.
        call_command(
            "add_imap_account",
            f"--organization={organization.name}",
            f"--owner={owner.email}",
            f"--email={address}",
            f"--host={server.host}",
            f"--port={server.port}",
            "--security=starttls",
            f"--username={user.username}",
            f"--password-env={PASSWORD_ENV}",
            "--history-days=all",
            stdout=io.StringIO(),
        )
    finally:
        del os.environ[PASSWORD_ENV]
    return Account.objects.get(organization=organization, address=address)


def run_worker(args: list[str], env: dict[str, str]) -> WorkerRun:
    """`manage.py ARGS` in a process of its own: wall time from spawn to exit, and peak memory: the
    larger of that process's own peak RSS as the kernel accounts it (wait4's ru_maxrss, in KB on
    Linux) and the peak of the RSS summed over it and its children (the parser process), sampled
    every 20 ms."""
    command = [sys.executable, str(BASE_DIR / "manage.py"), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=out, stderr=err)  # noqa: S603
        sampler = TreeRssSampler(process.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            sampler.stop()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return WorkerRun(
            command=command,
            seconds=seconds,
            peak_rss_kb=max(usage.ru_maxrss, sampler.peak_kb),
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


class TreeRssSampler(threading.Thread):
    """The peak of the RSS summed over a process and its descendants, read from /proc."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb = pid, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.02):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(pid) for pid in _tree(self.pid)))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def count_rows(account: Any) -> dict[str, int]:
    from django.db.models import Count

    from channels_app.models import ImapMessage
    from conversations.models import Attachment, Conversation, ConversationKind, Message

    by_state = dict(ImapMessage.objects.filter(account=account).values_list("state").annotate(n=Count("id")).order_by())
    messages = Message.objects.filter(account=account)
    return {
        "imap_total": sum(by_state.values()),
        **{f"imap_{state}": n for state, n in by_state.items()},
        "messages": messages.count(),
        "distinct_message_ids": messages.values("rfc_message_id").distinct().count(),
        "unparsed": messages.exclude(parse_error="").count(),
        # Threads only: the organization's chat room is a conversation too.
        "conversations": Conversation.objects.filter(
            organization_id=account.organization_id, kind=ConversationKind.THREAD
        ).count(),
        "attachments": Attachment.objects.filter(message__account=account).count(),
    }


def check_counts(counts: dict[str, int], mailbox: Mailbox) -> list[str]:
    """What is wrong with the synced data, if anything."""
    from channels_app.models import ImapMessageState

    n = mailbox.messages
    problems = []
    if counts.get(f"imap_{ImapMessageState.INGESTED}", 0) != n or counts["imap_total"] != n:
        states = {k[5:]: v for k, v in counts.items() if k.startswith("imap_") and k != "imap_total"}
        problems.append(f"ImapMessage rows by state {states}, expected {n:,} ingested")
    if counts.get(f"imap_{ImapMessageState.FAILED}", 0):
        problems.append(f"{counts[f'imap_{ImapMessageState.FAILED}']:,} messages failed")
    if counts["messages"] != n or counts["distinct_message_ids"] != n:
        problems.append(
            f"{counts['messages']:,} Message rows ({counts['distinct_message_ids']:,} distinct Message-IDs), "
            f"expected {n:,}"
        )
    if counts["conversations"] != mailbox.expected_conversations:
        problems.append(
            f"{counts['conversations']:,} conversations, expected {mailbox.expected_conversations:,} "
            f"({n:,} messages of which {mailbox.replies:,} replies)"
        )
    return problems


def recheck_in_process(account: Any, runs: int) -> tuple[float, list[float]]:
    """`sync_account` on the unchanged mailbox in this (warm) process: one warm-up run, then `runs`."""
    from channels_app.imap.sync import sync_account

    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        result = sync_account(account)
        times.append(time.perf_counter() - started)
        if result.locked_out or result.new or result.failed:
            raise RuntimeError(f"An unchanged mailbox re-check did something: {result}")
    return times[0], times[1:]


def run_benchmark(
    server: DovecotServer,
    *,
    messages: int = MESSAGES,
    seed: int = SEED,
    rechecks: int = RECHECKS,
    worker_env: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> Figures:
    """The whole measurement on a running Dovecot, with Django set up and trusting its certificate.
    `worker_env` is the environment of the worker processes (default: this one's)."""
    from django.conf import settings

    env = dict(os.environ if worker_env is None else worker_env)
    say(f"Filling a mailbox with {messages:,} generated messages (seed {seed})...")
    mailbox = fill_mailbox(server, messages, seed)
    say(
        f"  {mailbox.bytes / 1e6:,.0f} MB APPENDed in {mailbox.seconds:.1f} s "
        f"({messages / mailbox.seconds:,.0f} messages/s; setup, not measured)"
    )
    # Dovecot's half a gigabyte would otherwise still be written back to disk during the sync,
    # slowing every file the worker creates: flush it first so the setup is not measured.
    os.sync()
    started = time.perf_counter()
    account = connect_account(server, mailbox.user)
    connect_seconds = time.perf_counter() - started
    say(f"Connected {account.address} with add_imap_account in {connect_seconds:.2f} s")
    commit = _git_commit()
    say(f"Initial sync: manage.py sync_account {account.id} --once ...")
    worker = run_worker(["sync_account", str(account.id), "--once"], env)
    say(f"  {worker.stdout.strip() or '(no output)'}")
    if worker.returncode != 0:
        say(f"  exit code {worker.returncode}; stderr:\n{worker.stderr[-3000:]}")
    counts = count_rows(account)
    problems = check_counts(counts, mailbox)
    if worker.returncode != 0:
        problems.insert(0, f"sync_account exited with {worker.returncode}")
    warmup, times = 0.0, list[float]()
    recheck_worker = None
    if worker.returncode == 0:  # else the mailbox is not synced, and a re-check would finish the work
        if rechecks:
            say(f"Re-checking the unchanged mailbox {rechecks} times in this process...")
            warmup, times = recheck_in_process(account, rechecks)
        say("Re-checking it once more with manage.py sync_account --once ...")
        recheck_worker = run_worker(["sync_account", str(account.id), "--once"], env)
        if recheck_worker.returncode != 0 or not recheck_worker.stdout.startswith("0 new, 0 updated, 0 failed"):
            problems.append(
                f"The re-check command said {recheck_worker.stdout.strip()!r} {recheck_worker.stderr[-500:]}"
            )
        after = count_rows(account)
        if after != counts:
            problems.append(f"The re-checks changed the data: {counts} -> {after}")
    return Figures(
        mailbox=mailbox,
        account_id=str(account.id),
        connect_seconds=connect_seconds,
        worker=worker,
        counts=counts,
        problems=problems,
        recheck_warmup=warmup,
        rechecks=times,
        recheck_worker=recheck_worker,
        debug=settings.DEBUG,
        commit=commit,
    )


# --- Reporting ------------------------------------------------------------------------------------


def report(figures: Figures) -> list[str]:
    from channels_app.models import ImapMessageState

    f, mb, c = figures, figures.mailbox, figures.counts
    reported = f.worker.reported_seconds
    rows = [
        (
            "Initial sync, end to end",
            f"{f.rate:,.0f} messages/s",
            f">= {TARGET_RATE}",
            f.rate >= TARGET_RATE,
        ),
        ("Peak RSS (+ parser)", f"{f.peak_rss_mb:,.0f} MB", f"< {TARGET_RSS_MB} MB", f.peak_rss_mb < TARGET_RSS_MB),
    ]
    if f.rechecks:
        rows.append(
            (
                "Unchanged re-check, p50 / p95",
                f"{f.recheck_p50_ms:,.0f} / {f.recheck_p95_ms:,.0f} ms",
                f"< {TARGET_RECHECK_MS} ms",
                f.recheck_p95_ms < TARGET_RECHECK_MS,
            )
        )
    rows.append(("Data checks", "ok" if not f.problems else f"{len(f.problems)} problem(s)", "all", not f.problems))
    width = max(len(r[0]) for r in rows) + 2
    lines = [
        f"IMAP sync benchmark of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {f.commit or '?'}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"worker DEBUG={f.debug}",
        f"Mailbox: {mb.messages:,} messages, {mb.bytes / 1e6:,.0f} MB, {mb.replies:,} replies "
        f"(setup: {mb.seconds:.1f} s to generate and APPEND, {f.connect_seconds:.2f} s to connect; not measured)",
        f"Initial sync: {f.worker.seconds:.1f} s wall for the process ("
        + (f"{reported:.1f} s inside sync_account, {mb.messages / reported:,.0f} messages/s; " if reported else "")
        + f"the rest is Python and Django start-up), peak RSS {f.peak_rss_mb:,.0f} MB (worker and parser processes)",
        f"Database: {c.get(f'imap_{ImapMessageState.INGESTED}', 0):,} ImapMessage rows ingested, "
        f"{c.get(f'imap_{ImapMessageState.FAILED}', 0):,} failed; {c['messages']:,} messages, "
        f"{c['conversations']:,} conversations (expected {mb.expected_conversations:,}), "
        f"{c['attachments']:,} attachments, {c['unparsed']:,} kept unparsed",
    ]
    if f.rechecks:
        lines.append(
            f"Re-check in process: {len(f.rechecks)} runs after one warm-up ({f.recheck_warmup * 1000:,.0f} ms), "
            f"min {min(f.rechecks) * 1000:,.0f} ms, p50 {f.recheck_p50_ms:,.0f} ms, "
            f"p95 {f.recheck_p95_ms:,.0f} ms (nearest rank), max {max(f.rechecks) * 1000:,.0f} ms"
        )
    if f.recheck_worker is not None:
        lines.append(
            f"Re-check as a command (reference only; includes Python and Django start-up): "
            f"{f.recheck_worker.seconds * 1000:,.0f} ms wall, {f.recheck_worker.peak_rss_kb / 1024:,.0f} MB peak RSS, "
            f"said {f.recheck_worker.stdout.strip()!r}"
        )
    lines.append("")
    lines.append(f"{'Figure':<{width}}{'Measured':<24}{'Target':<12}Verdict")
    for name, measured, target, ok in rows:
        lines.append(f"{name:<{width}}{measured:<24}{target:<12}{'PASS' if ok else 'FAIL'}")
    for problem in f.problems:
        lines.append(f"  problem: {problem}")
    failed = sum(not ok for *_, ok in rows)
    lines.append("")
    lines.append(f"FAIL: {failed} of {len(rows)} figures miss their target." if failed else "All targets met.")
    return lines


def _git_commit() -> str:
    """HEAD, marked when tracked files differ from it (the code measured is then not HEAD's)."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=BASE_DIR)  # noqa: S603, S607

    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return f"{head} with uncommitted changes" if head and dirty else head


def append_results(lines: list[str]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as results:
        results.write("\n".join(lines) + "\n\n")


# --- Profiling ------------------------------------------------------------------------------------


class Stopwatches:
    """Inclusive time and call counts of wrapped functions, and of SQL statements by shape."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.sql: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self._patches: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        original = getattr(owner, name, None)
        if original is None:  # not in this version of the code
            return
        slot = self.times[label or name]

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                slot[0] += 1
                slot[1] += time.perf_counter() - started

        self._patches.append((owner, name, original))
        setattr(owner, name, timed)

    def unwrap(self) -> None:
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches.clear()

    def sql_wrapper(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            slot = self.sql[_sql_shape(sql)]
            slot[0] += 1
            slot[1] += time.perf_counter() - started


def _sql_shape(sql: str) -> str:
    """A statement's verb and table, and its WHERE columns for SELECTs."""
    text = " ".join(sql.split())
    verb = text.split(" ", 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE) "([a-z_]+)"', text)
    where = ""
    if verb in ("SELECT", "UPDATE", "DELETE"):
        condition = text.partition(" WHERE ")[2]
        where = " where " + ",".join(sorted(set(re.findall(r'"[a-z_]+"\."([a-z_]+)"', condition))))[:80]
    return f"{verb} {table.group(1) if table else '?'}{where if where != ' where ' else ''}"


@contextlib.contextmanager
def instrumented() -> Iterator[Stopwatches]:
    """Timers around the stages of a sync (those that never run stay at zero) and every SQL statement."""
    import redis.lock
    from django.core.files.storage import FileSystemStorage
    from django.db import connection
    from imapclient import IMAPClient

    import channels_app.imap.sync as sync
    import conversations.delivery as delivery

    watches = Stopwatches()
    watches.wrap(redis.lock.Lock, "acquire", "account lock: acquire (Redis)")
    watches.wrap(sync, "connect", "connect (TCP, STARTTLS, LOGIN)")
    watches.wrap(sync, "discover_folders", "discover_folders (LIST + folder rows)")
    watches.wrap(IMAPClient, "folder_status", "STATUS")
    watches.wrap(IMAPClient, "select_folder", "SELECT")
    watches.wrap(IMAPClient, "search", "SEARCH")
    watches.wrap(IMAPClient, "fetch", "FETCH (network + imapclient)")
    # The pipeline's stages overlap (threads, parser processes): their times add up to more than the wall.
    watches.wrap(sync, "store_and_parse_many", "store + parse a batch (pipeline thread, parser processes)")
    watches.wrap(sync, "_wait_for", "delivery waiting for the next parsed batch")
    watches.wrap(sync, "ingest_batch", "deliver a batch")
    watches.wrap(sync, "do_receive_messages", "  do_receive_messages")
    for name in ("__init__", "deliver", "write"):
        watches.wrap(delivery._Batch, name, f"  batch.{name}")
    watches.wrap(FileSystemStorage, "_save", "file writes in this process (small batches)")
    watches.wrap(redis.lock.Lock, "reacquire", "account lock: keepalive (Redis)")
    watches.wrap(sync, "logout", "LOGOUT")
    watches.wrap(sync, "record_success", "record_success")
    watches.wrap(redis.lock.Lock, "release", "account lock: release (Redis)")
    connection.ensure_connection()
    watches.wrap(connection, "commit", "COMMIT (transactions only; autocommit statements are in SQL)")
    try:
        with connection.execute_wrapper(watches.sql_wrapper):
            yield watches
    finally:
        watches.unwrap()
        with contextlib.suppress(AttributeError):
            del connection.commit  # the instance attribute; the class's method shows again


def breakdown(watches: Stopwatches, total: float, per: int, unit: str) -> list[str]:
    """The stages' inclusive times and the SQL statements by shape, per `unit` (of which there were `per`)."""
    lines = [
        f"{'Stage (inclusive; indented: inside the one above)':<62}{'calls':>8}{'s':>9}{f'ms/{unit}':>10}{'share':>7}"
    ]
    for label, (calls, seconds) in watches.times.items():
        if calls:
            lines.append(f"{label:<62}{calls:>8,}{seconds:>9.3f}{seconds * 1000 / per:>10.2f}{seconds / total:>7.0%}")
    sql_calls = sum(c for c, _ in watches.sql.values())
    sql_seconds = sum(s for _, s in watches.sql.values())
    lines.append(
        f"SQL: {sql_calls:,} statements ({sql_calls / per:.1f} per {unit}), {sql_seconds:.3f} s "
        f"({sql_seconds / total:.0%} of wall, {sql_seconds * 1000 / per:.2f} ms per {unit}), "
        "time from sending to the answer"
    )
    lines.append(f"{'Statement shape':<80}{'calls':>8}{'s':>8}{f'ms/{unit}':>10}")
    for shape, (calls, seconds) in sorted(watches.sql.items(), key=lambda item: -item[1][1])[:25]:
        lines.append(f"{shape[:80]:<80}{calls:>8,}{seconds:>8.3f}{seconds * 1000 / per:>10.2f}")
    return lines


def profile(server: DovecotServer, messages: int, seed: int, say: Callable[[str], None]) -> None:
    from channels_app.imap.sync import sync_account

    say(f"Profiling the sync of {messages:,} messages in this process (two fresh mailboxes, same corpus).")
    boxes = [fill_mailbox(server, messages, seed) for _ in range(2)]
    accounts = [connect_account(server, box.user) for box in boxes]

    cpu_started, started = time.process_time(), time.perf_counter()
    with instrumented() as watches:
        result = sync_account(accounts[0])
    total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    say(
        f"\nRun 1, timers and SQL wrapper: {result.new:,} new, {result.failed} failed in {total:.2f} s, "
        f"{messages / total:,.0f} messages/s; this process's CPU {cpu:.2f} s ({cpu / total:.0%} of wall)"
    )
    for line in breakdown(watches, total, messages, "msg"):
        say(line)

    runs = 10
    sync_account(accounts[0])  # warm
    started = time.perf_counter()
    with instrumented() as watches:
        for _ in range(runs):
            sync_account(accounts[0])
    total = time.perf_counter() - started
    say(f"\nUnchanged re-check, {runs} runs with timers: {total * 1000 / runs:.1f} ms each on average")
    for line in breakdown(watches, total, runs, "run"):
        say(line)

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    result = sync_account(accounts[1])
    profiler.disable()
    total = time.perf_counter() - started
    PROFILE_OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(PROFILE_OUTPUT)
    say(
        f"\nRun 2, cProfile: {result.new:,} new in {total:.2f} s ({messages / total:,.0f} messages/s with the "
        f"profiler's overhead); saved to {PROFILE_OUTPUT.relative_to(BASE_DIR)}"
    )
    for sort, limit in (("tottime", 30), ("cumulative", 45)):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats(sort).print_stats(limit)
        say(f"Top {limit} by {sort}:")
        say("\n".join(line for line in buffer.getvalue().splitlines() if line.strip()))


# --- Main -----------------------------------------------------------------------------------------


def prepare_environment(workdir: Path, server: DovecotServer, *, debug: bool) -> None:
    """What settings read at start-up, for this process and the workers it starts."""
    ca_file = workdir / "dovecot-ca.pem"
    ca_file.write_text(server.cert_pem)
    os.environ["IMAP_EXTRA_CA_FILE"] = str(ca_file)
    # Raw mail and attachments go to a directory of this run, removed at the end: content-addressed
    # raw files left by a previous run would be skipped instead of written.
    os.environ["FILE_STORAGE_ROOT"] = str(workdir / "files")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
    if not debug:
        from cryptography.fernet import Fernet

        os.environ["DEBUG"] = "false"
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        os.environ.setdefault("ENCRYPTION_KEY", Fernet.generate_key().decode())
        os.environ.setdefault("ALLOWED_HOSTS", "localhost")


def migrate(say: Callable[[str], None]) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        say("Migrating the database...")
        call_command("migrate", interactive=False, verbosity=0)


def remove_benchmark_data(say: Callable[[str], None]) -> None:
    """Delete the organizations the benchmark created (this run's, and any a crashed run left)."""
    from inboxes.models import Account, User

    started = time.perf_counter()
    accounts = list(Account.objects.filter(address__endswith=BENCH_DOMAIN).select_related("organization"))
    for account in accounts:
        owner_id = account.owner_id
        account.organization.delete()
        User.objects.filter(pk=owner_id).delete()
    if accounts:
        say(f"Removed the benchmark's data ({len(accounts)} organization(s)) in {time.perf_counter() - started:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--rechecks", type=int, default=RECHECKS)
    parser.add_argument("--debug", action="store_true", help="keep DEBUG as the environment sets it")
    parser.add_argument("--keep", action="store_true", help="keep the organizations and data created")
    parser.add_argument("--profile", type=int, nargs="?", const=PROFILE_MESSAGES, metavar="N")
    args = parser.parse_args()

    def say(line: str = "") -> None:
        print(line, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="missive-imap-bench-"))
    server = DovecotServer()
    django_ready = False
    try:
        server.start()
        prepare_environment(workdir, server, debug=args.debug)
        import django

        django.setup()
        django_ready = True
        migrate(say)
        if args.profile:
            profile(server, args.profile, args.seed, say)
            return 0
        figures = run_benchmark(server, messages=args.messages, seed=args.seed, rechecks=args.rechecks, say=say)
        lines = report(figures)
        say()
        for line in lines:
            say(line)
        append_results(lines)
        say(f"\nAppended to {RESULTS.relative_to(BASE_DIR)}")
        return 0
    finally:
        try:
            if django_ready and not args.keep:
                remove_benchmark_data(say)
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
