"""Canned responses: who sees and edits which, saving them within the limits, search, and
inserting one into a draft (Liquid rendering, form variables, recipients and attachments).

Scopes: a personal response is its owner's alone; a team's is seen by the team's members; the
organization's by everyone in it. Shared ones are edited by members (not guests), or only by
owners and admins when the organization asks so (Organization.responses_admins_only)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from conversations import sending, templating
from conversations.actions import ActionRefused
from conversations.models import (
    CannedResponse,
    CannedResponseAttachment,
    CannedResponseLabel,
    CannedScope,
    Draft,
    DraftAttachment,
    DraftStatus,
    Label,
)
from conversations.sanitize import clean_outgoing_html
from conversations.text import html_to_text
from inboxes.models import Membership, Organization, Role, Team, TeamMembership, User
from missive.ids import is_uuid

PERSONAL_LIMIT = 1000
ORGANIZATION_LIMIT = 1000
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
SEARCH_RESULTS = 50
# A form variable's name: words of letters, digits and underscores joined by dots.
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


# --- Who sees and edits what ------------------------------------------------------------------


def visible_responses_q(user: User, organization_id: UUID) -> Q:
    """Responses of one organization the user may see and use (the caller checked membership)."""
    teams = TeamMembership.objects.filter(user=user, organization_id=organization_id).values("team_id")
    return Q(organization_id=organization_id) & (
        Q(scope=CannedScope.PERSONAL, owner=user)
        | Q(scope=CannedScope.TEAM, team_id__in=teams)
        | Q(scope=CannedScope.ORGANIZATION)
    )


def responses_for(membership: Membership) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(visible_responses_q(membership.user, membership.organization_id))


def get_response_for_user(user: User, response_id: UUID | str) -> tuple[CannedResponse, Membership]:
    """A response the user may see, with their membership in its organization; 404 otherwise."""
    if not is_uuid(str(response_id)):
        raise Http404("No such response.")
    response = CannedResponse.objects.filter(id=response_id).select_related("team", "organization").first()
    membership = None
    if response is not None:
        membership = (
            Membership.objects.filter(user=user, organization_id=response.organization_id)
            .select_related("organization", "user")
            .first()
        )
    if response is None or membership is None or not responses_for(membership).filter(id=response.id).exists():
        raise Http404("No such response.")
    return response, membership


def may_share(membership: Membership) -> bool:
    """Whether the person may create, edit and delete team and organization responses."""
    if membership.role == Role.GUEST:
        return False
    return membership.can_manage or not membership.organization.responses_admins_only


def can_edit_response(response: CannedResponse, membership: Membership) -> bool:
    if response.scope == CannedScope.PERSONAL:
        return response.owner_id == membership.user_id
    return may_share(membership)


def scope_choices(membership: Membership) -> list[tuple[str, str]]:
    """The visibility dropdown: Personal, each of my teams, the organization ("team:<id>" values)."""
    choices = [(CannedScope.PERSONAL.value, "Personal (only me)")]
    if may_share(membership):
        teams = Team.objects.filter(organization_id=membership.organization_id, memberships__user=membership.user)
        choices += [(f"team:{team.id}", f"Team: {team}") for team in teams.order_by("name")]
        choices.append((CannedScope.ORGANIZATION.value, f"Organization: {membership.organization.name}"))
    return choices


def scope_value(response: CannedResponse) -> str:
    return f"team:{response.team_id}" if response.scope == CannedScope.TEAM else response.scope


# --- Saving -----------------------------------------------------------------------------------


@dataclass
class ResponseFields:
    """What the response editor submits, already cleaned (see canned_views.ResponseForm)."""

    scope: str
    team: Team | None
    title: str
    subject: str = ""
    body: str = ""
    to: list[dict[str, str]] = field(default_factory=list)
    cc: list[dict[str, str]] = field(default_factory=list)
    bcc: list[dict[str, str]] = field(default_factory=list)
    labels: Sequence[Label] = ()
    # An integration's id for the response (the API's external_id/external_source); None keeps it.
    external_id: str | None = None
    external_source: str | None = None


_LIQUID_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def liquid_source(body_html: str) -> str:
    """The body as Liquid reads it: the editor stores `{% if a > b %}` as `{% if a &gt; b %}`."""
    return _LIQUID_MARKUP.sub(lambda match: html.unescape(match.group(0)), body_html)


def _escaped(value: Any) -> Any:
    """Data going into the HTML body is text: a recipient named "<b>Ann</b>" stays as typed."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def check_template(source: str) -> None:
    """Raises TemplateProblem for a template that does not parse or names a variable badly."""
    for path in templating.variable_paths(liquid_source(source)):
        if not VARIABLE_NAME.match(path):
            raise templating.TemplateProblem(
                f"“{path}” is not a valid variable name: use underscores and dots instead of spaces."
            )


