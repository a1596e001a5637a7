"""/v1/contacts, /v1/contact_books and /v1/contact_groups (spec/rest-api.md §4.3–4.8)."""

from __future__ import annotations

import time

import pytest

from contacts.actions import do_create_contact, do_create_contact_book, do_delete_contact
from contacts.models import Contact, ContactGroup


@pytest.fixture
def book(cast):
    return do_create_contact_book(cast.org, owner=cast.owner, name="Customers", share_with_organization=True)


@pytest.fixture
def other_book(cast):
    return do_create_contact_book(cast.other_org, owner=cast.outsider, name="Globex people")


def _contact(book, **data):
    return do_create_contact(book, acting_user=None, data=data)


def test_creating_contacts_in_a_batch_returns_them_with_infos_and_memberships(cast, api_as, book):
    response = api_as(cast.teammate).post(
        "/v1/contacts",
        {
            "contacts": [
                {
                    "contact_book": str(book.id),
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "nickname": "Countess",
                    "infos": [
                        {"kind": "email", "label": "work", "value": "ada@engine.test"},
                        {"kind": "phone_number", "label": "mobile", "value": "+44 20 7946 0000"},
                        {"kind": "physical_address", "label": "home", "city": "London", "country": "UK"},
                        {"kind": "facebook", "label": "personal", "name": "ada.l"},
                        {"kind": "custom", "label": "other", "custom_label": "Account", "value": "A-1"},
                    ],
                    "memberships": [
                        {"title": "Analyst", "group": {"kind": "organization", "name": "Analytical Engines"}},
                        {"group": {"kind": "group", "name": "VIP"}},
                    ],
                },
                {"contact_book": str(book.id), "first_name": "Charles", "last_name": "Babbage"},
            ]
        },
    )
    assert response.status_code == 201
    first, second = response.json()["contacts"]
    contact = Contact.objects.get(id=first["id"])
    assert contact.book == book and contact.organization == cast.org
    assert first["contact_book"] == str(book.id)
    assert first["deleted"] is False and abs(first["modified_at"] - time.time()) < 60
    assert first["nickname"] == "Countess" and "middle_name" not in first
    assert first["infos"][0] == {"kind": "email", "label": "work", "value": "ada@engine.test"}
    assert first["infos"][2] == {"kind": "physical_address", "label": "home", "city": "London", "country": "UK"}
    assert first["infos"][3] == {"kind": "facebook", "label": "personal", "name": "ada.l"}
    assert first["infos"][4]["custom_label"] == "Account"
    company = ContactGroup.objects.get(book=book, kind="organization")
    assert first["memberships"][0] == {
        "group": {"id": str(company.id), "kind": "organization", "name": "Analytical Engines"},
        "title": "Analyst",
    }
    assert second["first_name"] == "Charles" and second["infos"] == []


def test_a_created_contact_joins_an_existing_group_by_kind_and_name(cast, api_as, book):
    vip = ContactGroup.objects.create(organization=cast.org, book=book, kind="group", name="VIP")
    body = {"contacts": [{"contact_book": str(book.id), "memberships": [{"group": {"kind": "group", "name": "vip"}}]}]}
    response = api_as(cast.owner).post("/v1/contacts", body)
    assert response.json()["contacts"][0]["memberships"][0]["group"]["id"] == str(vip.id)
    assert ContactGroup.objects.filter(book=book).count() == 1


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({}, "contacts.0.contact_book"),
        ({"contact_book": "nope"}, "contacts.0.contact_book"),
        ({"infos": [{"kind": "email", "label": "mobile", "value": "a@b.test"}]}, "contacts.0.infos.0.label"),
        ({"infos": [{"kind": "fax", "label": "work", "value": "1"}]}, "contacts.0.infos.0.kind"),
        ({"infos": [{"kind": "email", "label": "work", "value": "not an address"}]}, "contacts.0.infos.0.value"),
        ({"infos": [{"kind": "facebook", "label": "work", "value": "x"}]}, "contacts.0.infos.0.name"),
        ({"memberships": [{"group": {"kind": "team", "name": "x"}}]}, "contacts.0.memberships.0.group.kind"),
        ({"starred": "very"}, "contacts.0.starred"),
    ],
)
def test_a_malformed_contact_is_a_400_naming_the_field_and_creates_nothing(cast, api_as, book, item, field):
    good = {"contact_book": str(book.id), "first_name": "Kept?"}
    bad = {"contact_book": str(book.id), **item} if "contact_book" not in item and item else item
    if item == {}:
        bad = {"first_name": "No book"}
    response = api_as(cast.owner).post("/v1/contacts", {"contacts": [bad, good]})
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["errors"].startswith(f"'{field}'")
    assert not Contact.objects.exists()


def test_an_empty_or_unwrapped_body_is_a_400(cast, api_as, book):
    assert api_as(cast.owner).post("/v1/contacts", {"contacts": []}).json()["field"] == "contacts"
    assert api_as(cast.owner).post("/v1/contacts", {"first_name": "x"}).json()["field"] == "contacts"


