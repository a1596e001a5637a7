"""GET, POST and PATCH /v1/shared_labels (rest-api.md §4.30–4.32): the organization's labels,
through the label actions of the settings pages. Any member creates a label and changes its
name, color and parent; only owners and admins change who sees it and who is auto-shared."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from channels_app.api.batch import Text, items_for_ids, parse_ids, refused
from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import offset_page
from channels_app.api.serializers import label_json
from channels_app.api.users import member_organization_ids
from conversations.actions import ActionRefused
from conversations.labels import do_create_label, do_update_label, get_label_for_user
from conversations.models import Label, LabelVisibility
from inboxes.access import get_membership
from inboxes.models import Membership, Organization, Team, User

router = Router(tags=["shared_labels"])

VISIBILITY = {"organization": LabelVisibility.EVERYONE, "delegates": LabelVisibility.RESTRICTED}
SHARING_FIELDS = ("visibility", "share_with_team", "share_with_users", "share_with_organization")


class LabelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    id: UUID | None = None
    name: Text | None = Field(default=None, min_length=1, max_length=80)
    organization: UUID | None = None
    color: Text | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    parent: UUID | None = None
    share_with_organization: bool | None = None
    share_with_team: UUID | None = None
    share_with_users: list[UUID] | None = None
    visibility: Literal["organization", "delegates"] | None = None


class LabelsBody(Schema):
    shared_labels: list[LabelIn] = Field(min_length=1)


def _labels(ids: list[UUID]) -> list[dict[str, Any]]:
    labels = (
        Label.objects.filter(id__in=ids)
        .select_related("parent")
        .prefetch_related("auto_share_users", "auto_share_teams")
    )
    by_id = {label.id: label for label in labels}
    return [label_json(by_id[label_id]) for label_id in ids]


def _parent(user: User, item: LabelIn, organization: Organization, prefix: str) -> Label | None:
    if item.parent is None:
        return None
    try:
        return get_label_for_user(user, item.parent, organization_id=organization.id)
    except Http404:
        raise ApiError(f"'{prefix}.parent' is not a label of this organization", field=f"{prefix}.parent") from None


def _sharing(item: LabelIn, organization: Organization, prefix: str) -> tuple[list[User] | None, list[Team] | None]:
    if item.share_with_organization:
        # Our labels grant access through people and teams only.
        raise ApiError(
            f"'{prefix}.share_with_organization' is not supported by this server",
            field=f"{prefix}.share_with_organization",
        )
    users = None
    if item.share_with_users is not None:
        users = list(User.objects.filter(id__in=item.share_with_users, memberships__organization=organization))
        if len(users) != len(set(item.share_with_users)):
            field = f"{prefix}.share_with_users"
            raise ApiError(f"'{field}' must list people of the organization", field=field)
    teams = None
    if item.share_with_team is not None:
        teams = list(Team.objects.filter(id=item.share_with_team, organization=organization))
        if not teams:
            field = f"{prefix}.share_with_team"
            raise ApiError(f"'{field}' must be a team of the organization", field=field)
    return users, teams


@router.get("/shared_labels")
def list_labels(
    request: HttpRequest, organization: UUID | None = None, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    user = api_user(request)
    labels = (
        Label.objects.visible_to(user)
        .filter(owner__isnull=True, organization_id__in=member_organization_ids(user, organization))
        .select_related("parent")
        .prefetch_related("auto_share_users", "auto_share_teams")
        .order_by("name", "id")
    )
    return {"shared_labels": [label_json(label) for label in offset_page(labels, limit, offset)]}


@router.post("/shared_labels", response={201: dict[str, Any]})
def create_labels(request: HttpRequest, payload: LabelsBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    created = []
    with transaction.atomic():
        for index, item in enumerate(payload.shared_labels):
            prefix = f"shared_labels.{index}"
            for name in ("name", "organization"):
                if getattr(item, name) is None:
                    raise ApiError(f"'{prefix}.{name}' is required", field=f"{prefix}.{name}")
            organization = get_membership(user, item.organization).organization  # type: ignore[arg-type]
            users, teams = _sharing(item, organization, prefix)
            try:
                label = do_create_label(
                    organization,
                    acting_user=user,
                    name=item.name or "",
                    parent=_parent(user, item, organization, prefix),
                    color=item.color or "#64748b",
                    visibility=VISIBILITY[item.visibility or "organization"],
                    auto_share_users=users or (),
                    auto_share_teams=teams or (),
                )
            except ActionRefused as exc:
                raise PermissionDenied(" ".join(exc.messages)) from exc
            except ValidationError as exc:
                raise refused(exc, prefix) from exc
            created.append(label.id)
    return Status(201, {"shared_labels": _labels(created)})


@router.patch("/shared_labels/{label_ids}")
def update_labels(request: HttpRequest, label_ids: str, payload: LabelsBody) -> dict[str, Any]:
    user = api_user(request)
    ids = parse_ids(label_ids, field="label_ids")
    labels = {
        label.id: label
        for label in Label.objects.visible_to(user)
        .filter(id__in=ids, owner__isnull=True)
        .select_related("organization")
    }
    if len(labels) != len(ids):
        raise Http404("No such label.")
    with transaction.atomic():
        for label_id, item, index in items_for_ids(ids, payload.shared_labels, envelope="shared_labels"):
            prefix = f"shared_labels.{index}"
            label = labels[label_id]
            if item.organization is not None and item.organization != label.organization_id:
                raise ApiError(f"'{prefix}.organization' cannot change", field=f"{prefix}.organization")
            sharing = any(getattr(item, name) is not None for name in SHARING_FIELDS)
            membership = Membership.objects.get(organization_id=label.organization_id, user=user)
            if sharing and not membership.can_manage:
                raise PermissionDenied("Only owners and admins change a label's visibility and sharing.")
            users, teams = _sharing(item, label.organization, prefix)
            if users is not None and teams is None:
                teams = list(label.auto_share_teams.all())
            if teams is not None and users is None:
                users = list(label.auto_share_users.all())
            parent = _parent(user, item, label.organization, prefix) if item.parent else label.parent
            try:
                do_update_label(
                    label,
                    acting_user=user,
                    name=item.name if item.name is not None else label.name,
                    parent=parent,
                    color=item.color or label.color,
                    emoji=label.emoji,
                    description=label.description,
                    visibility=VISIBILITY[item.visibility] if item.visibility else None,
                    auto_share_users=users,
                    auto_share_teams=teams,
                )
            except ActionRefused as exc:
                raise PermissionDenied(" ".join(exc.messages)) from exc
            except ValidationError as exc:
                raise refused(exc, prefix) from exc
    return {"shared_labels": _labels(ids)}
