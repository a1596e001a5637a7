"""`make bench`: server time and query counts of the mailbox pages and the triage actions at scale.

Requests go through django.test.Client in this process, so a figure is server time (middleware,
view, queries, templates) without the network, with DEBUG off as in production. Each size in
BENCH_SIZES (messages; default 100,000 and 1,000,000, five per conversation) is measured
BENCH_ROUNDS times (default 2), the sizes taking turns, each time in a process of its own, against
a dataset from `manage.py generate_dataset` kept in a database of its own (missive_bench_100k,
missive_bench_1m, ... on the same server), created, migrated and generated when missing or of
another size, and reused otherwise. The last tables and the comparison pool each figure's runs of
every round. The benchmark user is the busiest
active member of the busiest team of the biggest organization.

Actions change the dataset as they would in use; pairs (close/reopen, trash/restore, ...) undo
each other, so repeated runs measure much the same data. After the tables of each size comes their
comparison: a figure more than twice as slow at the largest size as at the smallest fails (issue
7), and so does a list or search query whose plan scans a big table. Missed targets print FAIL,
but the exit code stays 0: the figures are the point. They are also written to
bench/results/latest.txt.
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
    # Production-like: DEBUG off (no debug toolbar-like costs, the cached template loader, the
    # static manifest). Its required settings get throwaway values, since nothing leaves this process.
    # (Set, not defaulted: `missive.services exec`, which `make bench` runs this under, turns
    # DEBUG on for development.)
    os.environ["DEBUG"] = "false"
    from cryptography.fernet import Fernet

    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, reset_queries
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.searches import run_searches
from conversations.actions import (
    do_move_to_team,
    do_reopen,
    do_unassign,
    do_unsnooze,
    do_wake_due_snoozes,
)
from conversations.counts import invalidate_counts
from conversations.management.commands.generate_dataset import MESSAGES_PER_CONVERSATION, dataset_organizations
from conversations.models import (
    VISIBLE_IN_ALL,
    VISIBLE_IN_TEAM_INBOX,
    Assignment,
    Comment,
    Conversation,
    ConversationState,
    Location,
    Message,
    Status,
)
from conversations.views import PAGE_SIZE
from inboxes.models import Organization, Team, TeamMembership, TeamRole, User
from missive.heap import freeze_startup_objects

# Sizes in messages, smallest first; the comparison is between the first and the last.
SIZES = sorted(int(size) for size in os.environ.get("BENCH_SIZES", "100000,1000000").split(","))
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
# Each size is measured this many times, alternating with the others; see pooled().
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
BULK_RUNS = int(os.environ.get("BENCH_BULK_RUNS", "5"))
BULK_SIZE = 100
LIST_TARGET_MS = 50  # issue 7: list views p95
OPEN_TARGET_MS = 80  # issue 7: opening a conversation p95
SEARCH_TARGET_MS = 150  # issue 7: search p95
GROWTH_LIMIT = 2.0  # issue 7: no figure more than twice as slow at 1,000,000 messages as at 100,000
# A list or search query must reach these through an index, never by reading the whole table.
BIG_TABLES = {ConversationState._meta.db_table, Conversation._meta.db_table, Message._meta.db_table}
ACTION_TARGET_MS = 100  # issue 4: each action
RESULTS = BASE_DIR / "bench" / "results" / "latest.txt"
# Each size's process caches in a Redis database of its own, from this one on (0 is the app's).
REDIS_FIRST_DATABASE = 8
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
    # The query whose plan must use indexes (a list's page of rows, a search), if any.
    plan_sql: str = ""

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


def ensure_dataset(messages: int, say: Callable[[str], None]) -> None:
    """Generate the dataset unless one of about this size exists (runs delete a few conversations)."""
    conversations = messages // MESSAGES_PER_CONVERSATION
    organizations = dataset_organizations()
    existing = Conversation.objects.filter(organization__in=organizations).count()
    existing_messages = Message.objects.filter(organization__in=organizations).count()
    has_comments = Comment.objects.filter(organization__in=organizations).exists()
    if existing and has_comments and abs(existing_messages - messages) <= messages * 0.02:
        say(f"Using the generated dataset ({existing_messages:,} messages, {existing:,} conversations).")
        return
    say(f"Generating a dataset of {messages:,} messages in {conversations:,} conversations (found {existing:,}).")
    call_command("generate_dataset", messages=messages, conversations=conversations, reset=bool(existing))


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
        # The page of rows: the one query of a list that grows with the mailbox.
        self.check_plan(result, f"LIMIT {PAGE_SIZE + 1}")
        return self.add(result, self.runs)

    def check_plan(self, result: Result, sql_contains: str) -> None:
        """Have the report EXPLAIN the measured query containing `sql_contains` and check that it
        reads the big tables through indexes (searches register theirs the same way)."""
        result.plan_sql = next((sql for _, sql in result.slowest if sql_contains in sql), "")

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
        bulk = self.run_bulk()
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

        # Measured first, as the smallest dataset has few conversations in its team inbox; the
        # batches are back in place for the actions above, and listed after them.
        self.results.extend(bulk)

    def run_bulk(self) -> list[Result]:
        """Bulk archive of 100, from the Inbox and from the team inbox. One batch each, put back
        (untimed) before each run and after the last: every run archives as many conversations
        at every size, and the actions measured next can use them too."""
        cast, me = self.cast, self.cast.user
        team, inbox = f"/teams/{cast.team.id}", "/m/inbox/"
        results = []
        for name, states, return_to, data in [
            ("bulk archive x100 (Inbox)", self.inbox_not_assigned(), inbox, {}),
            ("bulk archive x100 (team inbox)", self.team_inbox(), f"{team}/inbox/", {"from_team_inbox": 1}),
        ]:
            batch = self.take(states, BULK_SIZE)

            def put_back(ids: list[Any], from_team_inbox: bool = bool(data)) -> None:
                if from_team_inbox:  # reopening a conversation already open changes nothing
                    for conversation in self.conversations(ids):
                        do_reopen(conversation, acting_user=me)
                else:
                    self.back_to_inbox(ids)

            result = measure(
                name,
                [batch] * self.bulk_runs if len(batch) == BULK_SIZE else [],
                lambda ids, to=return_to, data=data: self.bulk("archive", ids, to, **data),
                target_ms=None,
                prepare=put_back,
            )
            if result.seconds:
                result.note = f"{result.p95 / BULK_SIZE:.1f} ms a conversation at p95"
            else:
                result.note = f"only {len(batch)} conversations in that state: {BULK_SIZE} needed"
            results.append(result)
            put_back(batch)
            self.used.difference_update(batch)
        return results

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


@dataclass
class PlanCheck:
    name: str
    # Every table read by the plan, as "Seq Scan on t" or "Index Scan using i on t".
    reads: list[str]

    @property
    def seq_scans(self) -> list[str]:
        return [read for read in self.reads if read.startswith("Seq Scan") and read.split()[-1] in BIG_TABLES]

    @property
    def verdict(self) -> str:
        return "FAIL" if self.seq_scans else "PASS"


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def check_indexes(name: str, sql: str) -> PlanCheck:
    """The plan PostgreSQL picks for `sql`, reduced to how it reads each table."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        document = cursor.fetchone()[0]
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    reads = []
    for node in plan_nodes(plan):
        if "Relation Name" in node:
            using = f" using {node['Index Name']}" if "Index Name" in node else ""
            reads.append(f"{node['Node Type']}{using} on {node['Relation Name']}")
    return PlanCheck(name, reads)


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