def test_creating_in_another_organizations_book_is_a_404(cast, api_as, other_book):
    response = api_as(cast.owner).post("/v1/contacts", {"contacts": [{"contact_book": str(other_book.id)}]})
    assert response.status_code == 404
    assert not Contact.objects.exists()


def test_a_private_book_of_a_colleague_is_a_404(cast, api_as):
    private = do_create_contact_book(cast.org, owner=cast.owner, name="Mine")
    response = api_as(cast.teammate).post("/v1/contacts", {"contacts": [{"contact_book": str(private.id)}]})
    assert response.status_code == 404


def test_patch_changes_only_what_is_sent_and_replaces_infos_whole(cast, api_as, book):
    ada = _contact(
        book,
        first_name="Ada",
        last_name="Lovelace",
        notes="keep",
        infos=[{"kind": "email", "label": "work", "value": "a@x.test"}, {"kind": "url", "label": "blog", "value": "u"}],
        memberships=[{"group": {"kind": "group", "name": "VIP"}}],
    )
    babbage = _contact(book, first_name="Charles")
    before = Contact.objects.get(id=ada.id).modified_at
    response = api_as(cast.owner).patch(
        f"/v1/contacts/{ada.id},{babbage.id}",
        {
            "contacts": [
                {
                    "id": str(ada.id),
                    "last_name": "King",
                    "infos": [{"kind": "email", "label": "home", "value": "b@x.test"}],
                },
                {"id": str(babbage.id), "starred": True},
            ]
        },
    )
    assert response.status_code == 200
    first, second = response.json()["contacts"]
    assert first["first_name"] == "Ada" and first["last_name"] == "King" and first["notes"] == "keep"
    assert first["infos"] == [{"kind": "email", "label": "home", "value": "b@x.test"}]
    assert [m["group"]["name"] for m in first["memberships"]] == ["VIP"]
    assert second["starred"] is True
    assert Contact.objects.get(id=ada.id).modified_at > before


def test_patch_errors_name_the_field(cast, api_as, book):
    ada = _contact(book, first_name="Ada")
    api = api_as(cast.owner)
    bad_label = {
        "contacts": [{"id": str(ada.id), "infos": [{"kind": "phone_number", "label": "work_email", "value": "1"}]}]
    }
    response = api.patch(f"/v1/contacts/{ada.id}", bad_label)
    assert response.status_code == 400 and response.json()["field"] == "contacts.0.infos.0.label"
    other = _contact(book, first_name="Other")
    response = api.patch(f"/v1/contacts/{ada.id}", {"contacts": [{"id": str(other.id), "first_name": "X"}]})
    assert response.status_code == 400 and response.json()["field"] == "contacts.0.id"
    response = api.patch("/v1/contacts/not-an-id", {"contacts": [{"first_name": "X"}]})
    assert response.status_code == 400 and response.json()["field"] == "ids"
    assert Contact.objects.get(id=other.id).first_name == "Other"


def test_patching_another_organizations_contact_is_a_404(cast, api_as, other_book):
    theirs = _contact(other_book, first_name="Theirs")
    response = api_as(cast.owner).patch(f"/v1/contacts/{theirs.id}", {"contacts": [{"first_name": "Mine"}]})
    assert response.status_code == 404
    assert Contact.objects.get(id=theirs.id).first_name == "Theirs"


def test_list_orders_by_last_name_pages_and_searches(cast, api_as, book, django_assert_max_num_queries):
    _contact(book, first_name="Zed", last_name="Adams", notes="met at the fair")
    _contact(
        book,
        first_name="Amy",
        last_name="young",
        infos=[{"kind": "phone_number", "label": "mobile", "value": "+1 514 555 0000"}],
    )
    _contact(
        book, first_name="Bob", last_name="Miller", memberships=[{"group": {"kind": "organization", "name": "Initech"}}]
    )
    api = api_as(cast.teammate)
    with django_assert_max_num_queries(8):
        listed = api.get("/v1/contacts", {"contact_book": str(book.id)}).json()["contacts"]
    names = [c["last_name"] for c in listed]
    assert names == ["Adams", "Miller", "young"]
    page = api.get("/v1/contacts", {"contact_book": str(book.id), "limit": 2, "offset": 2}).json()["contacts"]
    assert [c["last_name"] for c in page] == ["young"]
    for text, expected in (("FAIR", "Adams"), ("initech", "Miller"), ("5145550000", "young"), ("amy young", "young")):
        found = api.get("/v1/contacts", {"contact_book": str(book.id), "search": text}).json()["contacts"]
        assert [c["last_name"] for c in found] == [expected], text


