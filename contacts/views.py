"""The contacts page (Settings › the organization › Contacts): books, a searchable list, and a
form for a contact's names, emails, phone numbers, company and groups."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from contacts.access import visible_book, visible_contact
from contacts.actions import (
    do_create_contact,
    do_create_contact_book,
    do_delete_contact,
    do_update_contact,
    search_contacts,
)
from contacts.forms import ContactBookForm, ContactForm
from contacts.models import ADDRESS_PARTS, Contact, ContactBook, GroupKind, InfoKind, address_key
from inboxes.access import get_membership
from inboxes.models import Membership
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page


def _book(request: AuthenticatedRequest, org_id: UUID, book_id: UUID) -> tuple[Membership, ContactBook]:
    membership = get_membership(request.user, org_id)
    book = visible_book(request.user, book_id)
    if book.organization_id != membership.organization_id:
        raise Http404("No such contact book.")
    return membership, book


def _contact(request: AuthenticatedRequest, org_id: UUID, contact_id: UUID) -> tuple[Membership, Contact]:
    membership = get_membership(request.user, org_id)
    contact = visible_contact(request.user, contact_id)
    if contact.organization_id != membership.organization_id:
        raise Http404("No such contact.")
    return membership, contact


def _books(request: AuthenticatedRequest, membership: Membership) -> list[ContactBook]:
    return list(ContactBook.objects.visible_to(request.user).filter(organization_id=membership.organization_id))


def _render_books(
    request: AuthenticatedRequest, membership: Membership, form: ContactBookForm, status: int = 200
) -> HttpResponse:
    context = settings_context(request, membership, "contacts", books=_books(request, membership), form=form)
    return render_page(request, "contacts/books.html", context, partials={"create-book": "create_book"}, status=status)


@require_safe
@login_required
def contact_books(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The contact books the user can see in this organization."""
    membership = get_membership(request.user, org_id)
    return _render_books(request, membership, ContactBookForm(organization_id=membership.organization_id))


