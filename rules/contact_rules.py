"""The contact operators of address and phone conditions, and the "Create contact(s)" action.

A condition's value names a group, company or book by id (what the editor stores) or by name,
compared case-insensitively (what a person types, e.g. "Blocked numbers"). "in contacts" means a
contact of any of the organization's books has the address (the seed's "any organization contact
book"). With several addresses (To, Cc), "in" matches when one of them is, "not in" when none is.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contacts.actions import contacts_for_address, do_add_addresses_to_book, groups_of_address
from contacts.models import ContactBook, ContactGroup, GroupKind
from conversations.actions import ActionRefused
from conversations.models import Direction, Message
from inboxes.models import User
from missive.ids import is_uuid

GROUP_OPERATORS = {"in_contact_group", "not_in_contact_group"}
COMPANY_OPERATORS = {"in_contact_company", "not_in_contact_company"}
BOOK_OPERATORS = {"in_contact_book", "not_in_contact_book"}
CONTACTS_OPERATORS = {"in_contacts", "not_in_contacts"}
OPERATORS = GROUP_OPERATORS | COMPANY_OPERATORS | BOOK_OPERATORS | CONTACTS_OPERATORS


def _book_ids(organization_id: UUID, value: Any) -> list[UUID]:
    books = ContactBook.objects.filter(organization_id=organization_id)
    text = str(value or "").strip()
    books = books.filter(id=text) if is_uuid(text) else books.filter(name__iexact=text)
    return list(books.values_list("id", flat=True))


def _group_matches(organization_id: UUID, kind: str, value: Any, groups: set[tuple[str, str, UUID]]) -> bool:
    text = str(value or "").strip()
    if is_uuid(text):
        group = ContactGroup.objects.filter(id=text, organization_id=organization_id, kind=kind).first()
        return group is not None and (group.kind, group.name, group.book_id) in groups
    return any(group_kind == kind and name.lower() == text.lower() for group_kind, name, _ in groups)


def contact_condition(op: str, organization_id: UUID, addresses: list[str], value: Any) -> bool:
    addresses = [address for address in addresses if address]
    if op in CONTACTS_OPERATORS:
        hit = any(contacts_for_address(organization_id, address).exists() for address in addresses)
    elif op in BOOK_OPERATORS:
        book_ids = _book_ids(organization_id, value)
        hit = bool(book_ids) and any(
            contacts_for_address(organization_id, address).filter(book_id__in=book_ids).exists()
            for address in addresses
        )
    elif op in GROUP_OPERATORS or op in COMPANY_OPERATORS:
        kind = GroupKind.GROUP if op in GROUP_OPERATORS else GroupKind.ORGANIZATION
        hit = any(
            _group_matches(organization_id, kind, value, groups_of_address(organization_id, address))
            for address in addresses
        )
    else:
        raise ValueError(f"Not a contact operator: {op}")
    return not hit if op.startswith("not_") else hit


def _entries(message: Message) -> list[tuple[str, str]]:
    """Who a message brings: the sender of an incoming one, the recipients of an outgoing one."""
    if message.direction == Direction.INBOUND:
        return [(message.from_address, message.from_name)]
    return [
        (entry.get("address", ""), entry.get("name", ""))
        for entry in [*(message.to or []), *(message.cc or [])]
        if isinstance(entry, dict)
    ]


def create_contacts(*, organization_id: UUID, owner: User | None, message: Message | None, book_id: Any) -> str:
    """Adds the message's people to the book, each address once; a personal rule only to a book
    its owner can see."""
    books = ContactBook.objects.filter(organization_id=organization_id)
    if owner is not None:
        books = books & ContactBook.objects.visible_to(owner)
    book = books.filter(id=book_id).first() if is_uuid(str(book_id or "")) else None
    if book is None:
        raise ActionRefused("That contact book does not exist in this organization.")
    if message is None:
        return "No message to take contacts from"
    created = do_add_addresses_to_book(book, entries=_entries(message))
    return f"Created {len(created)} contact(s) in {book.name}"
