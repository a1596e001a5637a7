"""The search language and how a search becomes one query over the user's conversation states.

    invoice from:anna@acme.com label:Billing has:attachment -"out of office" after:2026-01-01

Words match word prefixes in any order (stemmed, accents ignored) in subjects, bodies, comments,
participants and attachment names; "quoted words" match as a phrase; a leading minus excludes;
operators take their value right after the colon (the seed's rule: `from: anna` is two words,
not an operator). Filters are operators too, so a saved or recent search is just its text.

Every search runs over ConversationState rows of the searching user, so it can only ever find
conversations that user has access to.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from conversations.models import (
    SEARCH_CONFIG,
    Assignment,
    ConversationLabel,
    ConversationState,
    Label,
    Location,
    Message,
    SearchDocument,
    Status,
)
from inboxes.models import Account, Team, User


class SearchError(ValueError):
    """A query that cannot be run, with a message that says how to fix it."""


@dataclass(frozen=True)
class Term:
    """One piece of a query: a word, a "phrase" or an operator with its value."""

    operator: str  # "" for free text
    value: str
    quoted: bool = False
    negated: bool = False

    def __str__(self) -> str:
        value = f'"{self.value}"' if self.quoted else self.value
        return ("-" if self.negated else "") + (f"{self.operator}:{value}" if self.operator else value)


# operator -> what it does, as the help overlay and error messages list them.
OPERATORS = {
    "from": "sender name or address (partial: from:acme)",
    "to": "recipient name or address",
    "cc": "copied recipient",
    "bcc": "blind-copied recipient (as recorded on sent mail)",
    "subject": "words in the subject",
    "body": "words in the messages and comments",
    "filename": "attachment name",
    "label": "organization label (label:Billing, label:Features/Bugs)",
    "has": "has:attachment",
    "is": "unread, read, starred, open, closed, assigned, unassigned, snoozed",
    "in": "inbox, all, anywhere, archive, snoozed, sent, trash, spam",
    "after": "last activity on or after a date (after:2026-01-31)",
    "before": "last activity before a date",
    "newer_than": "activity within a period (newer_than:7d; d, w, m, y)",
    "older_than": "no activity within a period",
    "account": "an account's address or name",
    "team": "a team's name",
    "assignee": "me, others, none, or a teammate's name or address",
}
ALIASES = {"assigned": "assignee", "hasattachment": "has", "isread": "isread", "received": "after"}
# Operators that read the search document (the others read states, conversations and their rows).
DOCUMENT_OPERATORS = {"from", "to", "cc", "bcc", "filename"}
IS_VALUES = {"unread", "read", "starred", "unstarred", "open", "closed", "assigned", "unassigned", "snoozed"}
IN_VALUES = {"inbox", "all", "anywhere", "archive", "snoozed", "sent", "trash", "spam"}
PERIOD_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
SORTS = ("date", "relevance")
# Shorter words would match inside too many others to be useful (and trigrams need three).
MIN_PARTIAL_WORD = 3

_OPERATOR = re.compile(r"([A-Za-z_]+):")
_WORD = re.compile(r"\w+")


def period_days(value: str) -> int | None:
    """ "7d", "4w", "3m", "1y" in days (a month is 30, a year 365); None if it is not one."""
    match = re.fullmatch(r"(\d{1,4})([dwmy])", value.lower())
    return int(match.group(1)) * PERIOD_DAYS[match.group(2)] if match else None


def _operator_list() -> str:
    return ", ".join(f"{name}:" for name in OPERATORS)


def parse(text: str) -> list[Term]:
    """The terms of a query, or SearchError saying what is wrong and how to write it."""
    terms: list[Term] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        operator = ""
        match = _OPERATOR.match(text, i)
        if match and match.end() < n and not text[match.end()].isspace() and not text.startswith("//", match.end()):
            operator = match.group(1).lower()
            operator = ALIASES.get(operator, operator)
            if operator not in OPERATORS and operator != "isread":
                raw = text[start:].split()[0]
                raise SearchError(
                    f"Unknown operator “{match.group(1)}:”. Known operators: {_operator_list()}. "
                    f'To search for the text itself, put it in quotes: "{raw.lstrip("-")}".'
                )
            i = match.end()
        if i < n and text[i] == '"':
            close = text.find('"', i + 1)
            if close == -1:
                raise SearchError(
                    f'The quote before “{text[i + 1 : i + 21]}” is never closed: add the closing quote (").'
                )
            value, quoted, i = text[i + 1 : close], True, close + 1
        else:
            end = i
            while end < n and not text[end].isspace():
                end += 1
            value, quoted, i = text[i:end], False, end
            if '"' in value:
                raise SearchError(f"Stray quote in “{value}”: quotes go around a whole phrase or value.")
        value = value.strip()
        if not value:
            continue
        terms.append(Term(operator, value, quoted, negated))
    return terms


# Letters PostgreSQL's unaccent replaces that have no decomposition to strip.
_UNACCENT_EXTRA = str.maketrans({"ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "þ": "th"})


def normalize(text: str) -> str:
    """Lower case without accents, as lower(unaccent(...)) stores the senders/recipients/
    filenames/subject columns, so a value typed in a search compares with them."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_UNACCENT_EXTRA)