def _check_limit(organization: Organization, fields: ResponseFields, owner: User, exclude: UUID | None) -> None:
    # The organization row is locked so two saves at the cap cannot both pass the count.
    Organization.objects.select_for_update().filter(id=organization.id).first()
    existing = CannedResponse.objects.filter(organization=organization, scope=fields.scope)
    if exclude is not None:
        existing = existing.exclude(id=exclude)
    if fields.scope == CannedScope.PERSONAL and existing.filter(owner=owner).count() >= PERSONAL_LIMIT:
        raise ActionRefused(f"You have reached the limit of {PERSONAL_LIMIT:,} personal responses. Delete some first.")
    if fields.scope == CannedScope.ORGANIZATION and existing.count() >= ORGANIZATION_LIMIT:
        raise ActionRefused(
            f"The organization has reached the limit of {ORGANIZATION_LIMIT:,} organization responses. "
            "Delete some first."
        )


def _check_allowed(membership: Membership, fields: ResponseFields) -> None:
    if fields.scope != CannedScope.PERSONAL and not may_share(membership):
        raise ActionRefused("Only owners and admins manage shared responses in this organization.")
    if fields.team is not None and not TeamMembership.objects.filter(team=fields.team, user=membership.user).exists():
        raise ActionRefused("You can only share a response with a team you belong to.")


def _apply(response: CannedResponse, fields: ResponseFields, user: User) -> None:
    response.scope = fields.scope
    response.owner = user if fields.scope == CannedScope.PERSONAL else None
    response.team = fields.team if fields.scope == CannedScope.TEAM else None
    response.title = fields.title.strip()
    response.subject = fields.subject.strip()
    response.body = clean_outgoing_html(fields.body)
    response.to, response.cc, response.bcc = fields.to, fields.cc, fields.bcc
    if fields.external_id is not None:
        response.external_id = fields.external_id
    if fields.external_source is not None:
        response.external_source = fields.external_source


def _set_labels(response: CannedResponse, labels: Iterable[Label]) -> None:
    CannedResponseLabel.objects.filter(response=response).delete()
    CannedResponseLabel.objects.bulk_create(
        CannedResponseLabel(organization_id=response.organization_id, response=response, label=label)
        for label in labels
    )


@transaction.atomic
def do_create_response(membership: Membership, fields: ResponseFields) -> CannedResponse:
    """Create a response; refused past the limits or for a scope the person may not share to."""
    _check_allowed(membership, fields)
    _check_limit(membership.organization, fields, membership.user, None)
    response = CannedResponse(organization_id=membership.organization_id, created_by=membership.user)
    _apply(response, fields, membership.user)
    response.save()
    _set_labels(response, fields.labels)
    return response


@transaction.atomic
def do_update_response(response: CannedResponse, membership: Membership, fields: ResponseFields) -> CannedResponse:
    """Save a response's content and visibility (a personal one moved to a team, say)."""
    if not can_edit_response(response, membership):
        raise ActionRefused("You cannot edit this response.")
    _check_allowed(membership, fields)
    if fields.scope != response.scope or (
        fields.scope == CannedScope.PERSONAL and response.owner_id != membership.user_id
    ):
        _check_limit(membership.organization, fields, membership.user, response.id)
    _apply(response, fields, membership.user)
    response.updated_at = timezone.now()
    response.save()
    _set_labels(response, fields.labels)
    return response


@transaction.atomic
def do_delete_response(response: CannedResponse, membership: Membership) -> None:
    if not can_edit_response(response, membership):
        raise ActionRefused("You cannot delete this response.")
    files = [attachment.file.name or "" for attachment in response.attachments.all()]
    response.delete()
    transaction.on_commit(lambda: _delete_files(CannedResponseAttachment, files))


def _delete_files(model: type[CannedResponseAttachment], names: list[str]) -> None:
    storage = model._meta.get_field("file").storage  # type: ignore[union-attr]
    for name in names:
        storage.delete(name)


def response_content_id() -> str:
    """The Content-ID of an inline image of a response, as its body's src="cid:…" names it."""
    return f"{uuid.uuid4().hex}@responses"


