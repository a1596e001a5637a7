"""Canned responses: GET list and one, POST, PATCH and DELETE /v1/responses (rest-api.md
§4.23–4.27), through the actions of conversations/canned.py. A response belongs to the caller
(`user`: personal), to the organization, or to one of its teams (`share_with_team`)."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from channels_app.api.batch import Text, items_for_ids, parse_ids, refused
from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import offset_page
from channels_app.api.serializers import response_json
from conversations import canned, templating
from conversations.actions import ActionRefused
from conversations.models import CannedResponse, CannedScope, Label
from inboxes.access import get_membership
from inboxes.models import Membership, Team, User

router = Router(tags=["responses"])

MAX_ATTACHMENTS = 25
# An inline image of the API's body: <img data-missive-attachment-id="…"> (rest-api.md §3.2).
_INLINE_REFERENCE = re.compile(r'data-missive-attachment-id="([^"]+)"')


class Recipient(Schema):
    model_config = ConfigDict(extra="forbid")

    address: Text = Field(min_length=1, max_length=254)
    name: Text = Field(default="", max_length=200)


class ResponseFileIn(Schema):
    model_config = ConfigDict(extra="forbid")

    base64_data: str
    filename: Text = Field(min_length=1, max_length=255)
    id: Text | None = Field(default=None, max_length=200)


class ResponseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    id: UUID | None = None
    title: Text | None = Field(default=None, min_length=1, max_length=200)
    organization: UUID | None = None
    user: UUID | None = None
    body: Text | None = None
    subject: Text | None = Field(default=None, max_length=500)
    share_with_team: UUID | None = None
    shared_labels: list[UUID] | None = None
    to_fields: list[Recipient] | None = None
    cc_fields: list[Recipient] | None = None
    bcc_fields: list[Recipient] | None = None
    external_id: Text | None = Field(default=None, max_length=255)
    external_source: Text | None = Field(default=None, max_length=255)
    attachments: list[ResponseFileIn] | None = Field(default=None, max_length=MAX_ATTACHMENTS)


class ResponsesBody(Schema):
    responses: list[ResponseIn] = Field(min_length=1)


def _owner_membership(user: User, item: ResponseIn, prefix: str) -> Membership:
    """The organization the response goes in: `organization`, or the caller's own for `user`."""
    if (item.organization is None) == (item.user is None):
        raise ApiError(
            f"'{prefix}.organization' or '{prefix}.user' is required, not both", field=f"{prefix}.organization"
        )
    if item.user is not None:
        if item.user != user.id:
            raise ApiError(f"'{prefix}.user' must be your own id", field=f"{prefix}.user")
        membership = Membership.objects.filter(user=user).select_related("organization").order_by("created_at").first()
        if membership is None:
            raise Http404("No organization.")
    else:
        membership = get_membership(user, item.organization)  # type: ignore[arg-type]
    membership.user = user
    return membership


def _scope(membership: Membership, item: ResponseIn, prefix: str) -> tuple[str, Team | None]:
    if item.user is not None:
        if item.share_with_team is not None:
            raise ApiError(f"'{prefix}.share_with_team' needs 'organization'", field=f"{prefix}.share_with_team")
        return CannedScope.PERSONAL, None
    if item.share_with_team is None:
        return CannedScope.ORGANIZATION, None
    team = Team.objects.filter(id=item.share_with_team, organization_id=membership.organization_id).first()
    if team is None:
        raise ApiError(
            f"'{prefix}.share_with_team' must be a team of the organization", field=f"{prefix}.share_with_team"
        )
    return CannedScope.TEAM, team


def _labels(membership: Membership, ids: list[UUID], prefix: str) -> list[Label]:
    labels = list(
        Label.objects.visible_to(membership.user).filter(id__in=ids, organization_id=membership.organization_id)
    )
    if len(labels) != len(set(ids)):
        raise ApiError(f"'{prefix}.shared_labels' must be labels of the organization", field=f"{prefix}.shared_labels")
    return labels


def _template(value: str, field: str) -> str:
    try:
        canned.check_template(value)
    except templating.TemplateProblem as problem:
        raise ApiError(str(problem), field=field) from None
    return value


def _recipients(items: list[Recipient] | None, current: list[Any]) -> list[dict[str, str]]:
    if items is None:
        return list(current)
    return [{"name": item.name, "address": item.address} for item in items]


