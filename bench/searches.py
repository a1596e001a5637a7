"""The ten searches `make bench` times: common and rare words, phrases, prefixes, operators and
filters, both orders, as the benchmark user types them in the Inbox (which searches All)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from conversations.models import Conversation, Label

if TYPE_CHECKING:
    from bench.run import Bench

SEARCH_TARGET_MS = 150  # issue 7: search p95
HTMX_LIST = {"HX-Request": "true", "HX-Target": "conversation-list"}


def searches(bench: Bench) -> list[tuple[str, str, str]]:
    """(name, query, sort) for the benchmark's organization; values come from its data."""
    organization = bench.cast.organization
    # A rare term: one order number that exists.
    subject = (
        Conversation.objects.filter(organization=organization, subject__startswith="Where is my order #")
        .values_list("subject", flat=True)
        .first()
    )
    order = subject.rsplit("#", 1)[1] if subject else "1234"
    label = Label.objects.filter(organization=organization, parent__isnull=True).order_by("name").first()
    label_query = f'label:"{label.name}"' if label else "label:Billing"
    teammate = bench.cast.teammate.display_name.split()[0].lower()
    return [
        ("search: common word", "invoice", "date"),
        ("search: common word, by relevance", "invoice", "relevance"),
        ("search: phrase", '"password reset"', "date"),
        ("search: word prefix", "webho", "date"),
        ("search: rare number", f"order {order}", "date"),
        ("search: from: partial domain", "from:acme", "date"),
        ("search: subject: and has:attachment", "subject:refund has:attachment", "date"),
        ("search: label and unread", f"{label_query} is:unread", "date"),
        ("search: assignee and open", f"assignee:{teammate} is:open", "date"),
        ("search: words, exclusion, date", "shipment damaged -refund newer_than:1y", "date"),
    ]


def run_searches(bench: Bench) -> None:
    from bench.run import measure

    for name, query, sort in searches(bench):
        path = f"/m/inbox/?{urlencode({'q': query, 'sort': sort})}"

        def run(_: Any, path: str = path, query: str = query) -> None:
            response = bench.get(path, HTMX_LIST)
            if b'class="search-error"' in response.content:
                raise RuntimeError(f"{query!r} is not a valid search: {response.content[:300]!r}")

        result = measure(name, range(bench.runs + 2), run, target_ms=SEARCH_TARGET_MS, warmup=2)
        result.note = query if sort == "date" else f"{query} (relevance)"
        # The search's own query: the ids of the page of matching states.
        bench.check_plan(result, '"conversations_conversationstate"."id" AS "pk"')
        bench.add(result, bench.runs)
