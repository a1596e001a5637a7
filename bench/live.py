"""`make bench`: live updates with 200 browsers connected to the real web process.

Starts the web process as `make run` does (uvicorn serving missive.asgi, one process, on loopback)
with DEBUG off, against a database of its own (missive_bench_live on the configured server,
created and migrated when missing) and a Redis database of its own. BENCH_LIVE_STREAMS people
(default 200) who all have access to one conversation each open one authenticated
server-sent-events stream (aiohttp, in this process). Then BENCH_LIVE_CHANGES comments (default
30) are posted through the real action (do_post_comment: its transaction, the commit, the
publishing after it), one at a time, and for every stream and comment the time from the start of
the action to the notice's arrival is measured. Printed: p50/p95/max of those latencies, the web
process's RSS with the streams open, and PASS/FAIL against the targets (issue 5): p95 under 1 s
and under 300 MB. The exit code stays 0: the figures are the point.
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "missive_bench_live"
REDIS_DATABASE = 14  # bench/run.py's sizes use the ones before

if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    from bench.startup import set_up_django

    set_up_django(DATABASE, REDIS_DATABASE)

import aiohttp
import psutil
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from conversations.actions import do_post_comment, do_share_conversation
from conversations.delivery import do_receive_message
from conversations.incoming import IncomingMessage
from conversations.models import Conversation
from inboxes.models import Account, AccountKind, Membership, Organization, Role, User
from missive import services

STREAMS = int(os.environ.get("BENCH_LIVE_STREAMS", "200"))
CHANGES = int(os.environ.get("BENCH_LIVE_CHANGES", "30"))
TARGET_P95_SECONDS = 1.0
TARGET_RSS_MB = 300
EMAIL_DOMAIN = "live-bench.test"
# Past this a notice counts as lost (and the run as failed).
LOST_AFTER_SECONDS = 10.0


@dataclass
class Figures:
    streams: int
    changes: int
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    baseline_rss_mb: float = 0.0
    rss_mb: float = 0.0
    threads: int = 0
    connect_seconds: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("inf")

    @property
    def p95_ok(self) -> bool:
        return self.lost == 0 and self.percentile(95) < TARGET_P95_SECONDS

    @property
    def rss_ok(self) -> bool:
        return self.rss_mb < TARGET_RSS_MB


# --- The people and their sessions ----------------------------------------------------------------


def prepare(streams: int) -> tuple[Conversation, User, list[str]]:
    """An organization of `streams` people sharing one conversation, and a session cookie each.
    A previous run's people and organization are removed first."""
    Organization.objects.filter(name="Live bench").delete()
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    organization = Organization.objects.create(name="Live bench")
    people = User.objects.bulk_create(
        User(email=f"person{n}@{EMAIL_DOMAIN}", name=f"Person {n}") for n in range(streams)
    )
    Membership.objects.bulk_create(
        Membership(organization=organization, user=user, role=Role.OWNER if n == 0 else Role.MEMBER)
        for n, user in enumerate(people)
    )
    author = people[0]
    account = Account.objects.create(
        organization=organization, owner=author, kind=AccountKind.IMAP, address=f"inbox@{EMAIL_DOMAIN}"
    )
    incoming = IncomingMessage(
        from_address="customer@outside.test",
        from_name="A Customer",
        subject="Everyone is watching this one",
        body_text="Hello",
        to=[{"name": "", "address": account.address}],
    )
    conversation = do_receive_message(account, incoming).conversation
    do_share_conversation(conversation, acting_user=author, users=people[1:], show_in_inbox=True)
    cookies = []
    for user in people:
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return conversation, author, cookies


# --- The web process ------------------------------------------------------------------------------