@transaction.atomic
def do_add_response_attachment(
    response: CannedResponse, membership: Membership, upload: UploadedFile, *, inline: bool, content_id: str = ""
) -> CannedResponseAttachment:
    """A file of the response; an inline one (an image) gets `content_id`, or a new one."""
    if not can_edit_response(response, membership):
        raise ActionRefused("You cannot edit this response.")
    if (upload.size or 0) > MAX_ATTACHMENT_BYTES:
        raise ActionRefused("Files are limited to 25 MB.")
    content_type = upload.content_type or "application/octet-stream"
    if inline and not content_type.startswith("image/"):
        raise ActionRefused("Only images can be inline.")
    attachment = CannedResponseAttachment(
        organization_id=response.organization_id,
        response=response,
        filename=(upload.name or "file")[:255],
        content_type=content_type[:127],
        size=upload.size or 0,
        is_inline=inline,
        content_id=(content_id or response_content_id()) if inline else "",
    )
    attachment.file.save(attachment.filename, upload, save=False)
    attachment.save()
    return attachment


@transaction.atomic
def do_remove_response_attachment(attachment: CannedResponseAttachment, membership: Membership) -> None:
    if not can_edit_response(attachment.response, membership):
        raise ActionRefused("You cannot edit this response.")
    name = attachment.file.name or ""
    attachment.delete()
    transaction.on_commit(lambda: _delete_files(CannedResponseAttachment, [name]))


# --- Search -----------------------------------------------------------------------------------

_WORD_PIECES = re.compile(r"[^\W_]+|_+")


@dataclass
class SearchScope:
    """What the first words of a query limit the search to, and the words left to match."""

    terms: list[str]
    scope: str | None = None
    team: Team | None = None


def parse_query(query: str, membership: Membership) -> SearchScope:
    """ "sales refund policy": a team's name first limits to the team; the organization's name to
    the organization's responses; "personal" to mine. Names of several words count too."""
    lowered = " ".join(query.lower().split())
    teams = Team.objects.filter(organization_id=membership.organization_id, memberships__user=membership.user)
    candidates: list[tuple[str, str, Team | None]] = [(team.name.lower(), CannedScope.TEAM, team) for team in teams]
    candidates.append((membership.organization.name.lower(), CannedScope.ORGANIZATION, None))
    candidates.append(("personal", CannedScope.PERSONAL, None))
    for name, scope, team in sorted(candidates, key=lambda c: -len(c[0])):
        if name and (lowered == name or lowered.startswith(name + " ")):
            return SearchScope(lowered[len(name) :].split(), scope, team)
    return SearchScope(lowered.split())


def _words(text: str) -> list[str]:
    """The text's words as typed ("person?") and their letter runs ("person"), lower case."""
    words: list[str] = []
    for word in text.lower().split():
        words.append(word)
        pieces = _WORD_PIECES.findall(word)
        if pieces != [word]:
            words.extend(pieces)
    return words


def _term_regex(term: str) -> str:
    # PostgreSQL's regex: the term at the start of a word; the exact check is done in Python.
    return r"(^|[^[:alnum:]])" + re.escape(term)


def search_responses(membership: Membership, query: str, *, limit: int = SEARCH_RESULTS) -> list[CannedResponse]:
    """Responses whose title, subject or body has a word starting with each term, in any order;
    the most occurrences of the terms first, then by title."""
    parsed = parse_query(query, membership)
    responses = responses_for(membership)
    if parsed.scope is not None:
        responses = responses.filter(scope=parsed.scope)
    if parsed.team is not None:
        responses = responses.filter(team=parsed.team)
    for term in parsed.terms:
        pattern = _term_regex(term)
        responses = responses.filter(Q(title__iregex=pattern) | Q(subject__iregex=pattern) | Q(body__iregex=pattern))
    responses = responses.select_related("team").order_by("title")
    if not parsed.terms:
        return list(responses[:limit])
    ranked: list[tuple[int, str, CannedResponse]] = []
    for response in responses:
        words = _words(" ".join((response.title, response.subject, html_to_text(response.body))))
        counts = [sum(1 for word in words if word.startswith(term)) for term in parsed.terms]
        if all(counts):
            ranked.append((-sum(counts), response.title.lower(), response))
    ranked.sort(key=lambda item: item[:2])
    return [response for _, _, response in ranked[:limit]]


# --- Inserting into a draft -------------------------------------------------------------------


@dataclass
class Inserted:
    """What the editor inserts and the composer shows after inserting a response."""

    html: str
    subject: str
    to: list[dict[str, str]]
    cc: list[dict[str, str]]
    bcc: list[dict[str, str]]
    attachments: list[DraftAttachment]


