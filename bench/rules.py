"""`make bench`, rules: the rule pass on incoming messages with 200 enabled organization rules.

An organization gets 200 incoming rules, a realistic mix: text conditions on the subject, the
sender and the body, nested any/none groups, labels, assignee, state, message count and
automated-mail conditions, and non-network actions (labels, assignment in turn, notes, color,
close, star). About one rule in ten matches a given message. Messages are delivered first (no
rules yet), then the rules stage runs on each as delivery runs it (rules.triggers.incoming, one
transaction per message): evaluating the 200 rules against the current state and applying the
actions of those that match. Figures: per message p50 / p95, and the throughput of one worker
through the rules stage.

Targets (issue 8): p95 < 10 ms, >= 500 messages/s. A miss prints FAIL but the exit code stays 0.
Everything runs in one transaction rolled back at the end: nothing is left in the database.

    .venv/bin/python -m missive.services exec -- .venv/bin/python bench/rules.py [--rules N] [--messages N]
"""

# ruff: noqa: E402 - Django is set up (after the environment is ready) before the project's modules load.
from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

RULES = 200
MESSAGES = 500
TARGET_P95_MS = 10.0
TARGET_RATE = 500
WORDS = ["invoice", "refund", "order", "urgent", "newsletter", "meeting", "password", "delivery", "quote", "bug"]
DOMAINS = ["vendor.example", "client.example", "news.example", "shop.example", "partner.example"]


@dataclass
class Figures:
    rules: int
    messages: int
    millis: list[float] = field(default_factory=list)
    # The same triggers again: every rule is evaluated, the matched ones are skipped by their run.
    evaluate_millis: list[float] = field(default_factory=list)
    matched_runs: int = 0

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.millis if values is None else values)
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]

    @property
    def rate(self) -> float:
        total = sum(self.millis) / 1000
        return self.messages / total if total else 0.0

    @property
    def evaluate_rate(self) -> float:
        total = sum(self.evaluate_millis) / 1000
        return self.messages / total if total else 0.0


def _conditions(n: int, ids: dict[str, Any]) -> dict:
    word, domain = WORDS[n % len(WORDS)], DOMAINS[n % len(DOMAINS)]
    kind = n % 8
    if kind == 0:
        items = [{"field": "subject", "op": "contains", "value": f"{word} {n}"}]
    elif kind == 1:
        items = [
            {"field": "from", "op": "ends_with", "value": f"{n}.{domain}"},
            {"field": "state", "op": "is_not", "value": "closed"},
        ]
    elif kind == 2:
        items = [
            {
                "mode": "any",
                "items": [
                    {"field": "subject", "op": "starts_with", "value": f"[{word}-{n}]"},
                    {"field": "body", "op": "contains", "value": f"ticket {n}"},
                ],
            },
            {"mode": "none", "items": [{"field": "automated", "op": "is", "value": True}]},
        ]
    elif kind == 3:
        items = [
            {"field": "label", "op": "is", "value": ids["labels"][n % len(ids["labels"])]},
            {"field": "assignee", "op": "is_blank"},
        ]
    elif kind == 4:
        items = [
            {"field": "message_count", "op": "is_greater_than", "value": 50 + n},
            {"field": "to", "op": "contains", "value": "support"},
        ]
    elif kind == 5:
        items = [{"field": "content", "op": "contains", "value": f"order #{n:05d}"}]
    elif kind == 6:
        items = [{"field": "from", "op": "is", "value": f"customer{n}@{domain}"}]
    else:  # the common, matching ones: about one rule in ten (of the eight kinds' twenty-five)
        items = (
            [{"field": "subject", "op": "contains", "value": word}]
            if n % 16 == 7
            else [{"field": "subject", "op": "is", "value": f"never {n}"}]
        )
    return {"mode": "all", "items": items}


def _actions(n: int, ids: dict[str, Any]) -> list[dict]:
    choices = [
        [{"type": "add_labels", "labels": [ids["labels"][n % len(ids["labels"])]]}],
        [{"type": "assign_users", "users": ids["users"], "strategy": "in_turn"}],
        [{"type": "add_note", "text": f"Rule {n}: check this **now**"}],
        [{"type": "set_color", "color": "#ff8800"}, {"type": "star", "users": ids["users"][:1]}],
        [{"type": "add_labels", "labels": [f"Auto {n % 5}"]}, {"type": "close"}],
    ]
    return choices[n % len(choices)]


