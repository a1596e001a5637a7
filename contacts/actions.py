"""Writing contacts (create, partial update, soft delete), searching them, and the lookups the
rest of the app asks: which contacts and which groups an email address or phone number has.

Input is the API's shape (spec/rest-api.md §3.6) as plain dicts; a value that breaks the §3.6
table raises ContactInvalid naming the field relative to the contact ("infos.1.label").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from contacts.models import (
    ADDRESS_PARTS,
    CONTACT_STRINGS,
    INFO_LABELS,
    Contact,
    ContactBook,
    ContactBookUser,
    ContactGroup,
    ContactInfo,
    ContactMembership,
    ContactQuerySet,
    GroupKind,
    InfoKind,
    address_key,
)
from inboxes.models import Organization, Team, User


class ContactInvalid(Exception):
    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


MEMBERSHIP_STRINGS = ("title", "location", "department", "description")


@dataclass
class Cleaned:
    strings: dict[str, str] = field(default_factory=dict)
    starred: bool | None = None
    infos: list[dict[str, Any]] | None = None
    memberships: list[dict[str, Any]] | None = None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def clean_info(data: dict[str, Any], where: str) -> dict[str, Any]:
    """One ContactInfo's model fields, checked against the §3.6 table."""
    kind = data.get("kind")
    if kind not in INFO_LABELS:
        raise ContactInvalid(f"'{where}.kind' must be one of {', '.join(INFO_LABELS)}.", field=f"{where}.kind")
    label = _text(data.get("label"))
    if label not in INFO_LABELS[kind]:
        allowed = ", ".join(INFO_LABELS[kind])
        raise ContactInvalid(f"'{where}.label' must be one of {allowed} for {kind}.", field=f"{where}.label")
    info: dict[str, Any] = {"kind": kind, "label": label, "custom_label": _text(data.get("custom_label"))}
    if kind == InfoKind.PHYSICAL_ADDRESS:
        info.update({part: _text(data.get(part)) for part in ADDRESS_PARTS})
        if not any(info[part] for part in ADDRESS_PARTS):
            raise ContactInvalid(f"'{where}' needs at least one address part.", field=f"{where}.street")
        return info
    if kind == InfoKind.FACEBOOK:
        info["name"] = _text(data.get("name"))
        if not info["name"]:
            raise ContactInvalid(f"'{where}.name' is required for facebook.", field=f"{where}.name")
        return info
    value = _text(data.get("value"))
    if not value:
        raise ContactInvalid(f"'{where}.value' is required for {kind}.", field=f"{where}.value")
    if kind == InfoKind.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ContactInvalid(f"'{where}.value' is not an email address.", field=f"{where}.value") from None
    if kind in (InfoKind.EMAIL, InfoKind.PHONE_NUMBER):
        info["key"] = address_key(value)
    info["value"] = value
    return info


def clean_membership(data: dict[str, Any], where: str) -> dict[str, Any]:
    group = data.get("group")
    if not isinstance(group, dict):
        raise ContactInvalid(f"'{where}.group' is required.", field=f"{where}.group")
    kind = group.get("kind")
    if kind not in GroupKind.values:
        raise ContactInvalid(f"'{where}.group.kind' must be organization or group.", field=f"{where}.group.kind")
    name = _text(group.get("name"))
    if not name:
        raise ContactInvalid(f"'{where}.group.name' is required.", field=f"{where}.group.name")
    membership = {"kind": kind, "name": name[:200]}
    membership.update({key: _text(data.get(key)) for key in MEMBERSHIP_STRINGS} if kind == "organization" else {})
    return membership


def clean_contact(data: dict[str, Any]) -> Cleaned:
    cleaned = Cleaned(strings={key: _text(data[key]) for key in CONTACT_STRINGS if key in data})
    for key, value in cleaned.strings.items():
        limit = getattr(Contact._meta.get_field(key), "max_length", None)
        if limit is not None and len(value) > limit:
            raise ContactInvalid(f"'{key}' is longer than {limit} characters.", field=key)
    if "starred" in data:
        cleaned.starred = bool(data["starred"])
    if "infos" in data:
        cleaned.infos = [clean_info(info, f"infos.{i}") for i, info in enumerate(data["infos"] or [])]
    if "memberships" in data:
        cleaned.memberships = [clean_membership(m, f"memberships.{i}") for i, m in enumerate(data["memberships"] or [])]
    return cleaned


def group_for(book: ContactBook, *, kind: str, name: str) -> ContactGroup:
    """The book's group of that kind and name (matched case-insensitively), made when missing."""
    group = ContactGroup.objects.filter(book=book, kind=kind, name__iexact=name).first()
    if group is None:
        group = ContactGroup.objects.create(organization_id=book.organization_id, book=book, kind=kind, name=name)
    return group


def _set_infos(contact: Contact, infos: list[dict[str, Any]]) -> None:
    contact.infos.all().delete()
    ContactInfo.objects.bulk_create(
        ContactInfo(organization_id=contact.organization_id, contact=contact, position=i, **info)
        for i, info in enumerate(infos)
    )


def _set_memberships(contact: Contact, memberships: list[dict[str, Any]]) -> None:
    contact.memberships.all().delete()
    rows = []
    for i, membership in enumerate(memberships):
        extras = {key: membership.get(key, "") for key in MEMBERSHIP_STRINGS}
        group = group_for(contact.book, kind=membership["kind"], name=membership["name"])
        rows.append(
            ContactMembership(
                organization_id=contact.organization_id, contact=contact, group=group, position=i, **extras
            )
        )
    ContactMembership.objects.bulk_create(rows)