def size_label(messages: int) -> str:
    """100000 -> "100k", 1000000 -> "1m": for database names and column headers."""
    for unit, label in ((1_000_000, "m"), (1_000, "k")):
        if messages >= unit and messages % unit == 0:
            return f"{messages // unit}{label}"
    return str(messages)


def pooled(rounds: list[list[Result]]) -> list[Result]:
    """Each figure with the runs of every round of its size. The rounds alternate the sizes, so
    a stretch of other load on the machine (on this one, the same request took up to half as
    long again from one run to the next) falls on every size rather than on one, and the
    comparison compares the sizes rather than the moments they were measured at."""
    merged: dict[str, Result] = {}
    for results in rounds:
        for result in results:
            if result.name not in merged:
                merged[result.name] = copy.deepcopy(result)
                continue
            into = merged[result.name]
            if result.seconds and (not into.seconds or max(result.seconds) > max(into.seconds)):
                into.slowest = result.slowest
            into.seconds += result.seconds
            into.queries += result.queries
            into.cpu_seconds += result.cpu_seconds
            into.sql_seconds += result.sql_seconds
            into.note = into.note or result.note
    return list(merged.values())


def comparison(sizes: list[tuple[int, list[Result]]]) -> list[str]:
    """p95 of each figure at each size; FAIL when the largest size is more than GROWTH_LIMIT times
    the smallest (issue 7: the figures must not grow with the data)."""
    labels = [size_label(messages) for messages, _ in sizes]
    header = f"{'p95 ms':<36} " + " ".join(f"{label:>8}" for label in labels) + f" {'ratio':>6}  result"
    lines = [header, "-" * len(header)]
    by_size = [{r.name: r for r in results} for _, results in sizes]
    for name in dict.fromkeys(r.name for _, results in sizes for r in results):
        found = [results.get(name) for results in by_size]
        p95s = [r.p95 if r is not None and r.seconds else None for r in found]
        cells = " ".join(f"{p:>8.1f}" if p is not None else f"{'-':>8}" for p in p95s)
        if p95s[0] is None or p95s[-1] is None or len(p95s) < 2:
            lines.append(f"{name:<36} {cells} {'':>6}  SKIP")
            continue
        ratio = p95s[-1] / p95s[0]
        verdict = "FAIL" if ratio > GROWTH_LIMIT else "PASS"
        lines.append(f"{name:<36} {cells} {ratio:>6.2f}  {verdict}")
    return lines


