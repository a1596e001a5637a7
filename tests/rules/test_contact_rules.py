"""The contact operators of address and phone conditions, and the Create contact(s) action."""

from __future__ import annotations

import pytest

from contacts.actions import do_create_contact, do_create_contact_book, do_delete_contact
from contacts.models import Contact, ContactGroup
from conversations.models import Direction, Location, Message
from inboxes.models import AccountKind
from rules.conditions import item_matches
from rules.engine import TriggerEvent, run_rules
from rules.models import Trigger
from tests.factories import AccountFactory, receive, state_of
from tests.rules.helpers import make_rule
from tests.rules.test_actions import act
from tests.rules.test_conditions import facts_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(cast):
    return do_create_contact_book(cast.org, owner=cast.owner, name="Customers", share_with_organization=True)


@pytest.fixture
def message(cast):
    return receive(
        cast.support_account,
        sender="Ada@Engine.test",
        from_name="Ada Lovelace",
        cc=[{"name": "Carl", "address": "carl@partner.test"}],
    )


@pytest.fixture
def ada(book):
    return do_create_contact(
        book,
        acting_user=None,
        data={
            "first_name": "Ada",
            "infos": [{"kind": "email", "label": "work", "value": "ada@engine.test"}],
            "memberships": [
                {"group": {"kind": "organization", "name": "Analytical Engines"}},
                {"group": {"kind": "group", "name": "VIP"}},
            ],
        },
    )


def check(message, field: str, op: str, value=None) -> bool:
    return item_matches(facts_for(message), {"field": field, "op": op, "value": value})


def test_in_contact_group_by_name_or_id(cast, message, ada, book):
    vip = ContactGroup.objects.get(book=book, name="VIP")
    assert check(message, "from", "in_contact_group", "vip")
    assert check(message, "from", "in_contact_group", str(vip.id))
    assert not check(message, "from", "in_contact_group", "Leads")
    assert not check(message, "from", "not_in_contact_group", "VIP")
    assert check(message, "from", "not_in_contact_group", "Leads")
    assert not check(message, "cc", "in_contact_group", "VIP")
    # A company of the same name is not a group.
    assert not check(message, "from", "in_contact_group", "Analytical Engines")


def test_in_contact_company(cast, message, ada, book):
    company = ContactGroup.objects.get(book=book, kind="organization")
    assert check(message, "from", "in_contact_company", "analytical engines")
    assert check(message, "from", "in_contact_company", str(company.id))
    assert not check(message, "from", "in_contact_company", "Initech")
    assert check(message, "from", "not_in_contact_company", "Initech")
    assert not check(message, "from", "not_in_contact_company", str(company.id))


def test_in_contact_book(cast, message, ada, book):
    other = do_create_contact_book(cast.org, owner=cast.owner, name="Leads")
    assert check(message, "from", "in_contact_book", str(book.id))
    assert check(message, "from", "in_contact_book", "customers")
    assert not check(message, "from", "in_contact_book", str(other.id))
    assert check(message, "from", "not_in_contact_book", str(other.id))
    assert not check(message, "from", "not_in_contact_book", str(book.id))


def test_in_contacts_and_deleted_contacts(cast, message, ada):
    assert check(message, "from", "in_contacts")
    assert not check(message, "cc", "in_contacts")
    assert check(message, "cc", "not_in_contacts")
    do_delete_contact(ada, acting_user=None)
    assert not check(message, "from", "in_contacts")
    assert not check(message, "from", "in_contact_group", "VIP")


def test_another_organizations_contacts_never_match(cast, message):
    theirs = do_create_contact_book(cast.other_org, owner=cast.outsider, name="Customers")
    do_create_contact(
        theirs,
        acting_user=None,
        data={
            "infos": [{"kind": "email", "label": "work", "value": "ada@engine.test"}],
            "memberships": [{"group": {"kind": "group", "name": "VIP"}}],
        },
    )
    assert not check(message, "from", "in_contacts")
    assert not check(message, "from", "in_contact_group", "VIP")
    assert not check(message, "from", "in_contact_book", str(theirs.id))
    assert check(message, "from", "not_in_contact_book", str(theirs.id))


