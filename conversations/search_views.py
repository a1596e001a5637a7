"""Search results in the conversation list, and saved and recent searches."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST, require_safe

from conversations import search_index
from conversations.mailboxes import PERSONAL_MAILBOXES, Mailbox, label_mailbox, personal_mailbox, team_mailbox
from conversations.models import SEARCH_CONFIG, ConversationState, Label, SearchDocument
from conversations.search import (
    MIN_PARTIAL_WORD,
    SORTS,
    Search,
    SearchError,
    Term,
    from_accounts,
    label_path,
    normalize,
    parse,
    period_days,
    ranked_ids,
    scope_of,
    text_tsquery,
)
from inboxes.models import SEARCH_DATE_RANGES, SEARCH_DEFAULTS, Account, Membership, Team, User
from missive.htmx import AuthenticatedRequest, leave_page

# Recent searches kept per person (the sidebar shows User.recent_searches_shown of them).
RECENT_KEPT = 20
FILTER_CHOICES = 200
SNIPPET_SOURCE_CHARS = 20_000
_START, _STOP = "\x02", "\x03"
HEADLINE_OPTIONS = f"StartSel={_START}, StopSel={_STOP}, MaxWords=24, MinWords=10, MaxFragments=1"


# The Filters menu's fields and the operator each one writes into the query.
FILTER_OPERATORS = {
    "f_is": "is",
    "f_assignee": "assignee",
    "f_team": "team",
    "f_account": "account",
    "f_label": "label",
    "f_from": "from",
    "f_to": "to",
    "f_subject": "subject",
    "f_after": "after",
    "f_before": "before",
    "f_when": "newer_than",
}


def compose_query(params: Any) -> str:
    """The search box's text plus what the Filters menu chose, as operators: a filtered view is
    then an ordinary query, to refine by hand, save or bookmark."""
    parts = [params.get("q", "").strip()]
    for name, operator in FILTER_OPERATORS.items():
        value = " ".join(params.get(name, "").replace('"', "").split())
        if value:
            parts.append(f'{operator}:"{value}"' if " " in value else f"{operator}:{value}")
    if params.get("f_has"):
        parts.append("has:attachment")
    return " ".join(part for part in parts if part)


def search_scope(mailbox: Mailbox, scope: str, preferences: dict[str, Any]) -> Mailbox | None:
    """Where a search runs: `in:` when given; else, by default (Settings › Search can change
    it), the Inbox searches All, a team inbox the team's All, any other mailbox itself. None
    means everywhere, Trash and Spam included (in:anywhere)."""
    if scope == "anywhere":
        return None
    if scope:
        return personal_mailbox(scope)
    if mailbox.team is not None and mailbox.key == "inbox":
        return team_mailbox(mailbox.team, "all") if preferences["in_team_inbox"] == "all" else mailbox
    if mailbox.team is None and mailbox.org_label is None and mailbox.key == "inbox":
        return personal_mailbox("all") if preferences["in_inbox"] == "all" else mailbox
    return personal_mailbox("all") if preferences["elsewhere"] == "all" else mailbox


def _apply_preferences(
    states: QuerySet[ConversationState], terms: list[Term], preferences: dict[str, Any], *, everywhere: bool
) -> tuple[QuerySet[ConversationState], str]:
    """The person's default date range and left-out accounts, unless the query says otherwise;
    returns the states and a note on what was applied."""
    notes = []
    operators = {term.operator for term in terms}
    period = preferences["date_range"]
    days = period_days(period) if period else None
    if days is not None and not operators & {"after", "before", "newer_than", "older_than"}:
        states = states.filter(last_activity_at__gte=timezone.now() - timedelta(days=days))
        notes.append(dict(SEARCH_DATE_RANGES)[period].lower())
    excluded = preferences.get("excluded_accounts") or []
    if excluded and not everywhere and "account" not in operators:
        states = states.exclude(from_accounts(excluded))
        notes.append(f"{len(excluded)} account{'s' if len(excluded) > 1 else ''} left out")
    return states, " · ".join(notes)


def search_context(
    request: AuthenticatedRequest, mailbox: Mailbox, query: str, fetch: Any, page_size: int
) -> dict[str, Any]:
    """The list context for a search: rows (with snippets), where it ran, and the next page.

    `fetch(states)` loads page_size + 1 ordered states with what the rows show (the list's own)."""
    user = request.user
    sort = request.GET.get("sort", "date")
    sort = sort if sort in SORTS else "date"
    context: dict[str, Any] = {"query": query, "sort": sort, "searching": True, "rows": [], "more_url": ""}
    organization_ids = list(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    search = Search(user, organization_ids)
    try:
        terms = parse(query)
        preferences = {**SEARCH_DEFAULTS, **user.search_preferences}
        scope = search_scope(mailbox, scope_of(terms), preferences)
        base = ConversationState.objects.filter(user=user) if scope is None else scope.states(user)
        base, context["search_note"] = _apply_preferences(base, terms, preferences, everywhere=scope is None)
        compiled = search.compile(terms, base)
    except SearchError as error:
        context["search_error"] = str(error)
        return context
    context["search_scope"] = "everywhere" if scope is None else scope.title
    if scope is not None:
        context["everywhere_url"] = f"{mailbox.url}?{urlencode({'q': f'{query} in:anywhere', 'sort': sort})}"
    states = compiled.states
    before, page = _cursor(request)
    # Relevance needs words to rank by; without, results come by date.
    relevance = sort == "relevance" and compiled.text_query is not None
    # The page's ids first, then its rows: joined to what a row shows before the LIMIT, the
    # matching query would read every match's conversation to keep 51.
    if relevance and compiled.text_query is not None:
        start = (page - 1) * page_size
        ids = ranked_ids(states, compiled.text_query)[start : start + page_size + 1]
    else:
        if before is not None:
            states = states.filter(last_activity_at__lt=before)
        ids = list(states.order_by("-last_activity_at", "-id").values_list("pk", flat=True)[: page_size + 1])
    position = {pk: index for index, pk in enumerate(ids)}
    rows = sorted(fetch(ConversationState.objects.filter(pk__in=ids)), key=lambda row: position[row.pk])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if has_more:
        cursor = {"page": page + 1} if relevance else {"before": rows[-1].last_activity_at.isoformat()}
        context["more_url"] = f"{mailbox.url}?{urlencode({'q': query, 'sort': sort, **cursor})}"
    if compiled.text_query is not None and rows:
        _attach_snippets(rows, compiled.tsquery)
    context.update(rows=rows, appending=before is not None or page > 1)
    if not context["appending"] and request.GET.get("record"):
        context["remembered"] = remember_search(user, mailbox, query)
    return context


def matching_items(conversation_id: Any, query: str) -> set[Any]:
    """Ids of the messages and comments of one conversation that a search's words match: the
    conversation view outlines them and opens at the latest."""
    try:
        tsquery = text_tsquery(parse(query))
    except SearchError:
        return set()
    return search_index.matching_items(conversation_id, tsquery) if tsquery else set()


def _cursor(request: AuthenticatedRequest) -> tuple[datetime | None, int]:
    before = parse_datetime(request.GET.get("before", "")) if request.GET.get("before") else None
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    return (before if isinstance(before, datetime) else None), page


def _attach_snippets(rows: list[ConversationState], tsquery: str) -> None:
    """`row.snippet`: the best matching passage of each conversation, escaped, terms in <mark>."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT conversation_id, ts_headline(%s::regconfig, left(content, {SNIPPET_SOURCE_CHARS}), "  # noqa: S608
            f"to_tsquery(%s::regconfig, %s), %s) FROM conversations_searchdocument WHERE conversation_id = ANY(%s)",
            [SEARCH_CONFIG, SEARCH_CONFIG, tsquery, HEADLINE_OPTIONS, [row.conversation_id for row in rows]],
        )
        headlines = dict(cursor.fetchall())
    for row in rows:
        headline = headlines.get(row.conversation_id) or ""
        row.snippet = highlight(headline) if _START in headline else None  # type: ignore[attr-defined]


def highlight(headline: str) -> SafeString:
    """ts_headline's text escaped, with its match markers turned into <mark>."""
    escaped = escape(" ".join(headline.split()))
    return mark_safe(escaped.replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308 - escaped above


# Saved and recent searches ---------------------------------------------------------------------
# Both live on the person's row (User.saved_searches, User.recent_searches): the request has it.


def search_url(mailbox_url: str, query: str) -> str:
    return f"{mailbox_url}?{urlencode({'q': query})}"


def remember_search(user: User, mailbox: Mailbox, query: str) -> bool:
    """Record a search that was run (submitted, not typed), keeping the newest RECENT_KEPT."""
    if user.recent_searches_shown == 0:
        return False
    entry = {"query": query, "mailbox_url": mailbox.url}
    user.recent_searches = [entry, *[e for e in user.recent_searches if e != entry]][:RECENT_KEPT]
    User.objects.filter(pk=user.pk).update(recent_searches=user.recent_searches)
    return True


def search_shortcuts(user: User) -> dict[str, Any]:
    """The sidebar's saved searches and the recent ones it shows, with their URLs."""
    saved = [{**entry, "url": search_url(entry["mailbox_url"], entry["query"])} for entry in user.saved_searches]
    recent = [
        {**entry, "url": search_url(entry["mailbox_url"], entry["query"])}
        for entry in user.recent_searches[: user.recent_searches_shown]
    ]
    return {"saved_searches": saved, "recent_searches": recent}


@require_safe
@login_required
def search_filters(request: AuthenticatedRequest) -> HttpResponse:
    """The Filters menu, loaded when first opened: its choices cost queries a plain list does not need."""
    mailbox_url = request.GET.get("mailbox_url", "")
    if not mailbox_url.startswith("/") or mailbox_url.startswith("//"):
        raise Http404("No mailbox.")
    organization_ids = Membership.objects.filter(user=request.user).values("organization_id")
    context = {
        "mailbox_url": mailbox_url,
        "teams": Team.objects.filter(memberships__user=request.user).order_by("name").distinct()[:FILTER_CHOICES],
        "accounts": Account.objects.filter(organization_id__in=organization_ids).order_by("address")[:FILTER_CHOICES],
        "labels": Label.objects.visible_to(request.user).select_related("parent").order_by("name")[:FILTER_CHOICES],
        "people": User.objects.filter(memberships__organization_id__in=organization_ids)
        .exclude(id=request.user.id)
        .order_by("name", "email")
        .distinct()[:FILTER_CHOICES],
        "date_ranges": SEARCH_DATE_RANGES,
        "states": ["unread", "starred", "open", "closed", "assigned", "unassigned", "snoozed"],
    }
    return render(request, "conversations/_search_filters.html", context)


# Typing in the search box suggests places to go: mailboxes, labels, people and domains.
SUGGESTIONS_PER_KIND = 5
_PERSON = re.compile(r"\s*(.*?)\s*<([^<>\s]+@[^<>\s]+)>")


@dataclass(frozen=True)
class Suggestion:
    kind: str  # mailbox, label, person, domain
    label: str
    url: str
    hint: str = ""


@require_safe
@login_required
def search_suggestions(request: AuthenticatedRequest) -> HttpResponse:
    """Where the words typed so far could lead. Picking one navigates there (it adds no filter),
    as the seed describes; people and domains come only from conversations the user can open."""
    fragment = request.GET.get("q", "").strip()
    suggestions: list[Suggestion] = []
    if fragment and not any(mark in fragment for mark in (":", '"')) and len(fragment) <= 100:
        suggestions = [*_mailbox_suggestions(request.user, fragment), *_label_suggestions(request.user, fragment)]
        suggestions += _people_suggestions(request.user, fragment)
    return render(request, "conversations/_search_suggestions.html", {"suggestions": suggestions})


def _mailbox_suggestions(user: User, fragment: str) -> list[Suggestion]:
    wanted = normalize(fragment)
    mailboxes = [m for m in PERSONAL_MAILBOXES if wanted in normalize(m.label)]
    teams = Team.objects.filter(memberships__user=user, name__icontains=fragment).order_by("name")
    mailboxes += [m for team in teams[:SUGGESTIONS_PER_KIND] if (m := team_mailbox(team, "inbox"))]
    return [Suggestion("mailbox", m.title, m.url, "Mailbox") for m in mailboxes[:SUGGESTIONS_PER_KIND]]


def _label_suggestions(user: User, fragment: str) -> list[Suggestion]:
    labels = Label.objects.visible_to(user).filter(name__icontains=fragment).select_related("parent")
    return [
        Suggestion("label", label_path(label), label_mailbox(label).url, "Label")
        for label in labels.order_by("name")[:SUGGESTIONS_PER_KIND]
    ]


def _people_suggestions(user: User, fragment: str) -> list[Suggestion]:
    """Past correspondents and their domains, from participant lists the trigram indexes find."""
    wanted = normalize(fragment)
    if len(wanted) < MIN_PARTIAL_WORD:
        return []
    documents = (
        SearchDocument.objects.filter(
            Q(senders__contains=wanted) | Q(recipients__contains=wanted) | Q(copied__contains=wanted),
            conversation__states__user=user,
        )
        .values_list("senders", "recipients", "copied")
        .distinct()[:40]
    )
    people: dict[str, str] = {}
    for lists in documents:
        for name, address in _PERSON.findall(" ".join(lists)):
            if wanted in name or wanted in address:
                people.setdefault(address, name)
    addresses = sorted(people)[:SUGGESTIONS_PER_KIND]
    domains = sorted({a.split("@", 1)[1] for a in people if wanted in a.split("@", 1)[1]})[:SUGGESTIONS_PER_KIND]
    return [
        *[Suggestion("person", a, search_url("/m/all/", a), people[a].title()) for a in addresses],
        *[Suggestion("domain", d, search_url("/m/all/", f"@{d}"), "Domain") for d in domains],
    ]


@require_POST
@login_required
def save_search(request: AuthenticatedRequest) -> HttpResponse:
    query = request.POST.get("q", "").strip()[:500]
    mailbox_url = request.POST.get("mailbox_url", "")
    if not query or not mailbox_url.startswith("/") or mailbox_url.startswith("//"):
        raise Http404("Nothing to save.")
    user = request.user
    if not any(e["query"] == query and e["mailbox_url"] == mailbox_url for e in user.saved_searches):
        name = (request.POST.get("name") or query).strip()[:80]
        entry = {"id": uuid.uuid4().hex, "name": name, "query": query, "mailbox_url": mailbox_url}
        user.saved_searches = sorted([*user.saved_searches, entry], key=lambda e: e["name"].lower())
        User.objects.filter(pk=user.pk).update(saved_searches=user.saved_searches)
    return leave_page(request, search_url(mailbox_url, query))


@require_POST
@login_required
def delete_saved_search(request: AuthenticatedRequest, saved_search_id: str) -> HttpResponse:
    user = request.user
    kept = [entry for entry in user.saved_searches if entry["id"] != saved_search_id]
    if len(kept) == len(user.saved_searches):
        raise Http404("No such saved search.")
    User.objects.filter(pk=user.pk).update(saved_searches=kept)
    return_to = request.POST.get("return_to", "")
    return leave_page(request, return_to if return_to.startswith("/") and not return_to.startswith("//") else "/")