def build(rules: int) -> tuple[Any, dict[str, Any]]:
    """An organization with a team inbox account and `rules` incoming rules (none enabled yet)."""
    from conversations.models import Label
    from inboxes.models import (
        Account,
        AccountKind,
        DeliveryMode,
        Membership,
        Organization,
        Role,
        Team,
        TeamMembership,
        User,
    )

    tag = secrets.token_hex(4)
    organization = Organization.objects.create(name=f"Rules bench {tag}")
    users = []
    for n in range(4):
        user = User.objects.create(email=f"agent{n}-{tag}@rules-bench.example", name=f"Agent {n}")
        Membership.objects.create(organization=organization, user=user, role=Role.OWNER if n == 0 else Role.MEMBER)
        users.append(user)
    team = Team.objects.create(organization=organization, name="Support")
    for user in users:
        TeamMembership.objects.create(organization=organization, team=team, user=user)
    account = Account.objects.create(
        organization=organization,
        kind=AccountKind.IMAP,
        address=f"support-{tag}@rules-bench.example",
        description="Support",
        owner=users[0],
        is_shared=True,
        delivery_mode=DeliveryMode.TEAM_INBOX,
        team=team,
    )
    labels = [Label.objects.create(organization=organization, name=f"Topic {n}") for n in range(10)]
    ids = {"users": [str(u.id) for u in users], "labels": [str(label.id) for label in labels]}
    return account, ids


def create_rules(account: Any, ids: dict[str, Any], count: int) -> None:
    from rules.models import Rule, Trigger

    Rule.objects.bulk_create(
        Rule(
            organization_id=account.organization_id,
            description=f"{n:03d} bench rule",
            trigger=Trigger.INCOMING,
            conditions=_conditions(n, ids),
            actions=_actions(n, ids),
        )
        for n in range(count)
    )
    from rules.engine import forget_rule_presence

    forget_rule_presence(account.organization_id)


def deliver(account: Any, count: int) -> list[Any]:
    from conversations.delivery import do_receive_message
    from conversations.incoming import IncomingMessage

    messages = []
    for n in range(count):
        word, domain = WORDS[n % len(WORDS)], DOMAINS[n % len(DOMAINS)]
        incoming = IncomingMessage(
            from_address=f"customer{n}@{domain}",
            from_name=f"Customer {n}",
            subject=f"About your {word} #{n:05d}",
            body_text=f"Hello,\n\nsome words about the {word}, order #{n:05d}.\n\nOn Monday, A wrote:\n> older",
            to=[{"name": "Support", "address": account.address}],
            rfc_message_id=f"<bench-{n}-{secrets.token_hex(4)}@{domain}>",
        )
        messages.append(do_receive_message(account, incoming))
    return messages


def run_benchmark(*, rules: int = RULES, messages: int = MESSAGES) -> Figures:
    """Build, deliver, then time the rules stage on each message (call inside a transaction)."""
    from rules import triggers
    from rules.models import RuleRun

    account, ids = build(rules)
    delivered = deliver(account, messages)
    create_rules(account, ids, rules)
    figures = Figures(rules, messages)
    for message in delivered:
        started = time.perf_counter()
        triggers.incoming(account, [(message, True)], None)
        figures.millis.append((time.perf_counter() - started) * 1000)
    for message in delivered:
        started = time.perf_counter()
        triggers.incoming(account, [(message, False)], None)  # a retried delivery: the message exists
        figures.evaluate_millis.append((time.perf_counter() - started) * 1000)
    figures.matched_runs = RuleRun.objects.filter(organization_id=account.organization_id).count()
    return figures


def report(figures: Figures) -> list[str]:
    p50, p95 = figures.percentile(50), figures.percentile(95)
    ok_latency, ok_rate = p95 < TARGET_P95_MS, figures.rate >= TARGET_RATE
    return [
        f"Rules: {figures.rules} enabled organization rules, {figures.messages} incoming messages, "
        f"{figures.matched_runs} rule runs (matched rules)",
        f"Per message (evaluate + apply): p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {max(figures.millis):.2f} ms "
        f"(target p95 < {TARGET_P95_MS:.0f} ms): {'PASS' if ok_latency else 'FAIL'}",
        f"One worker through the rules stage: {figures.rate:,.0f} messages/s "
        f"(target >= {TARGET_RATE}): {'PASS' if ok_rate else 'FAIL'}",
        f"Evaluation alone (the same triggers again, actions already applied): "
        f"p50 {figures.percentile(50, figures.evaluate_millis):.2f} ms, "
        f"p95 {figures.percentile(95, figures.evaluate_millis):.2f} ms, {figures.evaluate_rate:,.0f} messages/s",
    ]


class _Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=RULES)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    if "ENCRYPTION_KEY" not in os.environ:
        from cryptography.fernet import Fernet

        os.environ["ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    # `make bench` may run on a database `make run` never migrated.
    call_command("migrate", interactive=False, verbosity=0)

    try:
        with transaction.atomic():
            figures = run_benchmark(rules=args.rules, messages=args.messages)
            raise _Rollback
    except _Rollback:
        pass
    for line in report(figures):
        print(line)


if __name__ == "__main__":
    main()