def describe(cast: Cast, loads: tuple[float, float]) -> list[str]:
    org = cast.organization
    conversations = Conversation.objects.filter(organization=org)
    user_states = ConversationState.objects.filter(user=cast.user)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BASE_DIR)  # noqa: S603, S607
    return [
        f"Benchmark of {timezone.now():%Y-%m-%d %H:%M} UTC, commit {commit.stdout.strip() or '?'}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, DEBUG={settings.DEBUG}, "
        f"database {connection.settings_dict['NAME']}",
        f"Database: {Conversation.objects.count():,} conversations, {Message.objects.count():,} messages, "
        f"{Comment.objects.count():,} comments, {ConversationState.objects.count():,} conversation states",
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


def prepare_static_files() -> None:
    """Without DEBUG, pages name static files through the manifest `collectstatic` writes. It
    runs every time (copying only what changed): a manifest left by older code lacks new files."""
    if not settings.DEBUG:
        call_command("collectstatic", interactive=False, verbosity=0)


def measure_size(messages: int) -> tuple[list[str], list[Result]]:
    """Every figure against a dataset of `messages` messages, in the database this process uses."""
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", interactive=False, verbosity=0)
    prepare_static_files()
    ensure_dataset(messages, print)
    print(f"VACUUM ANALYZE: {vacuum_analyze():.1f} s", flush=True)
    cast = pick_cast()
    invalidate_counts([cast.user.id])
    bench = Bench(cast)
    freeze_startup_objects()  # as the web process does (missive/asgi.py)
    load_before = os.getloadavg()[0]
    print("Measuring lists...", flush=True)
    bench.run_lists()
    print("Measuring searches...", flush=True)
    run_searches(bench)
    print("Measuring actions...", flush=True)
    bench.run_actions()
    print("Measuring the snooze beat task...", flush=True)
    bench.run_wake()
    print("Undoing the measured changes...", flush=True)
    load_after = os.getloadavg()[0]
    bench.undo_changes()

    say()
    say(f"=== {messages:,} messages ===")
    for line in describe(cast, (load_before, load_after)):
        say(line)
    say()
    for line in table(bench.results):
        say(line)
    failed = [r for r in bench.results if r.verdict == "FAIL"]
    say()
    say(f"FAIL: {len(failed)} of {len(bench.results)} figures miss their target." if failed else "All targets met.")
    say()
    say("Index use of the list and search queries (no Seq Scan on " + ", ".join(sorted(BIG_TABLES)) + "):")
    for result in bench.results:
        if result.plan_sql:
            check = check_indexes(result.name, result.plan_sql)
            say(f"  {check.verdict}  {check.name}: " + "; ".join(check.reads))
    by_name = {r.name: r for r in bench.results}
    for name in ("Inbox list", "Team inbox list"):
        if name in by_name and by_name[name].plan_sql:
            say()
            say(f"EXPLAIN (ANALYZE, BUFFERS) of the {name.lower()} query:")
            say(by_name[name].plan_sql)
            for line in explain(by_name[name].plan_sql).splitlines():
                say("  " + line)
    for result in failed:
        say()
        say(f"Slowest queries of the slowest '{result.name}' run ({result.max:.1f} ms in all):")
        for ms, sql in result.slowest[:3]:
            say(f"  {ms:7.1f} ms  {sql[:400]}")
    return lines, bench.results


# --- One process per size -------------------------------------------------------------------------


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def size_environment(index: int, messages: int) -> dict[str, str]:
    """The environment of the process measuring one size: a database of its own when this server
    lets us create one (else the configured one, regenerated for each size), and a Redis database
    of its own, as the generated people have the same ids at every size and cached counts would
    leak from one dataset to the other."""
    env = dict(os.environ)
    name = f"missive_bench_{size_label(messages)}"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = with_path(os.environ["DATABASE_URL"], f"/{name}")
    except DatabaseError as error:
        print(f"Cannot create the database {name} ({error}); regenerating in the configured one.", flush=True)
    redis = urlsplit(os.environ["REDIS_URL"])
    if redis.scheme in ("redis", "rediss"):
        env["REDIS_URL"] = with_path(os.environ["REDIS_URL"], f"/{REDIS_FIRST_DATABASE + index}")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="Measure this many messages here (one child process's part).")
    parser.add_argument("--output", type=Path, help="Where the child writes its lines and figures (JSON).")
    args = parser.parse_args()
    if args.size:
        report, results = measure_size(args.size)
        if args.output:
            args.output.write_text(json.dumps({"lines": report, "results": [asdict(r) for r in results]}))
        return 0

    lines: list[str] = []
    rounds: dict[int, list[list[Result]]] = {messages: [] for messages in SIZES}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, ROUNDS + 1):
            for index, messages in enumerate(SIZES):
                heading = f"--- {messages:,} messages, round {number} of {ROUNDS} ---"
                print(f"\n{heading}", flush=True)
                lines += ["", heading]
                output = Path(folder) / f"{messages}.json"
                command = [sys.executable, str(Path(__file__).resolve()), "--size", str(messages)]
                command += ["--output", str(output)]
                subprocess.run(command, env=size_environment(index, messages), check=True)  # noqa: S603
                child = json.loads(output.read_text())
                lines.extend(child["lines"])
                rounds[messages].append([Result(**fields) for fields in child["results"]])
    measured = [(messages, pooled(results)) for messages, results in rounds.items()]
    if ROUNDS > 1:
        for messages, results in measured:
            failed = sum(1 for r in results if r.verdict == "FAIL")
            together = [
                "",
                f"=== {messages:,} messages, the {ROUNDS} rounds' runs together ===",
                *table(results),
                "",
                f"FAIL: {failed} of {len(results)} figures miss their target." if failed else "All targets met.",
            ]
            print("\n".join(together), flush=True)
            lines += together
    if len(measured) > 1:
        growth = [
            "",
            f"=== p95 at each size: FAIL when more than {GROWTH_LIMIT:g}x from the smallest to the largest ===",
            *comparison(measured),
        ]
        print("\n".join(growth), flush=True)
        lines += growth
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(BASE_DIR)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