@require_POST
@login_required
def create_contact_book(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """A new book, personal or shared with the organization or a team."""
    membership = get_membership(request.user, org_id)
    form = ContactBookForm(request.POST, organization_id=membership.organization_id)
    if not form.is_valid():
        return _render_books(request, membership, form, status=422)
    data = form.cleaned_data
    book = do_create_contact_book(
        membership.organization,
        owner=request.user,
        name=data["name"],
        description=data["description"],
        share_with_organization=data["share"] == "organization",
        share_with_team=data["team"] if data["share"] == "team" else None,
    )
    return leave_page(request, reverse("contacts_book", args=[org_id, book.id]))


@require_safe
@login_required
def contact_book(request: AuthenticatedRequest, org_id: UUID, book_id: UUID) -> HttpResponse:
    """A book's contacts, searched by `q` (names, emails, phones, companies, groups, notes)."""
    membership, book = _book(request, org_id, book_id)
    query = request.GET.get("q", "").strip()
    contacts = search_contacts(Contact.objects.alive().filter(book=book), query)
    contacts = contacts.order_by("last_name", "first_name", "id").prefetch_related("infos", "memberships__group")
    context = settings_context(request, membership, "contacts", book=book, query=query, contacts=contacts[:200])
    return render_page(request, "contacts/book.html", context, partials={"contact-list": "contact_list"})


def _render_contact(
    request: AuthenticatedRequest,
    membership: Membership,
    book: ContactBook,
    form: ContactForm,
    contact: Contact | None = None,
    status: int = 200,
) -> HttpResponse:
    context = settings_context(request, membership, "contacts", book=book, form=form, contact=contact)
    return render_page(
        request, "contacts/contact.html", context, partials={"contact-form": "contact_form"}, status=status
    )


@require_safe
@login_required
def new_contact(request: AuthenticatedRequest, org_id: UUID, book_id: UUID) -> HttpResponse:
    """An empty contact form."""
    membership, book = _book(request, org_id, book_id)
    return _render_contact(request, membership, book, ContactForm())


def _contact_data(form: ContactForm, contact: Contact | None) -> dict[str, Any]:
    """The form as the actions' data; what the form does not show (addresses, URLs, labels, a
    job's department) is kept as it was."""
    data = form.cleaned_data
    infos = list(contact.infos.all()) if contact else []
    labels = {(info.kind, info.key): info.label for info in infos}
    fields = ("kind", "label", "custom_label", "value", "name", *ADDRESS_PARTS)
    kept = [
        {field: getattr(info, field) for field in fields}
        for info in infos
        if info.kind not in (InfoKind.EMAIL, InfoKind.PHONE_NUMBER)
    ]
    emails = [
        {"kind": "email", "label": labels.get(("email", address_key(e)), "work"), "value": e} for e in data["emails"]
    ]
    phones = [
        {"kind": "phone_number", "label": labels.get(("phone_number", address_key(p)), "mobile"), "value": p}
        for p in data["phones"]
    ]
    old = (
        {(m.group.kind, m.group.name.lower()): m for m in contact.memberships.select_related("group")}
        if contact
        else {}
    )
    memberships: list[dict[str, Any]] = []
    if data["company"]:
        previous = old.get((GroupKind.ORGANIZATION, data["company"].lower()))
        memberships.append(
            {
                "group": {"kind": "organization", "name": data["company"]},
                "title": data["title"],
                "location": previous.location if previous else "",
                "department": previous.department if previous else "",
                "description": previous.description if previous else "",
            }
        )
    memberships += [{"group": {"kind": "group", "name": name}} for name in data["groups"]]
    return {
        "first_name": data["first_name"],
        "last_name": data["last_name"],
        "notes": data["notes"],
        "starred": data["starred"],
        "infos": emails + phones + kept,
        "memberships": memberships,
    }


@require_POST
@login_required
def create_contact(request: AuthenticatedRequest, org_id: UUID, book_id: UUID) -> HttpResponse:
    """Saves a new contact in the book."""
    membership, book = _book(request, org_id, book_id)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _render_contact(request, membership, book, form, status=422)
    contact = do_create_contact(book, acting_user=request.user, data=_contact_data(form, None))
    messages.success(request, f"{contact.display_name} was added to {book.name}.")
    return leave_page(request, reverse("contacts_book", args=[org_id, book.id]))


def _initial(contact: Contact) -> dict[str, Any]:
    infos = list(contact.infos.all())
    memberships = list(contact.memberships.select_related("group"))
    company = next((m for m in memberships if m.group.kind == GroupKind.ORGANIZATION), None)
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": company.group.name if company else "",
        "title": company.title if company else "",
        "emails": "\n".join(info.value for info in infos if info.kind == InfoKind.EMAIL),
        "phones": "\n".join(info.value for info in infos if info.kind == InfoKind.PHONE_NUMBER),
        "groups": ", ".join(m.group.name for m in memberships if m.group.kind == GroupKind.GROUP),
        "notes": contact.notes,
        "starred": contact.starred,
    }


@require_safe
@login_required
def contact_settings(request: AuthenticatedRequest, org_id: UUID, contact_id: UUID) -> HttpResponse:
    """A contact's form, filled in."""
    membership, contact = _contact(request, org_id, contact_id)
    return _render_contact(request, membership, contact.book, ContactForm(initial=_initial(contact)), contact)


@require_POST
@login_required
def update_contact(request: AuthenticatedRequest, org_id: UUID, contact_id: UUID) -> HttpResponse:
    """Saves the contact's form."""
    membership, contact = _contact(request, org_id, contact_id)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _render_contact(request, membership, contact.book, form, contact, status=422)
    do_update_contact(contact, acting_user=request.user, data=_contact_data(form, contact))
    messages.success(request, f"{contact.display_name} was saved.")
    return leave_page(request, reverse("contacts_book", args=[org_id, contact.book_id]))


@require_POST
@login_required
def delete_contact(request: AuthenticatedRequest, org_id: UUID, contact_id: UUID) -> HttpResponse:
    """Deletes the contact."""
    membership, contact = _contact(request, org_id, contact_id)
    do_delete_contact(contact, acting_user=request.user)
    messages.success(request, f"{contact.display_name} was deleted.")
    return leave_page(request, reverse("contacts_book", args=[org_id, contact.book_id]))
