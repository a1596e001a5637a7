"""`make bench`: server time and query counts of the mailbox pages and the triage actions at scale.

Requests go through django.test.Client in this process, so a figure is server time (middleware,
view, queries, templates) without the network. The dataset comes from `manage.py
generate_dataset` (BENCH_CONVERSATIONS, default 100,000) and is generated when missing. The
benchmark user is the busiest active member of the busiest team of the biggest organization.

Actions change the dataset as they would in use; pairs (close/reopen, trash/restore, ...) undo
each other, so repeated runs measure much the same data. Missed targets print FAIL, but the exit
code stays 0: the figures are the point. They are also written to bench/results/latest.txt.
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.
from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
    import django

    django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection, reset_queries
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.actions import (
    do_move_to_team,
    do_reopen,
    do_unassign,
    do_unsnooze,
    do_wake_due_snoozes,
)
from conversations.counts import invalidate_counts
from conversations.management.commands.generate_dataset import dataset_organizations
from conversations.models import (
    VISIBLE_IN_ALL,
    VISIBLE_IN_TEAM_INBOX,
    Assignment,
    Conversation,
    ConversationState,
    Location,
    Message,
    Status,
)
from inboxes.models import Organization, Team, TeamMembership, TeamRole, User

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
BULK_RUNS = int(os.environ.get("BENCH_BULK_RUNS", "5"))
BULK_SIZE = 100
LIST_TARGET_MS = 50  # issue 7: list views p95
OPEN_TARGET_MS = 80  # issue 7: opening a conversation p95
ACTION_TARGET_MS = 100  # issue 4: each action
RESULTS = BASE_DIR / "bench" / "results" / "latest.txt"
HTMX_WORKSPACE = {"HX-Request": "true", "HX-Target": "workspace"}
HTMX_PANE = {"HX-Request": "true", "HX-Target": "conversation-pane"}


# --- Measuring ------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    target_ms: float | None
    seconds: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    # Of each run: CPU time of this process (Python: view, ORM, templates) and time in SQL.
    cpu_seconds: list[float] = field(default_factory=list)
    sql_seconds: list[float] = field(default_factory=list)
    # The slowest run's queries, slowest first: (ms, sql).
    slowest: list[tuple[float, str]] = field(default_factory=list)
    note: str = ""

    def percentile(self, p: float, seconds: list[float] | None = None) -> float:
        """Nearest-rank percentile, in milliseconds."""
        ordered = sorted(self.seconds if seconds is None else seconds)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def max(self) -> float:
        return max(self.seconds) * 1000

    @property
    def cpu_p50(self) -> float:
        return self.percentile(50, self.cpu_seconds)

    @property
    def sql_p50(self) -> float:
        return self.percentile(50, self.sql_seconds)

    @property
    def verdict(self) -> str:
        if not self.seconds:
            return "SKIP"
        if self.target_ms is None:
            return "info"
        return "PASS" if self.p95 < self.target_ms else "FAIL"

    @property
    def query_range(self) -> str:
        low, high = min(self.queries), max(self.queries)
        return str(low) if low == high else f"{low}-{high}"


def measure(
    name: str,
    items: Sequence[Any],
    run: Callable[[Any], Any],
    *,
    target_ms: float | None,
    warmup: int = 0,
    prepare: Callable[[Any], Any] | None = None,
) -> Result:
    """Time `run(item)` for each item (the first `warmup` ones untimed) with its SQL queries;
    `prepare(item)` runs before each, untimed."""
    result = Result(name, target_ms)
    slowest_run = -1.0
    for index, item in enumerate(items):
        if prepare is not None:
            prepare(item)
        reset_queries()  # the query log is capped: a full one would capture nothing
        with CaptureQueriesContext(connection) as captured:
            cpu_started, started = time.process_time(), time.perf_counter()
            run(item)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if index < warmup:
            continue
        timed = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
        result.seconds.append(elapsed)
        result.cpu_seconds.append(cpu)
        result.sql_seconds.append(sum(ms for ms, _ in timed) / 1000)
        result.queries.append(len(timed))
        if elapsed > slowest_run:
            slowest_run = elapsed
            result.slowest = sorted(timed, key=lambda pair: pair[0], reverse=True)
    return result


def checked(response: HttpResponse) -> HttpResponse:
    """A benchmark of an error page would be meaningless: stop at the first one."""
    # Actions answer into the conversation pane; a prompt (#modal) or an error (#toast) is a failure.
    if response.status_code != 200 or response.headers.get("HX-Retarget") in ("#modal", "#toast"):
        body = response.content.decode(errors="replace")[:500]
        raise RuntimeError(f"{response.status_code} {dict(response.headers)}: {body}")
    return response


# --- The dataset and the cast ---------------------------------------------------------------------


def ensure_dataset(conversations: int, say: Callable[[str], None]) -> None:
    """Generate the dataset unless one of about this size exists (runs delete a few conversations)."""
    existing = Conversation.objects.filter(organization__in=dataset_organizations()).count()
    if abs(existing - conversations) <= conversations * 0.02 and existing:
        say(f"Using the generated dataset ({existing:,} conversations).")
        return
    say(f"Generating a dataset of {conversations:,} conversations (found {existing:,}).")
    call_command("generate_dataset", conversations=conversations, reset=bool(existing))


def vacuum_analyze() -> float:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.monotonic() - started


@dataclass
class Cast:
    organization: Organization
    user: User
    team: Team
    other_team: Team
    quiet_team: Team | None
    teammate: User


def pick_cast() -> Cast:
    """The busiest active member of the biggest organization's busiest team."""
    organization = (
        dataset_organizations().annotate(n=Count("conversations")).order_by("-n").first()
        or Organization.objects.annotate(n=Count("conversations")).order_by("-n").first()
    )
    if organization is None:
        raise RuntimeError("No organization to measure.")
    teams = list(Team.objects.filter(organization=organization).annotate(n=Count("conversations")).order_by("-n"))
    team = teams[0]
    active = TeamMembership.objects.filter(team=team, role=TeamRole.ACTIVE).values("user_id")
    user = User.objects.filter(id__in=active).annotate(n=Count("conversation_states")).order_by("-n", "email").first()
    teammate = User.objects.filter(id__in=active).exclude(id=user.id).order_by("email").first()
    assert user is not None and teammate is not None
    mine = [t for t in teams[1:] if TeamMembership.objects.filter(team=t, user=user).exists()]
    return Cast(organization, user, team, other_team=teams[1], quiet_team=mine[-1] if mine else None, teammate=teammate)


