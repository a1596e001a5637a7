"""`make bench`: POST /v1/messages (custom channel ingestion) against the real web process.

Starts the web process as `make run` does (uvicorn serving missive.asgi on loopback, DEBUG off)
against a database of its own (missive_bench_api, created and migrated when missing), with rate
limits raised for the run (API_RATE_LIMIT_* in the web process's environment) and
BENCH_API_WORKERS uvicorn workers (default 2, one per core). One person's token then sends
messages with aiohttp, each with its own external id, threaded into BENCH_API_CONVERSATIONS chats
(default 200) by references, in two runs of BENCH_API_REQUESTS (default 2000):

- Paced (open loop), the target's own terms, "sustains 200 requests/s with p95 under 50 ms":
  request n leaves at n / BENCH_API_RATE seconds (default 200/s) whatever happened to the ones
  before it, and its latency counts from that moment. A server that cannot keep up falls behind
  and every later request shows it (no coordinated omission). Printed: p50/p95/max, PASS/FAIL.
- Saturated (closed loop), the capacity: BENCH_API_CONCURRENCY clients (default 16) each send
  the next request as soon as the last is answered. Printed: requests/s, PASS/FAIL against 200,
  and the latencies, which at saturation are queueing (clients / rate), not the server's speed.

Then, for scale, the same number of the lightest authenticated request (GET /v1/organizations),
saturated: what the web stack alone allows on this machine. The exit code is 1 if any request
failed.
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.
from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "missive_bench_api"
REDIS_DATABASE = 12  # bench/cowrite.py uses 13, bench/live.py 14, bench/run.py the ones before 12

if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    from bench.startup import set_up_django

    set_up_django(DATABASE, REDIS_DATABASE)

import aiohttp
from django.core.management import call_command

from bench.live import web_process
from channels_app.api.tokens import create_token
from channels_app.custom.accounts import do_create_custom_channel
from inboxes.models import Account, Membership, Organization, Role, Team, TeamMembership, User

REQUESTS = int(os.environ.get("BENCH_API_REQUESTS", "2000"))
# uvicorn's worker processes (it reads WEB_CONCURRENCY): one per core of this 2-core machine.
WORKERS = os.environ.get("BENCH_API_WORKERS", "2")
CONCURRENCY = int(os.environ.get("BENCH_API_CONCURRENCY", "16"))
RATE = float(os.environ.get("BENCH_API_RATE", "200"))
# Connections the paced run may open: enough that the client never holds a request back.
PACED_CONNECTIONS = 256
CONVERSATIONS = int(os.environ.get("BENCH_API_CONVERSATIONS", "200"))
TARGET_RATE = 200.0
TARGET_P95_SECONDS = 0.050
EMAIL_DOMAIN = "api-bench.test"
# The web process's limits for the run: the benchmark measures the endpoint, not the limiter.
RATE_LIMITS = {
    # As docker-compose.yml runs it: pooled database connections.
    "DB_POOL_MAX_SIZE": "8",
    "API_RATE_LIMIT_CONCURRENT": "1000",
    "API_RATE_LIMIT_PER_MINUTE": "10000000",
    "API_RATE_LIMIT_PER_15_MINUTES": "10000000",
}


@dataclass
class Figures:
    requests: int
    concurrency: int
    conversations: int
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Set for a paced run: the requests per second offered, whatever the answers.
    offered_rate: float | None = None
    # The paced run of the same messages, and the same stack's lightest authenticated GET.
    paced: Figures | None = None
    floor: Figures | None = None

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("inf")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        paced = self.paced is not None and self.paced.percentile(95) < TARGET_P95_SECONDS
        return paced and self.rate >= TARGET_RATE


def prepare() -> tuple[str, str]:
    """A team sharing one Text custom channel, and its owner's API token. A previous run's
    organization and people are removed first."""
    # Accounts first: a team's deletion would leave a team-inbox account without its team.
    Account.objects.filter(organization__name="API bench").delete()
    Organization.objects.filter(name="API bench").delete()
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    organization = Organization.objects.create(name="API bench")
    people = [User.objects.create_user(f"person{n}@{EMAIL_DOMAIN}", name=f"Person {n}") for n in range(3)]
    team = Team.objects.create(organization=organization, name="Support")
    for n, user in enumerate(people):
        Membership.objects.create(organization=organization, user=user, role=Role.OWNER if n == 0 else Role.MEMBER)
        TeamMembership.objects.create(organization=organization, team=team, user=user)
    account = do_create_custom_channel(
        organization, owner=people[0], name="Bench chat", message_type="text", team=team, shared=True
    )
    _, token = create_token(people[0], "bench")
    return str(account.id), token


# One request of a run: method, path, JSON body (None for a GET) and the status that means success.
Request = tuple[str, str, dict | None, int]


def message_request(account: str, run: str, conversations: int) -> Callable[[int], Request]:
    """The n-th POST /v1/messages: its own external id, threaded into chat n % conversations."""

    def request(n: int) -> Request:
        chat = n % conversations
        body = {
            "messages": {
                "account": account,
                "body": f"Message {n} in chat {chat}",
                "from_field": {"id": f"user-{chat}", "username": f"@user{chat}", "name": f"User {chat}"},
                "external_id": f"{run}-{n}",
                "references": [f"{run}-chat-{chat}"],
            }
        }
        return "POST", "/v1/messages", body, 201

    return request


def floor_request(n: int) -> Request:
    """The lightest authenticated endpoint (the token and one small query): what the stack itself
    costs per request, middleware, authentication and JSON included."""
    return "GET", "/v1/organizations", None, 200


async def _send(
    session: aiohttp.ClientSession, url: str, headers: dict, figures: Figures, request: Request, since: float
) -> None:
    """One request; its latency (from `since`) is kept when it got the expected status."""
    method, path, body, expected = request
    try:
        async with session.request(method, f"{url}{path}", json=body, headers=headers) as response:
            text = await response.text()
            if response.status != expected:
                figures.failures.append(f"{method} {path}: HTTP {response.status} {text[:200]}")
                return
    except aiohttp.ClientError as error:
        figures.failures.append(f"{method} {path}: {error!r}")
        return
    figures.latencies.append(time.monotonic() - since)


async def _drive(url: str, token: str, figures: Figures, request_for: Callable[[int], Request]) -> None:
    """Closed loop: `figures.concurrency` clients, each sending its next request when answered."""
    headers = {"Authorization": f"Bearer {token}"}
    numbers = iter(range(figures.requests))

    async def client(session: aiohttp.ClientSession) -> None:
        for n in numbers:
            await _send(session, url, headers, figures, request_for(n), time.monotonic())

    connector = aiohttp.TCPConnector(limit=figures.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(client(session) for _ in range(figures.concurrency)))
        figures.seconds = time.monotonic() - started


async def _pace(url: str, token: str, figures: Figures, request_for: Callable[[int], Request], rate: float) -> None:
    """Open loop: request n leaves at n / rate seconds, its latency counted from then."""
    headers = {"Authorization": f"Bearer {token}"}

    async def at_its_time(session: aiohttp.ClientSession, started: float, n: int) -> None:
        due = started + n / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await _send(session, url, headers, figures, request_for(n), due)

    connector = aiohttp.TCPConnector(limit=PACED_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(at_its_time(session, started, n) for n in range(figures.requests)))
        figures.seconds = time.monotonic() - started


def run_benchmark(
    *,
    requests: int,
    concurrency: int,
    conversations: int,
    web_env: dict[str, str],
    rate: float = RATE,
    say: Callable[[str], None] = print,
) -> Figures:
    """POST /v1/messages `requests` times saturated; in `paced`, `requests` more offered at `rate`
    per second; then, in `floor`, the same number of the lightest GET, saturated."""
    figures = Figures(requests, concurrency, conversations)
    account, token = prepare()
    with web_process({**web_env, **RATE_LIMITS, "WEB_CONCURRENCY": WORKERS}) as (_, url):
        run = secrets.token_hex(4)
        say("Warming up...")
        warm = Figures(min(50, requests), concurrency, conversations)
        asyncio.run(_drive(url, token, warm, message_request(account, f"warm-{run}", conversations)))
        say(f"Sending {requests} messages at {rate:g} per second...")
        figures.paced = Figures(requests, 0, conversations, offered_rate=rate)
        asyncio.run(_pace(url, token, figures.paced, message_request(account, f"paced-{run}", conversations), rate))
        say(f"Sending {requests} messages, {concurrency} at a time...")
        asyncio.run(_drive(url, token, figures, message_request(account, run, conversations)))
        say(f"Sending {requests} GET /v1/organizations, {concurrency} at a time...")
        figures.floor = Figures(requests, concurrency, 0)
        asyncio.run(_drive(url, token, figures.floor, floor_request))
    return figures


def report(figures: Figures) -> list[str]:
    verdict = {True: "PASS", False: "FAIL"}
    lines = [
        f"POST /v1/messages: {figures.conversations} conversations, "
        f"{len(figures.failures) + (len(figures.paced.failures) if figures.paced else 0)} failed"
    ]
    paced = figures.paced
    if paced is not None and paced.latencies:
        p95 = paced.percentile(95)
        lines += [
            f"Paced: {paced.requests} requests offered at {paced.offered_rate:g}/s (open loop)",
            f"  {'Latency p50':<38} {paced.percentile(50) * 1000:8.1f} ms",
            f"  {'Latency p95 (target < 50 ms)':<38} {p95 * 1000:8.1f} ms  {verdict[p95 < TARGET_P95_SECONDS]}",
            f"  {'Latency max':<38} {paced.percentile(100) * 1000:8.1f} ms",
            f"  {'Answered per second':<38} {paced.rate:8.1f}",
        ]
    lines += [
        f"Saturated: {figures.requests} requests, {figures.concurrency} concurrent (closed loop)",
        f"  {'Requests/s (target >= 200)':<38} {figures.rate:8.1f}  {verdict[figures.rate >= TARGET_RATE]}",
        f"  {'Latency p50 (queueing)':<38} {figures.percentile(50) * 1000:8.1f} ms",
        f"  {'Latency p95 (queueing)':<38} {figures.percentile(95) * 1000:8.1f} ms",
        *_floor_lines(figures.floor),
    ]
    return lines


def _floor_lines(floor: Figures | None) -> list[str]:
    if floor is None or not floor.latencies:
        return []
    return [
        f"Same stack, saturated, GET /v1/organizations (token + one query): {len(floor.failures)} failed",
        f"  {'Requests/s':<38} {floor.rate:8.1f}",
        f"  {'Latency p95 (queueing)':<38} {floor.percentile(95) * 1000:8.1f} ms",
    ]


def main() -> int:
    call_command("migrate", interactive=False, verbosity=0)
    web_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "missive.settings"}
    figures = run_benchmark(requests=REQUESTS, concurrency=CONCURRENCY, conversations=CONVERSATIONS, web_env=web_env)
    print()
    print("\n".join(report(figures)))
    failures = [
        *figures.failures,
        *(figures.paced.failures if figures.paced else []),
        *(figures.floor.failures if figures.floor else []),
    ]
    for failure in failures[:5]:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