@contextlib.contextmanager
def web_process(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The web process of `make run` (missive/services.py), on a free loopback port."""
    port = str(services.free_port())
    command = [sys.executable, "-m", "missive.web", "missive.asgi:application", "--host", "127.0.0.1", "--port", port]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([*command, "--no-access-log"], env=env, cwd=BASE_DIR, stdout=log, stderr=log)  # noqa: S603

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-3000:]

        try:
            try:
                services.wait_for_port(int(port), process, name="The web process", seconds=60)
            except SystemExit as failed:
                raise RuntimeError(f"{failed}\n{output()}") from None
            try:
                yield process, f"http://127.0.0.1:{port}"
            except Exception:
                print(f"The web process's output:\n{output()}", file=sys.stderr)
                raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


# --- The browsers ---------------------------------------------------------------------------------


class Streams:
    """`len(cookies)` SSE streams, read in a thread of their own: each notice's arrival time."""

    def __init__(self, url: str, cookies: list[str]) -> None:
        self.url, self.cookies = url, cookies
        self.arrivals: list[list[float]] = [[] for _ in cookies]
        self.connected = 0
        self.errors: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks: list[asyncio.Future[None]] = []

    def __enter__(self) -> Streams:
        self.thread.start()
        self.session = asyncio.run_coroutine_threadsafe(self._session(), self.loop).result()
        for index in range(len(self.cookies)):
            self.tasks.append(asyncio.run_coroutine_threadsafe(self._read(index), self.loop))
        return self

    def __exit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        asyncio.run_coroutine_threadsafe(self.session.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout)

    async def _read(self, index: int) -> None:
        cookie = {settings.SESSION_COOKIE_NAME: self.cookies[index]}
        try:
            async with self.session.get(f"{self.url}/live/stream/", cookies=cookie) as response:
                if response.status != 200 or response.content_type != "text/event-stream":
                    self.errors.append(f"stream {index}: HTTP {response.status} {response.content_type}")
                    return
                data: list[str] = []
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("retry:"):
                        self.connected += 1
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        if json.loads("\n".join(data)).get("kind") == "changed":
                            self.arrivals[index].append(time.monotonic())
                        data = []
        except (aiohttp.ClientError, asyncio.CancelledError) as error:
            if not isinstance(error, asyncio.CancelledError):
                self.errors.append(f"stream {index}: {error!r}")

    def wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline or self.errors:
                return False
            time.sleep(0.005)
        return True


def run_benchmark(
    *, streams: int, changes: int, web_env: dict[str, str], say: Callable[[str], None] = print
) -> Figures:
    """Everything but the database set-up of `make bench`: committed data, real processes."""
    figures = Figures(streams, changes)
    conversation, author, cookies = prepare(streams)
    with web_process(web_env) as (process, url):
        web = psutil.Process(process.pid)
        figures.baseline_rss_mb = web.memory_info().rss / 2**20
        say(f"Opening {streams} streams...")
        started = time.monotonic()
        with Streams(url, cookies) as browsers:
            if not browsers.wait(lambda: browsers.connected == streams, 60):
                raise RuntimeError(f"{browsers.connected} of {streams} streams connected: {browsers.errors[:3]}")
            figures.connect_seconds = time.monotonic() - started
            say(f"Posting {changes} comments...")
            for n in range(changes):
                start = time.monotonic()
                do_post_comment(conversation, author=author, body=f"Change {n + 1}")
                arrived = browsers.wait(lambda n=n: all(len(a) > n for a in browsers.arrivals), LOST_AFTER_SECONDS)
                for arrivals in browsers.arrivals:
                    if len(arrivals) > n:
                        figures.latencies.append(arrivals[n] - start)
                    else:
                        figures.lost += 1
                if not arrived:
                    break
                time.sleep(0.05)
            figures.rss_mb = web.memory_info().rss / 2**20
            figures.threads = web.num_threads()
            if browsers.errors:
                raise RuntimeError(f"Stream errors: {browsers.errors[:3]}")
    return figures


def report(figures: Figures) -> list[str]:
    verdict = {True: "PASS", False: "FAIL"}
    return [
        f"Live updates: {figures.streams} streams, {figures.changes} comments, "
        f"{len(figures.latencies)} notices received, {figures.lost} lost",
        f"  {'Streams connected in':<38} {figures.connect_seconds * 1000:8.0f} ms",
        f"  {'Notice latency p50':<38} {figures.percentile(50) * 1000:8.1f} ms",
        f"  {'Notice latency p95 (target < 1000 ms)':<38} {figures.percentile(95) * 1000:8.1f} ms  "
        f"{verdict[figures.p95_ok]}",
        f"  {'Notice latency max':<38} {figures.percentile(100) * 1000:8.1f} ms",
        f"  {'Web process RSS before the streams':<38} {figures.baseline_rss_mb:8.1f} MB",
        f"  {'Web process RSS with the streams':<38} {figures.rss_mb:8.1f} MB  "
        f"{verdict[figures.rss_ok]} (target < {TARGET_RSS_MB} MB, {figures.threads} threads)",
    ]


def main() -> int:
    call_command("migrate", interactive=False, verbosity=0)
    web_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "missive.settings"}
    figures = run_benchmark(streams=STREAMS, changes=CHANGES, web_env=web_env)
    print()
    print("\n".join(report(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
