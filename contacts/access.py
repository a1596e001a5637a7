"""Permission-checked lookups of contacts: anything the user cannot see is a 404."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404

from contacts.models import Contact, ContactBook
from inboxes.models import User
from missive.ids import is_uuid


def visible_book(user: User, book_id: UUID | str) -> ContactBook:
    """A book the user can see, else Http404."""
    book = ContactBook.objects.visible_to(user).filter(id=book_id).first() if is_uuid(str(book_id)) else None
    if book is None:
        raise Http404("No such contact book.")
    return book


def visible_contact(user: User, contact_id: UUID | str) -> Contact:
    """An undeleted contact of a book the user can see, else Http404."""
    contact = None
    if is_uuid(str(contact_id)):
        books = ContactBook.objects.visible_to(user)
        contact = Contact.objects.alive().filter(id=contact_id, book__in=books).select_related("book").first()
    if contact is None:
        raise Http404("No such contact.")
    return contact