def _tsquery_words(value: str, *, prefix: bool, weight: str = "") -> str:
    """A to_tsquery expression for the words of `value`: one word, or a phrase of several.

    Only \\w characters reach the tsquery syntax, each word quoted, so user input cannot inject
    operators; to_tsquery still stems, unaccents and drops stop words with the configuration."""
    words = _WORD.findall(value)
    if not words:
        return ""
    if len(words) == 1:
        marks = ("*" if prefix else "") + weight
        return f"'{words[0]}'" + (f":{marks}" if marks else "")
    weighted = f":{weight}" if weight else ""
    return "(" + " <-> ".join(f"'{word}'{weighted}" for word in words) + ")"


def _raw(tsquery: str) -> SearchQuery:
    return SearchQuery(tsquery, search_type="raw", config=SEARCH_CONFIG)


def is_address_term(term: Term) -> bool:
    return term.operator == "" and ("@" in term.value or bool(re.search(r"\w\.\w", term.value)))


def _text_expression(term: Term) -> str:
    weight = {"subject": "A", "body": "D"}.get(term.operator, "")
    expression = _tsquery_words(term.value, prefix=not term.quoted, weight=weight)
    if not expression:
        raise SearchError(f"“{term.value}” has no words to search for.")
    return expression


def is_plain_word(term: Term) -> bool:
    """One plain word to look for (not excluded, quoted or an operator's)."""
    return term.operator == "" and not term.quoted and not term.negated and bool(_WORD.fullmatch(term.value))


def text_tsquery(terms: list[Term], *, leave_out: Collection[Term] = ()) -> str:
    """The to_tsquery text of a query's words, phrases, subject: and body: terms ("" if none),
    but for those in `leave_out`."""
    parts = []
    for term in terms:
        if term.operator in ("", "subject", "body") and not is_address_term(term) and term not in leave_out:
            expression = _text_expression(term)
            parts.append(f"!{expression}" if term.negated else expression)
    return " & ".join(parts)


def scope_of(terms: list[Term]) -> str:
    """The mailbox an `in:` term names ("" when none; the last one wins)."""
    scope = ""
    for term in terms:
        if term.operator == "in":
            if term.value.lower() not in IN_VALUES or term.negated:
                raise SearchError(f"in: takes one of {', '.join(sorted(IN_VALUES))}, not “{term}”.")
            scope = term.value.lower()
    return scope


@dataclass
class Compiled:
    """A parsed query turned into filters on the states it was given."""

    states: QuerySet[ConversationState]
    text_query: SearchQuery | None = None
    tsquery: str = ""  # the to_tsquery text of text_query