@pytest.fixture
def sms_account(cast):
    return AccountFactory(
        organization=cast.org,
        owner=cast.owner,
        kind=AccountKind.TWILIO_SMS,
        address="+15140000000",
        is_shared=True,
        team=cast.support,
    )


def _sms(account, sender: str, sid: str) -> Message:
    return receive(account, subject="", body="Buy now", sender=sender, external_id=sid, thread_keys=[sender])


def test_blocked_numbers_group_trashes_their_sms(cast, book, sms_account):
    do_create_contact(
        book,
        acting_user=None,
        data={
            "infos": [{"kind": "phone_number", "label": "mobile", "value": "+1 (555) 010-9999"}],
            "memberships": [{"group": {"kind": "group", "name": "Blocked numbers"}}],
        },
    )
    make_rule(
        cast.org,
        "Block",
        channel="sms",
        conditions={
            "mode": "all",
            "items": [{"field": "from_phone", "op": "in_contact_group", "value": "Blocked numbers"}],
        },
        actions=[{"type": "trash"}],
    )
    blocked = _sms(sms_account, "+15550109999", "SM1")
    welcome = _sms(sms_account, "+15550101111", "SM2")
    for message in (blocked, welcome):
        message.conversation.refresh_from_db()
        run_rules(
            TriggerEvent(
                kind=Trigger.INCOMING,
                conversation=message.conversation,
                message=message,
                account=sms_account,
                trigger_key=f"k-{message.id}",
            )
        )
    assert state_of(blocked.conversation, cast.owner).location == Location.TRASHED
    assert state_of(welcome.conversation, cast.owner).location != Location.TRASHED


def test_create_contacts_adds_the_sender_once_in_the_chosen_book(cast, message, book):
    other = do_create_contact_book(cast.org, owner=cast.owner, name="Leads")
    run = act(message, [{"type": "create_contacts", "contact_book": str(other.id)}])
    assert run.log[0]["state"] == "done"
    contact = Contact.objects.get()
    assert contact.book == other and contact.organization == cast.org
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")
    assert list(contact.infos.values_list("kind", "value")) == [("email", "Ada@Engine.test")]
    act(message, [{"type": "create_contacts", "contact_book": str(other.id)}])
    assert Contact.objects.count() == 1
    assert check(message, "from", "in_contact_book", str(other.id))
    assert not check(message, "from", "in_contact_book", str(book.id))


def test_create_contacts_from_an_outgoing_message_adds_its_recipients(cast, message, book):
    sent = Message.objects.create(
        organization=cast.org,
        conversation=message.conversation,
        account=cast.support_account,
        direction=Direction.OUTBOUND,
        from_address="support@acme.test",
        to=[{"name": "Bea Smith", "address": "bea@client.test"}],
        cc=[{"name": "", "address": "carl@partner.test"}],
    )
    act(sent, [{"type": "create_contacts", "contact_book": str(book.id)}])
    keys = set(Contact.objects.filter(book=book).values_list("infos__value", flat=True))
    assert keys == {"bea@client.test", "carl@partner.test"}


def test_create_contacts_refuses_another_organizations_book(cast, message):
    theirs = do_create_contact_book(cast.other_org, owner=cast.outsider, name="Globex")
    run = act(message, [{"type": "create_contacts", "contact_book": str(theirs.id)}])
    assert run.log[0]["state"] == "failed"
    assert not Contact.objects.exists()


def test_a_personal_rule_creates_contacts_only_in_a_book_its_owner_sees(cast):
    private = receive(cast.personal_account, sender="bea@client.test", from_name="Bea")
    toms = do_create_contact_book(cast.org, owner=cast.teammate, name="Tom's")
    mine = do_create_contact_book(cast.org, owner=cast.owner, name="Olivia's")
    run = act(private, [{"type": "create_contacts", "contact_book": str(toms.id)}], owner=cast.owner)
    assert run.log[0]["state"] == "failed"
    assert not Contact.objects.exists()
    act(private, [{"type": "create_contacts", "contact_book": str(mine.id)}], owner=cast.owner)
    assert Contact.objects.get().book == mine
