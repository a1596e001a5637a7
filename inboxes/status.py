"""Status and Out of office: the actions that set them, the beat task that follows a schedule,
and the map of statuses every avatar reads.

A status (emoji and/or message) and Out of office belong to a membership. A scheduled Out of
office is stored with `out_of_office` False and a future start; beat turns it on at the start and
clears everything at the end. Code that must be exact to the second (delivery, the auto-responder)
reads `out_of_office_active_q`, which holds between beat runs too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from inboxes.aliases import EMAIL_KINDS
from inboxes.models import Alias, AutoResponderAlias, Membership, User


def out_of_office_active_q(now: datetime, prefix: str = "") -> Q:
    """Memberships whose Out of office holds at `now` (on, or scheduled and started, not ended)."""
    on = Q(**{f"{prefix}out_of_office": True}) | Q(**{f"{prefix}out_of_office_starts_at__lte": now})
    not_ended = Q(**{f"{prefix}out_of_office_ends_at__isnull": True}) | Q(**{f"{prefix}out_of_office_ends_at__gt": now})
    return on & not_ended


def is_out_of_office(membership: Membership, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    started = membership.out_of_office or (
        membership.out_of_office_starts_at is not None and membership.out_of_office_starts_at <= now
    )
    return started and (membership.out_of_office_ends_at is None or membership.out_of_office_ends_at > now)


def auto_responder_choices(user: User, organization_id: UUID) -> QuerySet[Alias]:
    """The aliases an auto-responder may answer on: those of the user's own personal email
    accounts. Shared accounts never auto-respond (the seed)."""
    return Alias.objects.filter(
        organization_id=organization_id,
        account__owner=user,
        account__is_shared=False,
        account__kind__in=EMAIL_KINDS,
    ).select_related("account")


@dataclass(frozen=True)
class AutoResponder:
    """The self-only part of the status form."""

    enabled: bool
    subject: str
    body: str
    alias_ids: frozenset[UUID]


def check_may_edit(acting: Membership, membership: Membership) -> None:
    """People edit their own status; only owners and admins edit someone else's."""
    if acting.organization_id != membership.organization_id:
        raise PermissionDenied("Not a member of this organization.")
    if acting.user_id != membership.user_id and not acting.can_manage:
        raise PermissionDenied("Only organization admins can change someone else's status.")


@transaction.atomic
def do_set_status(
    membership: Membership,
    *,
    acting: Membership,
    emoji: str,
    message: str,
    out_of_office: bool,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    auto_responder: AutoResponder | None = None,
) -> None:
    """Set the member's status and Out of office. `auto_responder` only from the member's own
    form: an admin editing a coworker's status cannot see or change it (the seed)."""
    check_may_edit(acting, membership)
    now = timezone.now()
    if not out_of_office:
        starts_at = ends_at = None
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationError({"out_of_office_ends_at": "The end must come after the start."})
    if ends_at and ends_at <= now:
        raise ValidationError({"out_of_office_ends_at": "Pick an end in the future."})
    membership.status_emoji = emoji.strip()
    membership.status_message = message.strip()
    # A start still to come waits for beat; without one, or once it passed, it is on now.
    membership.out_of_office = out_of_office and (starts_at is None or starts_at <= now)
    membership.out_of_office_starts_at = starts_at
    membership.out_of_office_ends_at = ends_at
    fields = ["status_emoji", "status_message", "out_of_office", "out_of_office_starts_at", "out_of_office_ends_at"]
    if auto_responder is not None:
        if acting.user_id != membership.user_id:
            raise PermissionDenied("Auto-responder settings belong to the person's own email accounts.")
        allowed = set(auto_responder_choices(membership.user, membership.organization_id).values_list("id", flat=True))
        if not auto_responder.alias_ids <= allowed:
            raise ValidationError({"auto_responder_aliases": "Choose among your own personal email addresses."})
        if auto_responder.enabled and not auto_responder.alias_ids:
            raise ValidationError({"auto_responder_aliases": "Choose at least one address that answers."})
        membership.auto_responder_enabled = auto_responder.enabled
        membership.auto_responder_subject = auto_responder.subject.strip()
        membership.auto_responder_body = auto_responder.body
        fields += ["auto_responder_enabled", "auto_responder_subject", "auto_responder_body"]
        chosen = AutoResponderAlias.objects.filter(
            user_id=membership.user_id, alias__organization_id=membership.organization_id
        )
        chosen.exclude(alias_id__in=auto_responder.alias_ids).delete()
        AutoResponderAlias.objects.bulk_create(
            [
                AutoResponderAlias(organization_id=membership.organization_id, user_id=membership.user_id, alias_id=a)
                for a in auto_responder.alias_ids
            ],
            ignore_conflicts=True,
        )
    membership.save(update_fields=fields)
    statuses_changed()


