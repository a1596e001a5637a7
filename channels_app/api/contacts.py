"""Contacts, contact books and contact groups (spec/rest-api.md §3.6, §4.3–4.8).

Only books the caller can see exist for them: another book or contact is a 404. A batch create or
update is one transaction, so a refused item (a 400 naming its field, e.g.
"contacts.1.infos.0.label") leaves nothing half-written.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.db import transaction
from django.db.models import Prefetch
from django.db.models.functions import Lower
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import epoch, from_epoch, offset_page
from contacts.access import visible_book, visible_contact
from contacts.actions import ContactInvalid, do_create_contact, do_update_contact, search_contacts
from contacts.models import (
    ADDRESS_PARTS,
    CONTACT_STRINGS,
    Contact,
    ContactBook,
    ContactGroup,
    ContactInfo,
    ContactMembership,
)
from missive.ids import is_uuid

router = Router(tags=["contacts"])

InfoKindName = Literal["email", "phone_number", "twitter", "facebook", "physical_address", "url", "custom"]


class InfoIn(Schema):
    kind: InfoKindName
    label: str
    custom_label: str | None = None
    value: str | None = None
    name: str | None = None
    street: str | None = None
    extended_address: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    po_box: str | None = None
    country: str | None = None


class GroupIn(Schema):
    id: UUID | None = None
    kind: Literal["organization", "group"]
    name: str = Field(min_length=1, max_length=200)


class MembershipIn(Schema):
    title: str | None = None
    location: str | None = None
    department: str | None = None
    description: str | None = None
    group: GroupIn


class ContactFields(Schema):
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    phonetic_first_name: str | None = None
    phonetic_last_name: str | None = None
    phonetic_middle_name: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    nickname: str | None = None
    file_as: str | None = None
    notes: str | None = None
    gender: str | None = None
    starred: bool | None = None
    infos: list[InfoIn] | None = None
    memberships: list[MembershipIn] | None = None


class ContactIn(ContactFields):
    contact_book: UUID


class ContactChange(ContactFields):
    id: UUID | None = None
    contact_book: UUID | None = None


class ContactsCreate(Schema):
    contacts: list[ContactIn] = Field(min_length=1)


class ContactsUpdate(Schema):
    contacts: list[ContactChange] = Field(min_length=1)


# --- Serialization ----------------------------------------------------------------------------------


def _info_json(info: ContactInfo) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": info.kind, "label": info.label}
    if info.custom_label:
        data["custom_label"] = info.custom_label
    if info.kind == "physical_address":
        data.update({part: getattr(info, part) for part in ADDRESS_PARTS if getattr(info, part)})
    elif info.kind == "facebook":
        data["name"] = info.name
    else:
        data["value"] = info.value
    return data


def _membership_json(membership: ContactMembership) -> dict[str, Any]:
    group = membership.group
    data: dict[str, Any] = {"group": {"id": str(group.id), "kind": group.kind, "name": group.name}}
    for key in ("title", "location", "department", "description"):
        if getattr(membership, key):
            data[key] = getattr(membership, key)
    return data


def contact_json(contact: Contact) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(contact.id),
        "contact_book": str(contact.book_id),
        "deleted": contact.deleted,
        "modified_at": epoch(contact.modified_at),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "starred": contact.starred,
    }
    data.update({key: getattr(contact, key) for key in CONTACT_STRINGS if key not in data and getattr(contact, key)})
    data["infos"] = [_info_json(info) for info in contact.infos.all()]
    data["memberships"] = [_membership_json(m) for m in contact.memberships.all()]
    return data


def _with_details(contacts: Any) -> Any:
    return contacts.prefetch_related(
        "infos", Prefetch("memberships", queryset=ContactMembership.objects.select_related("group"))
    )


def _reloaded(contacts: list[Contact]) -> list[dict[str, Any]]:
    by_id = {c.id: c for c in _with_details(Contact.objects.filter(id__in=[c.id for c in contacts]))}
    return [contact_json(by_id[c.id]) for c in contacts]


def book_json(book: ContactBook) -> dict[str, Any]:
    return {
        "id": str(book.id),
        "user": str(book.owner_id),
        "share_with_organization": book.share_with_organization,
        "share_with_team": str(book.share_with_team_id) if book.share_with_team_id else None,
        "share_with_users": [str(shared.user_id) for shared in book.shared_users.all()],
        "organization": str(book.organization_id),
        "name": book.name,
        "description": book.description,
    }


def _invalid(error: ContactInvalid, index: int) -> ApiError:
    field = f"contacts.{index}.{error.field}" if error.field else f"contacts.{index}"
    message = error.message.replace(f"'{error.field}", f"'{field}", 1)
    return ApiError(message, field=field)


# --- Endpoints --------------------------------------------------------------------------------------


@router.post("/contacts", response={201: dict[str, Any]})
def create_contacts(request: HttpRequest, payload: ContactsCreate) -> Status[dict[str, Any]]:
    user = api_user(request)
    created: list[Contact] = []
    with transaction.atomic():
        for index, item in enumerate(payload.contacts):
            book = visible_book(user, item.contact_book)
            data = item.model_dump(exclude_unset=True, exclude={"contact_book"})
            try:
                created.append(do_create_contact(book, acting_user=user, data=data))
            except ContactInvalid as error:
                raise _invalid(error, index) from None
    return Status(201, {"contacts": _reloaded(created)})


def _path_ids(ids: str) -> list[str]:
    values = [part.strip().lower() for part in ids.split(",") if part.strip()]
    if not values or not all(is_uuid(value) for value in values):
        raise ApiError("'ids' must be contact ids separated by commas.", field="ids")
    return values


@router.patch("/contacts/{ids}")
def update_contacts(request: HttpRequest, ids: str, payload: ContactsUpdate) -> dict[str, Any]:
    user = api_user(request)
    wanted = _path_ids(ids)
    updated: list[Contact] = []
    with transaction.atomic():
        for index, item in enumerate(payload.contacts):
            contact_id = str(item.id) if item.id else (wanted[0] if len(wanted) == 1 else "")
            if contact_id not in wanted:
                raise ApiError(
                    f"'contacts.{index}.id' must be one of the ids in the URL.", field=f"contacts.{index}.id"
                )
            contact = visible_contact(user, contact_id)
            book = visible_book(user, item.contact_book) if item.contact_book else None
            if book is not None and book.organization_id != contact.organization_id:
                raise ApiError(
                    f"'contacts.{index}.contact_book' must be in the contact's organization.",
                    field=f"contacts.{index}.contact_book",
                )
            data = item.model_dump(exclude_unset=True, exclude={"id", "contact_book"})
            try:
                updated.append(do_update_contact(contact, acting_user=user, data=data, book=book))
            except ContactInvalid as error:
                raise _invalid(error, index) from None
    return {"contacts": _reloaded(updated)}


@router.get("/contacts")
def list_contacts(
    request: HttpRequest,
    contact_book: UUID,
    order: Literal["last_name", "last_modified"] = "last_name",
    limit: int | None = None,
    offset: int | None = None,
    modified_since: int | None = None,
    include_deleted: bool = False,
    search: str | None = None,
) -> dict[str, Any]:
    book = visible_book(api_user(request), contact_book)
    contacts = Contact.objects.filter(book=book)
    if not include_deleted:
        contacts = contacts.alive()
    if modified_since is not None:
        contacts = contacts.filter(modified_at__gte=from_epoch(modified_since, field="modified_since"))
    if search:
        contacts = search_contacts(contacts, search)
    if order == "last_modified":
        contacts = contacts.order_by("-modified_at", "id")
    else:
        contacts = contacts.order_by(Lower("last_name"), Lower("first_name"), "id")
    page = offset_page(_with_details(contacts), limit, offset)
    return {"contacts": [{"id": str(c.id), "deleted": True} if c.deleted else contact_json(c) for c in page]}


@router.get("/contacts/{ids}")
def get_contact(request: HttpRequest, ids: str) -> dict[str, Any]:
    user = api_user(request)
    wanted = _path_ids(ids)
    contacts = [visible_contact(user, contact_id) for contact_id in wanted]
    found = _reloaded(contacts)
    return {"contacts": found[0] if len(found) == 1 else found}


@router.get("/contact_books")
def list_contact_books(request: HttpRequest, limit: int | None = None, offset: int | None = None) -> dict[str, Any]:
    books = ContactBook.objects.visible_to(api_user(request)).prefetch_related("shared_users")
    return {"contact_books": [book_json(book) for book in offset_page(books, limit, offset)]}


@router.get("/contact_groups")
def list_contact_groups(
    request: HttpRequest,
    contact_book: UUID,
    kind: Literal["group", "organization"],
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    book = visible_book(api_user(request), contact_book)
    groups = ContactGroup.objects.filter(book=book, kind=kind).order_by(Lower("name"), "id")
    return {"contact_groups": [{"id": str(g.id), "name": g.name} for g in offset_page(groups, limit, offset)]}