class Search:
    """Turns terms into filters on a user's ConversationState rows."""

    def __init__(self, user: User, organization_ids: list[Any], now: datetime | None = None) -> None:
        self.user = user
        self.organization_ids = organization_ids
        self.now = now or timezone.now()

    def compile(self, terms: list[Term], states: QuerySet[ConversationState]) -> Compiled:
        compiled = Compiled(states, tsquery=text_tsquery(terms))
        # Conditions on the search document, applied together as one semi-join: going through
        # the conversation would add a join per match.
        on_document: list[Q] = []
        for term in terms:
            if is_address_term(term) or term.operator in DOCUMENT_OPERATORS:
                condition = self._address_or_text(term) if is_address_term(term) else self._filter(term)
                on_document.append(~condition if term.negated else condition)
            elif term.operator not in ("", "subject", "body", "in"):
                condition = self._filter(term)
                states = compiled.states
                compiled.states = states.exclude(condition) if term.negated else states.filter(condition)
            # Text goes into the one tsquery below; in: chose the states passed in.
        if compiled.tsquery:
            compiled.text_query = _raw(compiled.tsquery)
            on_document.append(Q(document=compiled.text_query) | self._inside_subject(terms))
        if on_document:
            documents = SearchDocument.objects.filter(*on_document).values("conversation_id")
            compiled.states = compiled.states.filter(conversation_id__in=documents)
        return compiled

    def _inside_subject(self, terms: list[Term]) -> Q:
        """The other way text can match, for a word looked up alone: inside a longer word of the
        subject ("voice" in "Invoice"), with the rest of the text (phrases, exclusions) as
        words. One alternative to the whole text query keeps it a single index lookup.

        Only for one word of MIN_PARTIAL_WORD letters or more (words the search ignores aside):
        several words are a sentence, matched as words, and the alternative would read every
        subject holding them, a cost growing with the mailbox for results the words find anyway."""
        words = [term for term in terms if is_plain_word(term)]
        stop_words = self._stop_words([term.value for term in words])
        meaningful = [term for term in words if term.value not in stop_words]
        if len(meaningful) != 1 or len(meaningful[0].value) < MIN_PARTIAL_WORD:
            return Q(pk__in=[])  # nothing
        ignored = [term for term in words if term.value in stop_words]
        rest = text_tsquery(terms, leave_out=[*meaningful, *ignored])
        condition = Q(subject__contains=normalize(meaningful[0].value))
        return condition & Q(document=_raw(rest)) if rest else condition

    @staticmethod
    def _stop_words(words: list[str]) -> set[str]:
        """The words the text search configuration ignores ("the", "with"): found inside a
        subject they would only narrow a search that does not look for them."""
        if not words:
            return set()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT w FROM unnest(%s::text[]) AS w WHERE numnode(plainto_tsquery(%s::regconfig, w)) = 0",
                [words, SEARCH_CONFIG],
            )
            return {row[0] for row in cursor.fetchall()}

    def _address_or_text(self, term: Term) -> Q:
        """Addresses and domains are whole tokens in the document; parts of them are matched in
        the participant lists (trigram-indexed), the whole as text."""
        value = normalize(term.value)
        in_people = (
            Q(senders__contains=value)
            | Q(recipients__contains=value)
            | Q(copied__contains=value)
            | Q(filenames__contains=value)
        )
        return in_people | Q(document=_raw(_text_expression(term)))

    # Filters -----------------------------------------------------------------------------------

    def _filter(self, term: Term) -> Q:
        handler: Callable[[str], Q] = getattr(self, f"_op_{term.operator}")
        return handler(term.value)

    def _people(self, column: str, value: str) -> Q:
        return Q(**{f"{column}__contains": normalize(value)})

    def _op_from(self, value: str) -> Q:
        return self._people("senders", value)

    def _op_to(self, value: str) -> Q:
        return self._people("recipients", value)

    def _op_cc(self, value: str) -> Q:
        return self._people("copied", value)

    _op_bcc = _op_cc

    def _op_filename(self, value: str) -> Q:
        return self._people("filenames", value)

    def _op_has(self, value: str) -> Q:
        if value.lower() not in ("attachment", "attachments", "true", "yes"):
            raise SearchError(f"has: takes “attachment” (has:attachment), not “{value}”.")
        return Q(conversation__has_attachments=True)

    def _op_isread(self, value: str) -> Q:
        if value.lower() not in ("true", "false"):
            raise SearchError(f"isread: takes true or false, not “{value}”.")
        return Q(unread=value.lower() == "false")

    def _op_is(self, value: str) -> Q:
        value = value.lower()
        if value not in IS_VALUES:
            raise SearchError(f"is: takes one of {', '.join(sorted(IS_VALUES))}, not “{value}”.")
        return {
            "unread": Q(unread=True),
            "read": Q(unread=False),
            "starred": Q(starred=True),
            "unstarred": Q(starred=False),
            "open": Q(conversation__status=Status.OPEN),
            "closed": Q(conversation__status=Status.CLOSED),
            "assigned": Q(conversation__assigned=True),
            "unassigned": Q(conversation__assigned=False),
            "snoozed": Q(location=Location.SNOOZED) | Q(snoozed_until__isnull=False),
        }[value]

    def _date(self, operator: str, value: str) -> datetime:
        lowered = value.lower()
        today = timezone.localdate(self.now)
        if lowered in ("today", "yesterday"):
            day = today - timedelta(days=1 if lowered == "yesterday" else 0)
        else:
            try:
                day = date.fromisoformat(value.replace("/", "-"))
            except ValueError:
                raise SearchError(f"{operator}: takes a date like 2026-01-31, not “{value}”.") from None
        return timezone.make_aware(datetime.combine(day, time.min))

    def _op_after(self, value: str) -> Q:
        return Q(last_activity_at__gte=self._date("after", value))

    def _op_before(self, value: str) -> Q:
        return Q(last_activity_at__lt=self._date("before", value))

    def _period(self, operator: str, value: str) -> datetime:
        days = period_days(value)
        if days is None:
            raise SearchError(f"{operator}: takes a number and d, w, m or y (newer_than:7d), not “{value}”.")
        return self.now - timedelta(days=days)

    def _op_newer_than(self, value: str) -> Q:
        return Q(last_activity_at__gte=self._period("newer_than", value))

    def _op_older_than(self, value: str) -> Q:
        return Q(last_activity_at__lt=self._period("older_than", value))

    def _op_label(self, value: str) -> Q:
        wanted = normalize(value).replace("-", " ")
        labels = {label.id: label for label in Label.objects.visible_to(self.user)}
        ids = [i for i, label in labels.items() if wanted in (_key(label.name), _key(label_path(label, labels)))]
        if not ids:
            raise SearchError(f"No label is called “{value}”. Labels with spaces take hyphens or quotes.")
        return Q(Exists(ConversationLabel.objects.filter(conversation=OuterRef("conversation"), label_id__in=ids)))

    def _op_account(self, value: str) -> Q:
        wanted = normalize(value)
        accounts = Account.objects.filter(organization_id__in=self.organization_ids)
        ids = [a.id for a in accounts if wanted in (normalize(a.address), normalize(a.description))]
        if not ids:
            raise SearchError(f"No account is “{value}”: use its address (account:support@example.com).")
        return Q(from_accounts(ids))

    def _op_team(self, value: str) -> Q:
        wanted = normalize(value).replace("-", " ")
        teams = Team.objects.filter(organization_id__in=self.organization_ids)
        ids = [t.id for t in teams if _key(t.name) == wanted]
        if not ids:
            raise SearchError(f"No team is called “{value}”.")
        return Q(conversation__team_id__in=ids)

    def _op_assignee(self, value: str) -> Q:
        assignments = Assignment.objects.filter(conversation=OuterRef("conversation"))
        lowered = value.lower()
        if lowered == "me":
            ids = [self.user.id]
        elif lowered == "others":
            return Q(Exists(assignments.exclude(user=self.user)))
        elif lowered == "none":
            return Q(conversation__assigned=False)
        else:
            wanted = normalize(value).replace("-", " ")
            people = User.objects.filter(memberships__organization_id__in=self.organization_ids).distinct()
            ids = [u.id for u in people if wanted in (normalize(u.email), _key(u.display_name), _key(u.first_name))]
            if not ids:
                raise SearchError(f"Nobody here is “{value}”: use me, others, none, or a teammate's name or address.")
        # From the person's assignments to their states: an index path at any size, where a
        # per-state EXISTS lets a small table be read whole.
        return Q(conversation_id__in=Assignment.objects.filter(user_id__in=ids).values("conversation_id"))