@transaction.atomic
def do_clear_status(membership: Membership, *, acting: Membership) -> None:
    """Clear status: the emoji, the message and Out of office (with its schedule) go. The
    auto-responder's settings stay for next time; it only answers while Out of office."""
    check_may_edit(acting, membership)
    Membership.objects.filter(id=membership.id).update(**_CLEARED)
    for field, value in _CLEARED.items():
        setattr(membership, field, value)
    statuses_changed()


_CLEARED: dict[str, Any] = {
    "status_emoji": "",
    "status_message": "",
    "out_of_office": False,
    "out_of_office_starts_at": None,
    "out_of_office_ends_at": None,
}


@transaction.atomic
def do_apply_out_of_office_schedules(*, now: datetime | None = None) -> int:
    """Beat: scheduled Out of office turns on at its start; at its end the status clears (the
    seed). Two set-based updates; running it again changes nothing."""
    now = now or timezone.now()
    started = Membership.objects.filter(out_of_office_active_q(now), out_of_office=False).update(out_of_office=True)
    ended = Membership.objects.filter(out_of_office_ends_at__lte=now).update(**_CLEARED)
    if started or ended:
        statuses_changed()
    cache.add(_GENERATION_KEY, 1, None)  # after a Redis restart, statuses show again
    return started + ended


# --- What avatars show ------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberStatus:
    emoji: str
    message: str
    out_of_office: bool

    @property
    def badge(self) -> str:
        return self.emoji or ("🌴" if self.out_of_office else "💬")

    @property
    def text(self) -> str:
        """ "🌴 Out of office · Back on Tuesday", for tooltips."""
        parts = ["Out of office"] if self.out_of_office else []
        if self.message:
            parts.append(self.message)
        return " ".join(filter(None, [self.emoji, " · ".join(parts)]))


_GENERATION_KEY = "member-statuses:generation"
_TTL = 24 * 3600


def statuses_changed() -> None:
    """Every cached status map is stale: now (the next read in this request) and after commit."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    forget_loaded_statuses()
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:
        cache.set(_GENERATION_KEY, 1, None)


def statuses_seen_by(user_id: UUID) -> dict[UUID, MemberStatus]:
    """The statuses of everyone in the user's organizations who has one: cached per viewer and
    generation (bumped by every change), so a page costs no query once warm."""
    generation = cache.get(_GENERATION_KEY)
    if generation is None:
        # Nobody set a status since the cache began (or Redis lost it: beat restores the key
        # within a minute). Pages without statuses cost nothing.
        return {}
    key = f"member-statuses:{generation}:{user_id}"
    cached = cache.get(key)
    if cached is None:
        organizations = Membership.objects.filter(user_id=user_id).values("organization_id")
        rows = (
            Membership.objects.filter(organization_id__in=organizations)
            .filter(~Q(status_emoji="") | ~Q(status_message="") | Q(out_of_office=True))
            .values_list("user_id", "status_emoji", "status_message", "out_of_office")
        )
        cached = {str(uid): [emoji, message, ooo] for uid, emoji, message, ooo in rows}
        cache.set(key, cached, _TTL)
    return {UUID(uid): MemberStatus(*values) for uid, values in cached.items()}


class _Statuses:
    """Loaded on the first avatar a request draws, at most once."""

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.loaded: dict[UUID, MemberStatus] | None = None

    def get(self, user_id: UUID) -> MemberStatus | None:
        if self.loaded is None:
            self.loaded = statuses_seen_by(self.user_id)
        return self.loaded.get(user_id)


_request_statuses: ContextVar[_Statuses | None] = ContextVar("request_statuses", default=None)


def status_of(user_id: UUID) -> MemberStatus | None:
    """The status of a person as the current request's user sees it; None outside a request."""
    statuses = _request_statuses.get()
    return statuses.get(user_id) if statuses is not None else None


def forget_loaded_statuses() -> None:
    """After a change in this request, the response shows the new statuses."""
    statuses = _request_statuses.get()
    if statuses is not None:
        statuses.loaded = None


class StatusMiddleware:
    """Gives avatars drawn while answering a signed-in request the statuses of coworkers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        statuses = _Statuses(user.id) if user is not None and user.is_authenticated else None
        token = _request_statuses.set(statuses)
        try:
            return self.get_response(request)
        finally:
            _request_statuses.reset(token)