def pick(states: QuerySet[ConversationState], n: int) -> list[Any]:
    """n conversation ids at random from the user's states."""
    return list(states.order_by("?").values_list("conversation_id", flat=True)[:n])


# --- Scenarios ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, cast: Cast, runs: int = RUNS, bulk_runs: int = BULK_RUNS) -> None:
        self.cast = cast
        self.runs = runs
        self.bulk_runs = bulk_runs
        self.client = Client()
        self.client.force_login(cast.user)
        self.results: list[Result] = []
        self.used: set[Any] = set()
        # Untimed undoing after the measurements, so that repeated runs see much the same data.
        self.undo: list[Callable[[], Any]] = []

    # Requests, as the browser sends them (HTMX, answered with the workspace).

    def get(self, path: str, headers: dict[str, str] | None = None) -> HttpResponse:
        return checked(self.client.get(path, headers=HTMX_WORKSPACE if headers is None else headers, secure=True))

    def act(self, action: str, conversation_id: Any, return_to: str, **data: Any) -> HttpResponse:
        data["return_to"] = return_to
        url = f"/c/{conversation_id}/act/{action}/"
        return checked(self.client.post(url, data, headers=HTMX_WORKSPACE, secure=True))

    def bulk(self, action: str, ids: list[Any], return_to: str, **data: Any) -> HttpResponse:
        data.update(ids=[str(i) for i in ids], return_to=return_to)
        return checked(self.client.post(f"/bulk/{action}/", data, headers=HTMX_WORKSPACE, secure=True))

    # Candidate conversations: each used by one scenario only, unless a pair reuses it on purpose.

    def states(self) -> QuerySet[ConversationState]:
        return ConversationState.objects.filter(user=self.cast.user).exclude(conversation_id__in=self.used)

    def team_inbox(self) -> QuerySet[ConversationState]:
        """As the team inbox list shows them to me (not my own trashed, spam or snoozed copies)."""
        return self.states().filter(
            conversation__team=self.cast.team, conversation__in_team_inbox=True, location__in=VISIBLE_IN_TEAM_INBOX
        )

    def inbox_not_assigned(self) -> QuerySet[ConversationState]:
        """In my Inbox and not assigned to me (archiving those would ask whether to close)."""
        mine = Assignment.objects.filter(conversation=OuterRef("conversation"), user=self.cast.user)
        return self.states().filter(~Exists(mine), location=Location.INBOX)

    def take(self, states: QuerySet[ConversationState], n: int | None = None) -> list[Any]:
        """n conversations (by default one per run and one for the warm-up)."""
        ids = pick(states, n or self.runs + 1)
        self.used.update(ids)
        return ids

    def add(self, result: Result, wanted: int) -> Result:
        if len(result.seconds) < wanted:
            result.note = f"only {len(result.seconds)} of {wanted} runs: too few conversations in that state"
        self.results.append(result)
        return result

    def page(
        self,
        name: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        prepare: Callable[[Any], Any] | None = None,
    ) -> Result:
        result = measure(
            name,
            range(self.runs + 2),
            lambda _: self.get(path, headers),
            target_ms=LIST_TARGET_MS,
            warmup=2,
            prepare=prepare,
        )
        return self.add(result, self.runs)

    def opening(self, name: str, ids: list[Any]) -> Result:
        result = measure(name, ids, lambda i: self.get(f"/m/all/{i}/", HTMX_PANE), target_ms=OPEN_TARGET_MS, warmup=1)
        return self.add(result, self.runs)

    def action(self, name: str, action: str, ids: list[Any], return_to: str, **data: Any) -> list[Any]:
        result = measure(
            name, ids, lambda i: self.act(action, i, return_to, **data), target_ms=ACTION_TARGET_MS, warmup=1
        )
        self.add(result, self.runs)
        return ids

    def conversations(self, ids: list[Any]) -> list[Conversation]:
        return list(Conversation.objects.filter(id__in=ids))

    def back_to_inbox(self, ids: list[Any]) -> None:
        ConversationState.objects.filter(user=self.cast.user, conversation_id__in=ids).update(location=Location.INBOX)

    # The figures.

    def run_lists(self) -> None:
        team, user_id = f"/teams/{self.cast.team.id}", self.cast.user.id
        self.page("Inbox list", "/m/inbox/")
        self.page("Inbox list, full page", "/m/inbox/", headers={})
        self.page("Inbox list, counts not cached", "/m/inbox/", prepare=lambda _: invalidate_counts([user_id]))
        self.page("Team inbox list", f"{team}/inbox/")
        if self.cast.quiet_team:
            self.page("Team inbox list, quietest team", f"/teams/{self.cast.quiet_team.id}/inbox/")
        self.page("All list", "/m/all/")
        visible = self.states().filter(location__in=VISIBLE_IN_ALL).order_by("-last_activity_at")
        middle = visible.values_list("last_activity_at", flat=True)[2000:2001]
        if middle:
            self.page("All list, page 41", f"/m/all/?{urlencode({'before': middle[0].isoformat()})}")
        self.page("Assigned to me list", "/m/assigned/")
        self.page("Team inboxes list", "/m/team-inboxes/")
        self.page("Team assigned list", f"{team}/assigned/")
        readable = self.states().filter(location__in=[Location.INBOX, Location.NONE, Location.ARCHIVED])
        self.opening("Open a conversation", self.take(readable))
        self.opening("Open a 50-message conversation", self.take(readable.filter(conversation__message_count__gte=50)))

    def run_actions(self) -> None:
        cast, me = self.cast, self.cast.user
        team, inbox = f"/teams/{cast.team.id}", "/m/inbox/"
        tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        team_open = self.states().filter(
            conversation__team=cast.team, conversation__status=Status.OPEN, location__in=VISIBLE_IN_ALL
        )

        ids = self.action("archive (Inbox)", "archive", self.take(self.inbox_not_assigned()), inbox)
        self.undo.append(lambda ids=ids: self.back_to_inbox(ids))
        ids = self.action(
            "archive (team inbox: closes)", "archive", self.take(self.team_inbox()), f"{team}/inbox/", from_team_inbox=1
        )
        self.undo.append(lambda ids=ids: [do_reopen(c, acting_user=me) for c in self.conversations(ids)])
        ids = self.take(team_open.filter(conversation__in_team_inbox=False))
        self.action("close", "close", ids, f"{team}/assigned/")
        self.action("reopen", "reopen", ids, f"{team}/closed/")
        ids = self.action(
            "assign", "assign", self.take(self.team_inbox()), f"{team}/inbox/", user_ids=[cast.teammate.id]
        )
        self.action("unassign", "unassign", ids, f"{team}/assigned/", user_id=cast.teammate.id)
        ids = self.action(
            "assign to me only (Mod+D)", "assign_me", self.take(self.team_inbox()), f"{team}/inbox/", replace=1
        )
        self.undo.append(lambda ids=ids: [do_unassign(c, me, acting_user=me) for c in self.conversations(ids)])
        ids = self.action("move to team", "move", self.take(team_open), f"{team}/all/", team_id=cast.other_team.id)
        self.undo.append(
            lambda ids=ids: [do_move_to_team(c, cast.team, acting_user=me) for c in self.conversations(ids)]
        )
        ids = self.action("snooze", "snooze", self.take(self.inbox_not_assigned()), inbox, until=tomorrow)
        self.action("unsnooze", "unsnooze", ids, "/m/snoozed/")
        ids = self.action(
            "snooze for everyone",
            "snooze",
            self.take(self.team_inbox()),
            f"{team}/inbox/",
            until=tomorrow,
            for_everyone=1,
        )
        self.undo.append(lambda ids=ids: [do_unsnooze(c, acting_user=me) for c in self.conversations(ids)])
        ids = self.action("trash", "trash", self.take(self.inbox_not_assigned()), inbox)
        self.action("restore", "restore", ids, "/m/trash/")
        ids = self.action(
            "trash (team inbox: for everyone)",
            "trash",
            self.take(self.team_inbox()),
            f"{team}/inbox/",
            from_team_inbox=1,
        )
        self.action("delete forever", "delete", ids, "/m/trash/")
        ids = self.action("spam", "spam", self.take(self.inbox_not_assigned()), inbox)
        self.action("not spam", "not_spam", ids, "/m/spam/")
        ids = self.take(self.states().filter(location=Location.INBOX, unread=True))
        for action in ("read", "unread", "star", "unstar", "pin", "unpin"):
            self.action(action, action, ids, inbox)

        for name, states, return_to, data in [
            ("bulk archive x100 (Inbox)", self.inbox_not_assigned(), inbox, {}),
            ("bulk archive x100 (team inbox)", self.team_inbox(), f"{team}/inbox/", {"from_team_inbox": 1}),
        ]:
            batches = [batch for batch in (self.take(states, BULK_SIZE) for _ in range(self.bulk_runs)) if batch]
            result = measure(
                name,
                batches,
                lambda ids, to=return_to, data=data: self.bulk("archive", ids, to, **data),
                target_ms=None,
            )
            if result.seconds:
                result.note = f"{result.p95 / BULK_SIZE:.1f} ms a conversation at p95"
            self.add(result, self.bulk_runs)
            every = [i for batch in batches for i in batch]
            if data:
                self.undo.append(lambda ids=every: [do_reopen(c, acting_user=me) for c in self.conversations(ids)])
            else:
                self.undo.append(lambda ids=every: self.back_to_inbox(ids))

    def run_wake(self, due: int = 1000) -> None:
        """Snooze `due` Inbox conversations of anyone into the past, then let the beat task wake them."""
        ids = list(
            ConversationState.objects.filter(organization=self.cast.organization, location=Location.INBOX)
            .exclude(conversation_id__in=self.used)
            .order_by("?")
            .values_list("id", flat=True)[:due]
        )
        past = timezone.now() - timedelta(minutes=1)
        ConversationState.objects.filter(id__in=ids).update(snoozed_until=past, location=Location.SNOOZED)
        calls = 0

        def drain(_: int) -> None:
            nonlocal calls
            while do_wake_due_snoozes():
                calls += 1

        result = measure(f"wake {len(ids):,} due snoozes (beat task)", [0], drain, target_ms=None)
        result.note = f"{calls} calls; {result.max / max(len(ids), 1):.1f} ms a snooze"
        self.results.append(result)

    def undo_changes(self) -> None:
        for undo in self.undo:
            undo()