def test_list_since_a_time_with_deleted_contacts_reduced(cast, api_as, book):
    old = _contact(book, first_name="Old")
    Contact.objects.filter(id=old.id).update(modified_at=Contact.objects.get(id=old.id).modified_at.replace(year=2020))
    gone = _contact(book, first_name="Gone")
    do_delete_contact(gone, acting_user=cast.owner)
    fresh = _contact(book, first_name="Fresh")
    api = api_as(cast.owner)
    since = int(time.time()) - 60
    params = {"contact_book": str(book.id), "modified_since": since, "order": "last_modified"}
    assert [c["id"] for c in api.get("/v1/contacts", params).json()["contacts"]] == [str(fresh.id)]
    with_deleted = api.get("/v1/contacts", {**params, "include_deleted": "true"}).json()["contacts"]
    assert {"id": str(gone.id), "deleted": True} in with_deleted
    assert len(with_deleted) == 2


def test_list_parameters_are_checked(cast, api_as, book):
    api = api_as(cast.owner)
    assert api.get("/v1/contacts").json()["field"] == "contact_book"
    response = api.get("/v1/contacts", {"contact_book": str(book.id), "order": "first_name"})
    assert response.status_code == 400 and response.json()["field"] == "order"
    response = api.get("/v1/contacts", {"contact_book": str(book.id), "limit": 500})
    assert response.status_code == 400 and response.json()["field"] == "limit"


def test_listing_another_organizations_book_is_a_404(cast, api_as, other_book):
    _contact(other_book, first_name="Theirs")
    assert api_as(cast.owner).get("/v1/contacts", {"contact_book": str(other_book.id)}).status_code == 404


def test_get_one_contact_and_a_deleted_one_is_a_404(cast, api_as, book):
    ada = _contact(book, first_name="Ada", infos=[{"kind": "twitter", "label": "personal", "value": "@ada"}])
    api = api_as(cast.owner)
    body = api.get(f"/v1/contacts/{ada.id}").json()
    assert body["contacts"]["id"] == str(ada.id)
    assert body["contacts"]["infos"] == [{"kind": "twitter", "label": "personal", "value": "@ada"}]
    do_delete_contact(ada, acting_user=cast.owner)
    assert api.get(f"/v1/contacts/{ada.id}").status_code == 404
    assert api.get("/v1/contacts/123").json()["field"] == "ids"


def test_getting_another_organizations_contact_is_a_404(cast, api_as, other_book):
    theirs = _contact(other_book, first_name="Theirs")
    assert api_as(cast.owner).get(f"/v1/contacts/{theirs.id}").status_code == 404
    assert api_as(cast.outsider).get(f"/v1/contacts/{theirs.id}").status_code == 200


def test_contact_books_lists_those_the_user_can_see(cast, api_as, book, other_book):
    private = do_create_contact_book(cast.org, owner=cast.owner, name="Private")
    team_book = do_create_contact_book(cast.org, owner=cast.owner, name="Support book", share_with_team=cast.support)
    users_book = do_create_contact_book(cast.org, owner=cast.owner, name="For Gina", share_with_users=[cast.guest])
    books = api_as(cast.teammate).get("/v1/contact_books").json()["contact_books"]
    assert [b["name"] for b in books] == ["Customers", "Support book"]
    assert books[1] == {
        "id": str(team_book.id),
        "user": str(cast.owner.id),
        "share_with_organization": False,
        "share_with_team": str(cast.support.id),
        "share_with_users": [],
        "organization": str(cast.org.id),
        "name": "Support book",
        "description": "",
    }
    guest_books = api_as(cast.guest).get("/v1/contact_books").json()["contact_books"]
    assert {b["id"] for b in guest_books} == {str(book.id), str(users_book.id)}
    owner_books = api_as(cast.owner).get("/v1/contact_books", {"limit": 2, "offset": 2}).json()["contact_books"]
    assert [b["id"] for b in owner_books] == [str(private.id), str(team_book.id)]
    outsider = api_as(cast.outsider).get("/v1/contact_books").json()["contact_books"]
    assert [b["id"] for b in outsider] == [str(other_book.id)]
    assert api_as(cast.owner).get("/v1/contact_books", {"offset": -1}).json()["field"] == "offset"


def test_contact_groups_of_a_book_by_kind(cast, api_as, book, other_book):
    _contact(
        book,
        memberships=[
            {"group": {"kind": "organization", "name": "Initech"}},
            {"group": {"kind": "group", "name": "VIP"}},
        ],
    )
    api = api_as(cast.owner)
    groups = api.get("/v1/contact_groups", {"contact_book": str(book.id), "kind": "organization"}).json()
    assert groups == {"contact_groups": [{"id": str(ContactGroup.objects.get(name="Initech").id), "name": "Initech"}]}
    response = api.get("/v1/contact_groups", {"contact_book": str(book.id), "kind": "team"})
    assert response.status_code == 400 and response.json()["field"] == "kind"
    assert api.get("/v1/contact_groups", {"contact_book": str(book.id)}).json()["field"] == "kind"
    theirs = api.get("/v1/contact_groups", {"contact_book": str(other_book.id), "kind": "group"})
    assert theirs.status_code == 404