def _fields(
    item: ResponseIn, membership: Membership, prefix: str, current: CannedResponse | None
) -> canned.ResponseFields:
    external_id = item.external_id if item.external_id is not None else (current.external_id if current else "")
    source = item.external_source if item.external_source is not None else (current.external_source if current else "")
    if external_id and not source:
        raise ApiError(f"'{prefix}.external_source' is required with 'external_id'", field=f"{prefix}.external_source")
    if current is None or any(v is not None for v in (item.organization, item.user, item.share_with_team)):
        if current is not None and item.organization is None and item.user is None:
            item = item.model_copy(update={"organization": current.organization_id})
        scope, team = _scope(membership, item, prefix)
    else:
        scope, team = current.scope, current.team
    if item.shared_labels is not None and scope == CannedScope.PERSONAL:
        raise ApiError(f"'{prefix}.shared_labels' needs 'organization'", field=f"{prefix}.shared_labels")
    if item.shared_labels is not None:
        labels = _labels(membership, item.shared_labels, prefix)
    else:
        labels = list(current.labels.all()) if current is not None else []
    title = item.title if item.title is not None else (current.title if current else None)
    if not title:
        raise ApiError(f"'{prefix}.title' is required", field=f"{prefix}.title")
    return canned.ResponseFields(
        scope=scope,
        team=team,
        title=title,
        subject=_template(
            item.subject if item.subject is not None else (current.subject if current else ""), f"{prefix}.subject"
        ),
        body=_template(item.body if item.body is not None else (current.body if current else ""), f"{prefix}.body"),
        to=_recipients(item.to_fields, current.to if current else []),
        cc=_recipients(item.cc_fields, current.cc if current else []),
        bcc=_recipients(item.bcc_fields, current.bcc if current else []),
        labels=labels,
        external_id=item.external_id,
        external_source=item.external_source,
    )


@dataclass
class _File:
    filename: str
    content: bytes
    content_type: str
    reference: str
    content_id: str = ""  # set when the body shows it inline


def _files(item: ResponseIn, prefix: str) -> list[_File]:
    files = []
    for index, upload in enumerate(item.attachments or []):
        try:
            content = base64.b64decode(upload.base64_data, validate=True)
        except (binascii.Error, ValueError):
            field = f"{prefix}.attachments.{index}.base64_data"
            raise ApiError(f"'{field}' is not valid base64", field=field) from None
        name = upload.filename.replace("/", "_").replace("\\", "_")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(_File(name, content, content_type, upload.id or ""))
    return files


def _inline_body(item: ResponseIn, files: list[_File], prefix: str) -> ResponseIn:
    """The body's <img data-missive-attachment-id="temporary id"> as the cid: images responses
    keep (what inserting one into a draft copies); the files it names become inline."""
    if item.body is None:
        return item
    by_reference = {file.reference: (index, file) for index, file in enumerate(files) if file.reference}

    def to_cid(match: re.Match[str]) -> str:
        found = by_reference.get(match.group(1))
        if found is None:
            return match.group(0)
        index, file = found
        if not file.content_type.startswith("image/"):
            field = f"{prefix}.attachments.{index}.id"
            raise ApiError(f"'{field}' is shown inline in the body, but only images can be", field=field)
        file.content_id = file.content_id or canned.response_content_id()
        return f'src="cid:{file.content_id}"'

    return item.model_copy(update={"body": _INLINE_REFERENCE.sub(to_cid, item.body)})


def _attach(response: CannedResponse, membership: Membership, files: list[_File], *, replace: bool) -> None:
    """The files as the response's attachments; `attachments` sent on an update replaces the set."""
    if replace:
        for old in list(response.attachments.all()):
            canned.do_remove_response_attachment(old, membership)
    for file in files:
        upload = SimpleUploadedFile(file.filename, file.content, content_type=file.content_type)
        canned.do_add_response_attachment(
            response, membership, upload, inline=bool(file.content_id), content_id=file.content_id
        )


def _already_created(user: User, membership: Membership, item: ResponseIn) -> CannedResponse | None:
    """A retried create: the response with this external pair, in the organization or, for a
    personal one, the caller's own."""
    if not item.external_id:
        return None
    return CannedResponse.objects.filter(
        organization_id=membership.organization_id,
        owner=user if item.user is not None else None,
        external_id=item.external_id,
        external_source=item.external_source or "",
    ).first()