# --- Report ---------------------------------------------------------------------------------------


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def list_query(result: Result) -> str:
    """The mailbox page's own query: the one fetching a page of rows."""
    return next((sql for _, sql in result.slowest if "LIMIT 51" in sql), result.slowest[0][1])


def table(results: list[Result]) -> list[str]:
    header = (
        f"{'':<36} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'py ms':>6} {'sql ms':>6} {'queries':>7} "
        f"{'target':>6}  result"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        if not r.seconds:
            lines.append(f"{r.name:<36} {'':>50}  SKIP  {r.note}")
            continue
        target = f"<{r.target_ms:.0f}" if r.target_ms else "-"
        lines.append(
            f"{r.name:<36} {r.p50:>7.1f} {r.p95:>7.1f} {r.max:>7.1f} {r.cpu_p50:>6.1f} {r.sql_p50:>6.1f} "
            f"{r.query_range:>7} {target:>6}  {r.verdict}" + (f"  ({r.note})" if r.note else "")
        )
    return lines


def describe(cast: Cast, loads: tuple[float, float]) -> list[str]:
    org = cast.organization
    conversations = Conversation.objects.filter(organization=org)
    user_states = ConversationState.objects.filter(user=cast.user)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BASE_DIR)  # noqa: S603, S607
    return [
        f"Benchmark of {timezone.now():%Y-%m-%d %H:%M} UTC, commit {commit.stdout.strip() or '?'}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, DEBUG={settings.DEBUG}",
        f"Database: {Conversation.objects.count():,} conversations, {Message.objects.count():,} messages, "
        f"{ConversationState.objects.count():,} conversation states",
        f"Organization {org.name}: {conversations.count():,} conversations, "
        f"{Message.objects.filter(organization=org).count():,} messages",
        f"User {cast.user.email}: {user_states.count():,} states, "
        f"{user_states.filter(location=Location.INBOX).count():,} in Inbox; "
        f"team {cast.team.name}: {conversations.filter(team=cast.team).count():,} conversations, "
        f"{conversations.filter(team=cast.team, in_team_inbox=True).count():,} in its team inbox",
        f"{RUNS} runs per figure (bulk: {BULK_RUNS}), percentiles by nearest rank, server time in process; "
        "py ms = CPU time of the Django process, sql ms = time in SQL (both p50).",
        f"Load average {loads[0]:.1f} before, {loads[1]:.1f} after: above {os.cpu_count()}, other work on the machine "
        "inflates these figures.",
    ]