class ValuesNeeded(Exception):
    """The response has form variables without a value yet: ask for them, then insert."""

    def __init__(self, names: list[str], given: dict[str, str]) -> None:
        super().__init__(", ".join(names))
        self.names, self.given = names, given


def form_fields(response: CannedResponse) -> list[str]:
    """The response's form variables (raises TemplateProblem for a broken template)."""
    fields = templating.form_variables(response.subject)
    for name in templating.form_variables(liquid_source(response.body)):
        if name not in fields:
            fields.append(name)
    return fields


def _merge(existing: list, added: list) -> list[dict[str, str]]:
    """Append the response's recipients to the draft's, skipping addresses already there."""
    merged = [_recipient(value) for value in existing or []]
    seen = {r["address"].lower() for r in merged}
    for value in added or []:
        recipient = _recipient(value)
        if recipient["address"] and recipient["address"].lower() not in seen:
            seen.add(recipient["address"].lower())
            merged.append(recipient)
    return merged


def _recipient(value: Any) -> dict[str, str]:
    from email.utils import parseaddr

    if isinstance(value, dict):
        return {"name": value.get("name") or "", "address": value.get("address") or ""}
    name, address = parseaddr(str(value))
    return {"name": name, "address": address}


def _nest(values: dict[str, str]) -> dict[str, Any]:
    """{"order.number": "42"} as {"order": {"number": "42"}} for Liquid."""
    nested: dict[str, Any] = {}
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node.setdefault(leaf, value)
    return nested


def template_context(draft: Draft, user: User, recipients: list[dict[str, str]]) -> dict[str, Any]:
    """The response's variables: recipient.* from the recipients it is sent to, message.* the
    draft (its id stands for the Message-ID to come) and its From."""
    alias = draft.alias
    return sending.template_context(
        draft,
        user,
        message_id=draft.id,
        from_name=(alias.name if alias is not None else "") or user.display_name,
        from_address=alias.address if alias is not None else "",
        recipients=recipients,
    )


@transaction.atomic
def do_insert_response(
    draft: Draft, response: CannedResponse, *, acting_user: User, values: dict[str, str] | None = None
) -> Inserted:
    """Render the response for the draft and add its recipients, subject and attachments to it.
    Raises ValuesNeeded while form variables lack a value, TemplateProblem for a broken template
    and ActionRefused for a draft that is no longer being written; nothing is written then."""
    draft = Draft.objects.select_for_update(of=("self",)).select_related("alias").get(id=draft.id)
    if draft.status not in (DraftStatus.EDITING, DraftStatus.SCHEDULED):
        raise ActionRefused("This draft was already sent or discarded.")
    if response.organization_id != draft.organization_id:
        raise ActionRefused("This response belongs to another organization.")
    given = {name: value.strip() for name, value in (values or {}).items() if value and value.strip()}
    names = form_fields(response)
    missing = [name for name in names if name not in given]
    if missing:
        raise ValuesNeeded(names, given)
    to = _merge(draft.to, response.to)
    context = {**_nest({name: given[name] for name in names}), **template_context(draft, acting_user, to)}
    subject = " ".join(templating.render(response.subject, context).split())
    body = templating.render(liquid_source(response.body), _escaped(context))

    draft.to, draft.cc, draft.bcc = to, _merge(draft.cc, response.cc), _merge(draft.bcc, response.bcc)
    if subject and not draft.subject.strip():
        draft.subject = subject[:500]
    copies = []
    for attachment in response.attachments.all():
        copy = _copy_attachment(attachment, draft)
        if attachment.is_inline and attachment.content_id:
            body = body.replace(f"cid:{attachment.content_id}", f"cid:{copy.content_id}")
        copies.append(copy)
    draft.version += 1
    draft.updated_at, draft.updated_by = timezone.now(), acting_user
    draft.save(update_fields=["to", "cc", "bcc", "subject", "version", "updated_at", "updated_by"])
    return Inserted(clean_outgoing_html(body), draft.subject, draft.to, draft.cc, draft.bcc, copies)


def _copy_attachment(attachment: CannedResponseAttachment, draft: Draft) -> DraftAttachment:
    copy = DraftAttachment(
        organization_id=draft.organization_id,
        draft=draft,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        is_inline=attachment.is_inline,
        # A fresh id: the same response may go into one draft twice.
        content_id=f"{uuid.uuid4().hex}@responses" if attachment.is_inline else "",
    )
    with attachment.file.open("rb") as source:
        copy.file.save(attachment.filename, ContentFile(source.read()), save=False)
    copy.save()
    # The file is stored before the row commits; a rollback leaves it for the storage sweep.
    return copy