def from_accounts(account_ids: list[Any]) -> Exists:
    """A state's conversation has a message of one of these accounts."""
    return Exists(Message.objects.filter(conversation=OuterRef("conversation"), account_id__in=account_ids))


def _key(name: str) -> str:
    return normalize(name).replace("-", " ")


def label_path(label: Label, labels: dict[Any, Label] | None = None) -> str:
    """ "Parent/Child" for a nested label: parents from `labels` when given (no query per level),
    else through label.parent (select_related it)."""
    if not label.parent_id:
        return label.name
    parent = labels.get(label.parent_id) if labels is not None else label.parent
    return f"{label_path(parent, labels)}/{label.name}" if parent else label.name


# Relevance orders the most recent matches only: ranking reads every candidate's whole document,
# and a common word can match a large part of a big mailbox.
RELEVANCE_CANDIDATES = 500


def ranked_ids(states: QuerySet[ConversationState], text_query: SearchQuery) -> list[Any]:
    """State ids, best match first, of the RELEVANCE_CANDIDATES most recent matches: subject
    words weigh most, then participants, attachment names, bodies; ties go to the newer.

    Two bounded steps (the candidates by the date index, then their documents by primary key)
    rather than one statement, whose plan could read the tables whole."""
    candidates = list(
        states.order_by("-last_activity_at", "-id").values_list("pk", "conversation_id")[:RELEVANCE_CANDIDATES]
    )
    ranks = dict(
        SearchDocument.objects.filter(conversation_id__in=[conversation for _, conversation in candidates])
        .annotate(rank=SearchRank(F("document"), text_query))
        .values_list("conversation_id", "rank")
    )
    order = sorted(range(len(candidates)), key=lambda i: (-ranks.get(candidates[i][1], 0.0), i))
    return [candidates[i][0] for i in order]