def main() -> int:
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", interactive=False, verbosity=0)
    ensure_dataset(int(os.environ.get("BENCH_CONVERSATIONS", "100000")), print)
    print(f"VACUUM ANALYZE: {vacuum_analyze():.1f} s", flush=True)
    cast = pick_cast()
    invalidate_counts([cast.user.id])
    bench = Bench(cast)
    load_before = os.getloadavg()[0]
    print("Measuring lists...", flush=True)
    bench.run_lists()
    print("Measuring actions...", flush=True)
    bench.run_actions()
    print("Measuring the snooze beat task...", flush=True)
    bench.run_wake()
    print("Undoing the measured changes...", flush=True)
    load_after = os.getloadavg()[0]
    bench.undo_changes()

    say()
    for line in describe(cast, (load_before, load_after)):
        say(line)
    say()
    for line in table(bench.results):
        say(line)
    failed = [r for r in bench.results if r.verdict == "FAIL"]
    say()
    say(f"FAIL: {len(failed)} of {len(bench.results)} figures miss their target." if failed else "All targets met.")
    by_name = {r.name: r for r in bench.results}
    for name in ("Inbox list", "Team inbox list"):
        if name in by_name and by_name[name].slowest:
            say()
            say(f"EXPLAIN (ANALYZE, BUFFERS) of the {name.lower()} query:")
            sql = list_query(by_name[name])
            say(sql)
            for line in explain(sql).splitlines():
                say("  " + line)
    for result in failed:
        say()
        say(f"Slowest queries of the slowest '{result.name}' run ({result.max:.1f} ms in all):")
        for ms, sql in result.slowest[:3]:
            say(f"  {ms:7.1f} ms  {sql[:400]}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(BASE_DIR)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
