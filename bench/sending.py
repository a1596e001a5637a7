"""`make bench`, sending: the outbox dispatcher's throughput to a local SMTP listener.

1,000 messages (text and HTML, one recipient, a Cc and a Bcc) are queued on one account, as the
send action leaves them (a Message and a PENDING OutboxMessage each), then `dispatch_due` sends
them in this process the way the worker's task does: claim a batch, one SMTP session (STARTTLS
and AUTH) per account, TRANSMITTING committed before each DATA, SENT after. The listener is
tests/smtp_server.py (aiosmtpd on loopback) and stamps each arrival: the gaps between arrivals
give the time per message (p50 / p95), the whole run messages/s. Every message must arrive once
and every row must be SENT.

Target (issue 6): at least 50 messages/s. A miss prints FAIL but the exit code stays 0. Figures
are appended to bench/results/sending.txt. Runs with DEBUG off, like bench/imap_sync.py.

    .venv/bin/python -m missive.services exec -- .venv/bin/python bench/sending.py [--messages N] [--keep]
"""

# ruff: noqa: E402 - Django is set up (after the environment is ready) before the project's modules load.
from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from tests.smtp_server import SmtpServer

MESSAGES = 1000
TARGET_RATE = 50
BENCH_DOMAIN = "@sending-bench.example"
RESULTS = BASE_DIR / "bench" / "results" / "sending.txt"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def prepare_environment(workdir: Path, server: SmtpServer) -> None:
    assert server.cert_path is not None
    os.environ["IMAP_EXTRA_CA_FILE"] = str(server.cert_path)
    os.environ["FILE_STORAGE_ROOT"] = str(workdir / "files")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
    from cryptography.fernet import Fernet

    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")


def make_account(server: SmtpServer):  # type: ignore[no-untyped-def]
    from channels_app.models import ImapConfig
    from inboxes.models import Account, AccountKind, Membership, Organization, Role, User

    tag = secrets.token_hex(4)
    owner = User.objects.create(email=f"owner-{tag}{BENCH_DOMAIN}", name="Bench Owner")
    organization = Organization.objects.create(name=f"Sending bench {tag}")
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    account = Account(organization=organization, kind=AccountKind.IMAP, address=f"box-{tag}{BENCH_DOMAIN}", owner=owner)
    account.description = account.address
    account.credentials = {"imap_password": "unused", "smtp_password": "bench-secret"}
    account.save()
    server.users[f"bench-{tag}"] = "bench-secret"
    ImapConfig.objects.create(
        organization=organization,
        account=account,
        imap_host=server.host,
        imap_username=f"bench-{tag}",
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security="starttls",
        smtp_username=f"bench-{tag}",
    )
    return account


def queue(account, count: int) -> float:  # type: ignore[no-untyped-def]
    from tests.outbox_factory import outgoing

    started = time.perf_counter()
    for n in range(count):
        outgoing(
            account,
            to=[{"name": f"Customer {n}", "address": f"customer{n}@outside.example"}],
            cc=["Sales <sales@outside.example>"],
            bcc=["archive@outside.example"],
            subject=f"Your order #{n:05d}",
            body_text=f"Hello,\n\nyour order #{n:05d} has shipped.\n\nRegards",
            body_html=f"<p>Hello,</p><p>your order <b>#{n:05d}</b> has shipped.</p><p>Regards</p>",
        )
    return time.perf_counter() - started


def _git_commit() -> str:
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=BASE_DIR)  # noqa: S603, S607

    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return f"{head} with uncommitted changes" if head and dirty else head


def run(server: SmtpServer, messages: int) -> list[str]:
    from channels_app.outbox import dispatch_due
    from conversations.models import OutboxMessage, OutboxStatus

    account = make_account(server)
    setup = queue(account, messages)
    server.reset()
    started = time.perf_counter()
    batches = 0
    while True:
        result = dispatch_due()
        batches += 1
        if not (result.sent or result.retrying or result.failed or result.released):
            break
    # The last, empty, claim is not part of the sending.
    elapsed = (server.received[-1].arrived_at if server.received else time.perf_counter()) - started
    arrivals = [started] + [r.arrived_at for r in server.received]
    gaps = [(b - a) * 1000 for a, b in zip(arrivals, arrivals[1:], strict=False)]
    sent = OutboxMessage.objects.filter(account=account, status=OutboxStatus.SENT).count()
    rate = len(server.received) / elapsed if elapsed else 0.0
    problems = []
    if len(server.received) != messages:
        problems.append(f"the listener received {len(server.received):,} messages, expected {messages:,}")
    if sent != messages:
        problems.append(f"{sent:,} rows SENT, expected {messages:,}")
    ok = rate >= TARGET_RATE and not problems
    lines = [
        f"Sending benchmark of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_git_commit() or '?'}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        f"Queue: {messages:,} messages on one account (setup {setup:.1f} s, not measured); "
        f"sent in {batches - 1} claimed batches over STARTTLS + AUTH to aiosmtpd on loopback",
        f"Dispatch: {elapsed:.2f} s, {rate:,.0f} messages/s; per message p50 {percentile(gaps, 50):.1f} ms, "
        f"p95 {percentile(gaps, 95):.1f} ms, max {max(gaps, default=0):.1f} ms",
        f"Checks: {len(server.received):,} received, {sent:,} rows SENT" + "".join(f"; problem: {p}" for p in problems),
        f"Throughput {rate:,.0f} messages/s, target >= {TARGET_RATE}: {'PASS' if ok else 'FAIL'}",
    ]
    return lines


def remove_benchmark_data() -> None:
    from inboxes.models import Account, User

    for account in Account.objects.filter(address__endswith=BENCH_DOMAIN).select_related("organization"):
        owner_id = account.owner_id
        account.organization.delete()
        User.objects.filter(pk=owner_id).delete()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--keep", action="store_true", help="keep the organization and messages created")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="missive-sending-bench-"))
    server = SmtpServer()
    django_ready = False
    try:
        server.start()
        prepare_environment(workdir, server)
        import django
        from django.core.management import call_command

        django.setup()
        django_ready = True
        call_command("migrate", interactive=False, verbosity=0)
        lines = run(server, args.messages)
        print()
        for line in lines:
            print(line, flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as results:
            results.write("\n".join(lines) + "\n\n")
        print(f"\nAppended to {RESULTS.relative_to(BASE_DIR)}")
        return 0
    finally:
        try:
            if django_ready and not args.keep:
                remove_benchmark_data()
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