def _current_memberships(contact: Contact) -> list[dict[str, Any]]:
    return [
        {"kind": m.group.kind, "name": m.group.name, **{key: getattr(m, key) for key in MEMBERSHIP_STRINGS}}
        for m in contact.memberships.select_related("group")
    ]


@transaction.atomic
def do_create_contact(book: ContactBook, *, acting_user: User | None, data: dict[str, Any]) -> Contact:
    cleaned = clean_contact(data)
    contact = Contact(organization_id=book.organization_id, book=book, **cleaned.strings)
    contact.starred = bool(cleaned.starred)
    contact.save()
    _set_infos(contact, cleaned.infos or [])
    _set_memberships(contact, cleaned.memberships or [])
    return contact


@transaction.atomic
def do_update_contact(
    contact: Contact, *, acting_user: User | None, data: dict[str, Any], book: ContactBook | None = None
) -> Contact:
    """Change what `data` holds; infos and memberships sent are replaced whole. A new `book`
    (of the same organization) moves the contact, its groups matched again in that book."""
    cleaned = clean_contact(data)
    memberships = cleaned.memberships
    if book is not None and book.id != contact.book_id:
        assert book.organization_id == contact.organization_id
        if memberships is None:
            memberships = _current_memberships(contact)
        contact.book = book
    for key, value in cleaned.strings.items():
        setattr(contact, key, value)
    if cleaned.starred is not None:
        contact.starred = cleaned.starred
    contact.modified_at = timezone.now()
    contact.save()
    if cleaned.infos is not None:
        _set_infos(contact, cleaned.infos)
    if memberships is not None:
        _set_memberships(contact, memberships)
    return contact


@transaction.atomic
def do_delete_contact(contact: Contact, *, acting_user: User | None) -> None:
    """Deleted softly: syncing clients see `{id, deleted: true}` since the deletion."""
    contact.deleted = True
    contact.modified_at = timezone.now()
    contact.save(update_fields=["deleted", "modified_at"])


@transaction.atomic
def do_create_contact_book(
    organization: Organization,
    *,
    owner: User,
    name: str,
    description: str = "",
    share_with_organization: bool = False,
    share_with_team: Team | None = None,
    share_with_users: list[User] | None = None,
) -> ContactBook:
    book = ContactBook.objects.create(
        organization=organization,
        owner=owner,
        name=name,
        description=description,
        share_with_organization=share_with_organization,
        share_with_team=share_with_team,
    )
    ContactBookUser.objects.bulk_create(
        ContactBookUser(organization=organization, book=book, user=user) for user in share_with_users or []
    )
    return book


@transaction.atomic
def do_add_addresses_to_book(book: ContactBook, *, entries: list[tuple[str, str]]) -> list[Contact]:
    """A contact for each (address or phone number, display name) not yet in the book; the
    rules' "Create contact(s)" action."""
    created: list[Contact] = []
    seen: set[str] = set()
    for address, name in entries:
        key = address_key(address)
        if not key or key in seen or book_contacts_for_key(book, key).exists():
            continue
        seen.add(key)
        kind = InfoKind.EMAIL if "@" in key else InfoKind.PHONE_NUMBER
        first, _, last = (name or "").strip().partition(" ")
        created.append(
            do_create_contact(
                book,
                acting_user=None,
                data={
                    "first_name": first,
                    "last_name": last,
                    "infos": [
                        {"kind": kind, "label": "work" if kind == InfoKind.EMAIL else "mobile", "value": address}
                    ],
                },
            )
        )
    return created


# --- Reads ------------------------------------------------------------------------------------------


def _with_key(key: str) -> Exists:
    return Exists(
        ContactInfo.objects.filter(contact=OuterRef("pk"), key=key, kind__in=[InfoKind.EMAIL, InfoKind.PHONE_NUMBER])
    )


def book_contacts_for_key(book: ContactBook, key: str) -> ContactQuerySet:
    return Contact.objects.alive().filter(book=book).filter(_with_key(key))


def contacts_for_address(organization_id: UUID | str, address_or_phone: str) -> ContactQuerySet:
    """The organization's (undeleted) contacts with this email address or phone number."""
    key = address_key(address_or_phone)
    if not key:
        return Contact.objects.none()
    return Contact.objects.alive().filter(organization_id=organization_id).filter(_with_key(key))


def groups_of_address(organization_id: UUID | str, address_or_phone: str) -> set[tuple[str, str, UUID]]:
    """(kind, name, book id) of every group or company that a contact with this address is in."""
    contacts = contacts_for_address(organization_id, address_or_phone)
    rows = ContactMembership.objects.filter(organization_id=organization_id, contact__in=contacts).values_list(
        "group__kind", "group__name", "group__book_id"
    )
    return set(rows)


def search_contacts(contacts: ContactQuerySet, text: str) -> ContactQuerySet:
    """Every word must appear (any case) in a name, an email, a phone number, a company or
    group, a custom or other info, or the notes."""
    for word in (text or "").split():
        infos = ContactInfo.objects.filter(contact=OuterRef("pk")).filter(
            Q(value__icontains=word)
            | Q(name__icontains=word)
            | Q(custom_label__icontains=word)
            | Q(street__icontains=word)
            | Q(city__icontains=word)
            | Q(region__icontains=word)
            | Q(country__icontains=word)
            | Q(postal_code__icontains=word)
            | Q(key__icontains=address_key(word))
        )
        groups = ContactMembership.objects.filter(contact=OuterRef("pk")).filter(
            Q(group__name__icontains=word) | Q(title__icontains=word) | Q(department__icontains=word)
        )
        names = Q()
        for key in ("first_name", "last_name", "middle_name", "nickname", "notes", "file_as"):
            names |= Q(**{f"{key}__icontains": word})
        contacts = contacts.filter(names | Exists(infos) | Exists(groups))
    return contacts
