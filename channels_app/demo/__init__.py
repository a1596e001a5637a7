"""Demo data for `make run`: one organization, two teams, five users and a lived-in inbox.

The conversations come from the bundled .eml files in mail/, stored, parsed and delivered by the
same code that ingests mail from IMAP; threads.json says which account received each thread,
how long ago, and how it was triaged. The Support team also has a Twilio SMS number whose texts
arrive through the code behind Twilio's inbound webhook; its credentials are placeholders, so
replies from it fail (visibly) until a real number is connected in Settings › Accounts.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels_app.email.parsing import parse_email
from channels_app.email.storage import store_raw
from channels_app.twilio.inbound import receive_inbound
from conversations.actions import do_assign_conversation
from conversations.delivery import do_receive_message
from conversations.models import ConversationLabel, Label
from inboxes.actions import do_create_account, do_create_organization, do_create_team, do_set_team_members
from inboxes.aliases import ensure_default_alias
from inboxes.models import Account, AccountKind, DeliveryMode, Organization, Role, Team, User

DEMO_DIR = Path(__file__).resolve().parent
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed on purpose by `make run`
PEOPLE = [
    ("anna@demo.example", "Anna Lindqvist", Role.OWNER),
    ("ben@demo.example", "Ben Okafor", Role.ADMIN),
    ("chloe@demo.example", "Chloé Martin", Role.MEMBER),
    ("david@demo.example", "David Chen", Role.MEMBER),
    ("emma@demo.example", "Emma Rossi", Role.MEMBER),
]
LABELS = [("Bug", "#dc2626"), ("Billing", "#ca8a04"), ("Feature request", "#7c3aed"), ("VIP", "#0891b2")]
SMS_NUMBER = "+15005550006"  # one of Twilio's documented test numbers
# (from, text): two customers texting the Support number, as `make run` first starts.
TEXTS = [
    ("+14155550123", "Hi! My order #4471 says delivered but there's nothing at my door."),
    ("+14155550123", "It's the blue backpack, ordered last Tuesday."),
    ("+447700900461", "Do you ship to the UK? Looking at the 30L travel pack."),
]


def demo_exists() -> bool:
    return User.objects.filter(email=PEOPLE[0][0]).exists()


@transaction.atomic
def create_demo() -> Organization:
    users = {
        email: User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name) for email, name, _ in PEOPLE
    }
    anna = users["anna@demo.example"]
    organization = do_create_organization(name="Demo Company", owner=anna)
    for email, _, role in PEOPLE[1:]:
        organization.memberships.create(user=users[email], role=role)
    ids = {email: user.id for email, user in users.items()}
    support = do_create_team(organization, name="Support", emoji="⛑️", color="#dc2626")
    sales = do_create_team(organization, name="Sales", emoji="💰", color="#16a34a")
    do_set_team_members(
        support,
        active=[ids["anna@demo.example"], ids["ben@demo.example"], ids["chloe@demo.example"]],
        observers=[ids["david@demo.example"]],
    )
    do_set_team_members(
        sales, active=[ids["anna@demo.example"], ids["david@demo.example"], ids["emma@demo.example"]], observers=[]
    )
    accounts = {
        "support": do_create_account(
            organization,
            owner=anna,
            address="support@demo.example",
            description="Support",
            is_shared=True,
            team=support,
        ),
        "sales": do_create_account(
            organization, owner=anna, address="sales@demo.example", description="Sales", is_shared=True, team=sales
        ),
        "personal": do_create_account(organization, owner=anna, address="anna@demo.example", description="Anna"),
    }
    labels = {name: Label.objects.create(organization=organization, name=name, color=color) for name, color in LABELS}
    for thread in json.loads((DEMO_DIR / "threads.json").read_text()):
        _deliver_thread(thread, accounts, users, labels)
    _receive_texts(_sms_number(organization, anna, support))
    return organization


def _sms_number(organization: Organization, owner: User, team: Team) -> Account:
    """A Twilio SMS account as connecting one leaves it, without asking Twilio (no network here)."""
    account = Account(
        organization=organization,
        kind=AccountKind.TWILIO_SMS,
        address=SMS_NUMBER,
        owner=owner,
        is_shared=True,
        team=team,
        delivery_mode=DeliveryMode.TEAM_INBOX,
        description=f"Support SMS {SMS_NUMBER}",
    )
    account.credentials = {"account_sid": "AC" + "0" * 32, "auth_token": "demo-placeholder"}
    account.save()
    ensure_default_alias(account)
    return account


def _receive_texts(account: Account) -> None:
    for index, (sender, body) in enumerate(TEXTS):
        receive_inbound(
            account, {"MessageSid": f"SMdemo{index:026d}", "From": sender, "To": account.address, "Body": body}
        )


def _deliver_thread(
    thread: dict[str, Any], accounts: dict[str, Account], users: dict[str, User], labels: dict[str, Label]
) -> None:
    account = accounts[thread["account"]]
    first_at = timezone.now() - timedelta(hours=thread["hours_ago"])
    message = None
    for item in thread["messages"]:
        raw = (DEMO_DIR / "mail" / item["file"]).read_bytes()
        incoming = parse_email(raw)
        incoming.raw_path = store_raw(raw)
        # The files are timeless; the demo should look lived-in today.
        incoming.sent_at = first_at + timedelta(minutes=item["minutes_after_first"])
        message = do_receive_message(account, incoming)
    assert message is not None
    conversation = message.conversation
    for name in thread["labels"]:
        ConversationLabel.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, label=labels[name]
        )
    if thread["assignee"]:
        do_assign_conversation(conversation, [users[thread["assignee"]]], acting_user=users["anna@demo.example"])
