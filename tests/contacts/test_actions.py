"""Writing contacts and the lookups by address the rest of the app uses."""

from __future__ import annotations

import pytest

from contacts.actions import (
    ContactInvalid,
    contacts_for_address,
    do_create_contact,
    do_create_contact_book,
    do_delete_contact,
    do_update_contact,
    groups_of_address,
)
from contacts.models import ContactGroup


@pytest.fixture
def book(cast):
    return do_create_contact_book(cast.org, owner=cast.owner, name="Customers")


def test_lookups_find_emails_in_any_case_and_phone_numbers_however_written(cast, book):
    contact = do_create_contact(
        book,
        acting_user=None,
        data={
            "infos": [
                {"kind": "email", "label": "work", "value": "Ada@Engine.test"},
                {"kind": "phone_number", "label": "mobile", "value": "+1 (514) 555-0100"},
            ],
            "memberships": [
                {"group": {"kind": "group", "name": "VIP"}},
                {"group": {"kind": "organization", "name": "X"}},
            ],
        },
    )
    assert list(contacts_for_address(cast.org.id, "ada@ENGINE.test")) == [contact]
    assert list(contacts_for_address(cast.org.id, "0015145550100")) == [contact]
    assert list(contacts_for_address(cast.other_org.id, "ada@engine.test")) == []
    assert groups_of_address(cast.org.id, "+15145550100") == {("group", "VIP", book.id), ("organization", "X", book.id)}
    assert groups_of_address(cast.other_org.id, "+15145550100") == set()
    do_delete_contact(contact, acting_user=None)
    assert list(contacts_for_address(cast.org.id, "ada@engine.test")) == []
    assert groups_of_address(cast.org.id, "ada@engine.test") == set()


def test_moving_a_contact_to_another_book_takes_its_groups_along(cast, book):
    contact = do_create_contact(
        book, acting_user=None, data={"memberships": [{"group": {"kind": "group", "name": "VIP"}}]}
    )
    other = do_create_contact_book(cast.org, owner=cast.owner, name="Leads")
    do_update_contact(contact, acting_user=None, data={"first_name": "Moved"}, book=other)
    group = contact.memberships.get().group
    assert group.book == other and group.name == "VIP"
    assert ContactGroup.objects.filter(name="VIP").count() == 2


def test_an_invalid_info_names_its_field_and_writes_nothing(cast, book):
    contact = do_create_contact(book, acting_user=None, data={"first_name": "Ada"})
    with pytest.raises(ContactInvalid) as problem:
        do_update_contact(
            contact,
            acting_user=None,
            data={"first_name": "Changed", "infos": [{"kind": "url", "label": "home", "value": "https://a.test"}]},
        )
    assert problem.value.field == "infos.0.label"
    contact.refresh_from_db()
    assert contact.first_name == "Ada"