def _visible(user: User) -> Any:
    memberships = Membership.objects.filter(user=user).only("organization_id")
    conditions = [canned.visible_responses_q(user, m.organization_id) for m in memberships]
    return CannedResponse.objects.filter(reduce(or_, conditions, Q(pk__in=[])))


def _responses(ids: list[UUID]) -> list[dict[str, Any]]:
    rows = CannedResponse.objects.filter(id__in=ids).prefetch_related("labels", "attachments")
    by_id = {response.id: response for response in rows}
    return [response_json(by_id[response_id]) for response_id in ids]


def _editable(user: User, ids: list[UUID]) -> dict[UUID, tuple[CannedResponse, Membership]]:
    found = {}
    for response_id in ids:
        response, membership = canned.get_response_for_user(user, response_id)
        membership.user = user
        found[response_id] = (response, membership)
    return found


@router.get("/responses")
def list_responses(
    request: HttpRequest, organization: UUID | None = None, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    user = api_user(request)
    responses = _visible(user)
    if organization is not None:
        get_membership(user, organization)
        responses = responses.filter(organization_id=organization)
    responses = responses.prefetch_related("labels", "attachments").order_by("title", "id")
    return {"responses": [response_json(response) for response in offset_page(responses, limit, offset)]}


@router.get("/responses/{response_ids}")
def get_responses(request: HttpRequest, response_ids: str) -> dict[str, Any]:
    """One id gives the response as an object; several comma-separated ids an array."""
    user = api_user(request)
    ids = parse_ids(response_ids, field="response_ids")
    for response_id in ids:
        canned.get_response_for_user(user, response_id)
    items = _responses(ids)
    return {"responses": items[0] if len(response_ids.split(",")) == 1 else items}


@router.post("/responses", response={201: dict[str, Any]})
def create_responses(request: HttpRequest, payload: ResponsesBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    created = []
    with transaction.atomic():
        for index, item in enumerate(payload.responses):
            prefix = f"responses.{index}"
            if item.id is not None:
                raise ApiError(f"'{prefix}.id' is set by the server", field=f"{prefix}.id")
            membership = _owner_membership(user, item, prefix)
            files = _files(item, prefix)
            item = _inline_body(item, files, prefix)
            fields = _fields(item, membership, prefix, None)
            existing = _already_created(user, membership, item)
            if existing is not None:
                created.append(existing.id)
                continue
            try:
                response = canned.do_create_response(membership, fields)
                _attach(response, membership, files, replace=False)
            except ActionRefused as exc:
                raise refused(exc, prefix) from exc
            created.append(response.id)
    return Status(201, {"responses": _responses(created)})


@router.patch("/responses/{response_ids}")
def update_responses(request: HttpRequest, response_ids: str, payload: ResponsesBody) -> dict[str, Any]:
    user = api_user(request)
    ids = parse_ids(response_ids, field="response_ids")
    found = _editable(user, ids)
    with transaction.atomic():
        for response_id, item, index in items_for_ids(ids, payload.responses, envelope="responses"):
            prefix = f"responses.{index}"
            response, membership = found[response_id]
            if item.organization is not None and item.organization != response.organization_id:
                raise ApiError(f"'{prefix}.organization' cannot change", field=f"{prefix}.organization")
            if item.user is not None and item.user != user.id:
                raise ApiError(f"'{prefix}.user' must be your own id", field=f"{prefix}.user")
            files = _files(item, prefix)
            item = _inline_body(item, files, prefix)
            fields = _fields(item, membership, prefix, response)
            if not canned.can_edit_response(response, membership):
                raise PermissionDenied("You cannot change this response.")
            try:
                canned.do_update_response(response, membership, fields)
                if item.attachments is not None:
                    _attach(response, membership, files, replace=True)
            except ActionRefused as exc:
                raise refused(exc, prefix) from exc
    return {"responses": _responses(ids)}


@router.delete("/responses/{response_ids}", response={204: None})
def delete_responses(request: HttpRequest, response_ids: str) -> Status[None]:
    user = api_user(request)
    ids = parse_ids(response_ids, field="response_ids")
    found = _editable(user, ids)
    with transaction.atomic():
        for response, membership in found.values():
            if not canned.can_edit_response(response, membership):
                raise PermissionDenied("You cannot change this response.")
            canned.do_delete_response(response, membership)
    return Status(204, None)
