"""The contacts page: books, a searchable list, and the contact form, for the organization's
people only."""

from __future__ import annotations

import pytest

from contacts.actions import do_create_contact, do_create_contact_book
from contacts.models import Contact, ContactBook
from tests.conftest import login


@pytest.fixture
def book(cast):
    return do_create_contact_book(cast.org, owner=cast.owner, name="Customers", share_with_organization=True)


@pytest.fixture
def ada(book):
    return do_create_contact(
        book,
        acting_user=None,
        data={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "infos": [
                {"kind": "email", "label": "home", "value": "ada@engine.test"},
                {"kind": "physical_address", "label": "home", "city": "London"},
            ],
            "memberships": [{"group": {"kind": "organization", "name": "Engines"}, "department": "R&D"}],
        },
    )


def _base(cast):
    return f"/settings/orgs/{cast.org.id}/contacts/"


def test_the_books_page_lists_the_books_the_user_sees(client, cast, book):
    do_create_contact_book(cast.org, owner=cast.owner, name="Olivia's private book")
    html = login(client, cast.teammate).get(_base(cast)).content.decode()
    assert "Customers" in html
    assert "private book" not in html


def test_creating_a_book_shared_with_a_team(client, cast):
    login(client, cast.teammate)
    response = client.post(
        _base(cast) + "create/", {"name": "Support people", "share": "team", "team": cast.support.id}
    )
    book = ContactBook.objects.get(name="Support people")
    assert response.status_code == 302 and response["Location"].endswith(f"/contacts/{book.id}/")
    assert book.owner == cast.teammate and book.share_with_team == cast.support and not book.share_with_organization


def test_a_book_without_a_name_or_team_shows_the_errors_inline(client, cast):
    login(client, cast.teammate)
    response = client.post(
        _base(cast) + "create/", {"name": "", "share": "team"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="create-book"
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "This field is required." in html and "Choose the team" in html
    assert "<html" not in html
    assert not ContactBook.objects.exists()


def test_creating_a_contact_with_emails_phones_company_and_groups(client, cast, book):
    login(client, cast.teammate)
    response = client.post(
        _base(cast) + f"{book.id}/create/",
        {
            "first_name": "Bea",
            "last_name": "Smith",
            "company": "Initech",
            "title": "CTO",
            "emails": "bea@initech.test\nb.smith@home.test",
            "phones": "+1 514 555 0100",
            "groups": "VIP, Blocked numbers",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(last_name="Smith")
    assert contact.book == book
    assert list(contact.infos.values_list("kind", "value")) == [
        ("email", "bea@initech.test"),
        ("email", "b.smith@home.test"),
        ("phone_number", "+1 514 555 0100"),
    ]
    assert {(m.group.kind, m.group.name, m.title) for m in contact.memberships.all()} == {
        ("organization", "Initech", "CTO"),
        ("group", "VIP", ""),
        ("group", "Blocked numbers", ""),
    }


def test_a_bad_email_or_phone_is_shown_inline_and_nothing_is_saved(client, cast, book):
    login(client, cast.owner)
    data = {"first_name": "Bea", "emails": "not-an-address", "phones": "call me"}
    response = client.post(
        _base(cast) + f"{book.id}/create/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-form"
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "“not-an-address” is not an email address." in html
    assert "“call me” is not a phone number." in html
    assert 'value="Bea"' in html
    assert not Contact.objects.exists()


def test_the_book_page_searches_its_contacts(client, cast, book, ada):
    do_create_contact(book, acting_user=None, data={"first_name": "Charles", "last_name": "Babbage"})
    login(client, cast.owner)
    html = client.get(_base(cast) + f"{book.id}/").content.decode()
    assert "Ada Lovelace" in html and "Charles Babbage" in html
    found = client.get(
        _base(cast) + f"{book.id}/", {"q": "ENGINES"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-list"
    )
    html = found.content.decode()
    assert "Ada Lovelace" in html and "Charles Babbage" not in html and "<html" not in html


def test_editing_keeps_what_the_form_does_not_show(client, cast, ada):
    login(client, cast.owner)
    page = client.get(_base(cast) + f"c/{ada.id}/").content.decode()
    assert "ada@engine.test" in page and 'value="Engines"' in page
    data = {
        "first_name": "Ada",
        "last_name": "King",
        "company": "Engines",
        "emails": "ada@engine.test\nnew@engine.test",
    }
    assert client.post(_base(cast) + f"c/{ada.id}/save/", data).status_code == 302
    ada.refresh_from_db()
    assert ada.last_name == "King"
    infos = list(ada.infos.values_list("kind", "label", "value", "city"))
    assert infos == [
        ("email", "home", "ada@engine.test", ""),
        ("email", "work", "new@engine.test", ""),
        ("physical_address", "home", "", "London"),
    ]
    assert ada.memberships.get().department == "R&D"


def test_deleting_a_contact(client, cast, ada):
    login(client, cast.owner)
    assert client.post(_base(cast) + f"c/{ada.id}/delete/").status_code == 302
    ada.refresh_from_db()
    assert ada.deleted
    assert client.get(_base(cast) + f"c/{ada.id}/").status_code == 404


def test_another_organizations_books_and_contacts_are_404s(client, cast, book, ada):
    login(client, cast.outsider)
    for path in (f"{book.id}/", f"{book.id}/new/", f"c/{ada.id}/"):
        assert client.get(_base(cast) + path).status_code == 404, path
    theirs = f"/settings/orgs/{cast.other_org.id}/contacts/"
    for path in (f"{book.id}/", f"c/{ada.id}/"):
        assert client.get(theirs + path).status_code == 404, path
    for path in (f"{book.id}/create/", f"c/{ada.id}/save/", f"c/{ada.id}/delete/"):
        assert client.post(theirs + path, {"first_name": "X"}).status_code == 404, path
    ada.refresh_from_db()
    assert ada.first_name == "Ada" and not ada.deleted


def test_a_colleagues_private_book_is_a_404(client, cast):
    private = do_create_contact_book(cast.org, owner=cast.owner, name="Mine")
    login(client, cast.teammate)
    assert client.get(_base(cast) + f"{private.id}/").status_code == 404
    assert client.post(_base(cast) + f"{private.id}/create/", {"first_name": "X"}).status_code == 404
    assert not Contact.objects.exists()
