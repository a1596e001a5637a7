"""Demo data for `make run`: one organization, two teams, five users and a lived-in inbox.

Conversations are delivered through the same action channel transports use
(do_receive_message), so the demo exercises the real delivery and threading code.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from conversations.actions import IncomingAttachment, IncomingMessage, do_assign_conversation, do_receive_message
from conversations.models import ConversationLabel, Label
from inboxes.actions import do_create_account, do_create_organization, do_create_team, do_set_team_members
from inboxes.models import Account, Organization, User

DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed on purpose by `make run`
PEOPLE = [
    ("anna@demo.example", "Anna Lindqvist"),
    ("ben@demo.example", "Ben Okafor"),
    ("chloe@demo.example", "Chloé Martin"),
    ("david@demo.example", "David Chen"),
    ("emma@demo.example", "Emma Rossi"),
]

# (account key, sender name, sender address, subject, [bodies: first message then replies],
#  hours ago, labels, assignee email or "", attachment filename or "")
THREADS = [
    (
        "support",
        "Priya Natarajan",
        "priya@northwind.test",
        "Can't export invoices to CSV",
        [
            "Hi team,\n\nSince this morning the CSV export on the invoices page spins forever and never downloads. "
            "We need it for month-end close on Friday. Could you take a look?\n\nThanks,\nPriya",
            "Quick follow-up: it also fails in Firefox, so it's not a browser thing.",
        ],
        1,
        ["Bug"],
        "",
        "",
    ),
    (
        "support",
        "Marco Bianchi",
        "marco@bluebird.test",
        "Password reset email never arrives",
        [
            "Hello, I requested a password reset three times but nothing shows up, not even in spam. "
            "My username is marco.b. Can you help?"
        ],
        2,
        [],
        "",
        "",
    ),
    (
        "support",
        "Hannah Schulz",
        "hannah@lakeside.test",
        "Feature request: dark mode for the dashboard",
        [
            "Love the product! Our night shift would really appreciate a dark theme on the dashboard. "
            "Is this on the roadmap?"
        ],
        5,
        ["Feature request"],
        "",
        "",
    ),
    (
        "support",
        "Tomás Rivera",
        "tomas@quickcart.test",
        "Webhook deliveries failing with 401",
        [
            "Our endpoint started rejecting your webhooks with 401 after we rotated the secret yesterday. "
            "Where can we update the signing secret on your side?\n\nLogs attached.",
            "Never mind the logs, I found the setting, but the deliveries still fail. Any idea?",
        ],
        8,
        ["Bug"],
        "ben@demo.example",
        "webhook-log.txt",
    ),
    (
        "support",
        "Aiko Tanaka",
        "aiko@sakura.test",
        "Refund for duplicate charge",
        ["We were charged twice for the October invoice (INV-20431). Please refund the duplicate charge."],
        20,
        ["Billing"],
        "chloe@demo.example",
        "",
    ),
    (
        "support",
        "Lena Fischer",
        "lena@alpine.test",
        "Thanks for the quick fix!",
        ["Just wanted to say the import issue is gone. Great work by your team!"],
        30,
        [],
        "",
        "",
    ),
    (
        "support",
        "Omar Haddad",
        "omar@dunes.test",
        "SSO login loops back to the start page",
        [
            "After enabling SAML SSO, our users land back on the login page after authenticating. "
            "Our IdP is Okta. Screenshot attached.",
            "Adding my colleague from IT in cc.",
        ],
        44,
        ["Bug", "VIP"],
        "",
        "sso-trace.txt",
    ),
    (
        "support",
        "Grace Kim",
        "grace@harbor.test",
        "How do I add a second admin?",
        ["Hi! I'm the only admin on our workspace. How do I make my colleague an admin too?"],
        70,
        [],
        "",
        "",
    ),
    (
        "sales",
        "Julien Moreau",
        "julien@atelier.test",
        "Pricing for 40 seats",
        [
            "Hello, we're evaluating tools for our support team of about 40 people. "
            "Could you send pricing for the annual plan and tell us about volume discounts?"
        ],
        3,
        ["VIP"],
        "",
        "",
    ),
    (
        "sales",
        "Sofia Alvarez",
        "sofia@brightpath.test",
        "Demo request next week",
        ["Hi, we'd love a 30-minute demo next Tuesday or Wednesday afternoon (CET). Does that work?"],
        9,
        [],
        "emma@demo.example",
        "",
    ),
    (
        "sales",
        "Noah Williams",
        "noah@fintrack.test",
        "Security questionnaire",
        [
            "Our procurement team needs the attached security questionnaire completed before we can sign. "
            "Thanks in advance!"
        ],
        26,
        [],
        "",
        "security-questionnaire.csv",
    ),
    (
        "sales",
        "Isabella Rossi",
        "isabella@verde.test",
        "Upgrade from Starter to Business",
        ["We'd like to upgrade to Business this month. What happens to our existing data and billing cycle?"],
        50,
        ["Billing"],
        "david@demo.example",
        "",
    ),
    (
        "personal",
        "Ben Okafor",
        "ben.okafor@friends.test",
        "Lunch on Thursday?",
        ["Hey Anna, are you free for lunch on Thursday? The new ramen place opened around the corner."],
        4,
        [],
        "",
        "",
    ),
    (
        "personal",
        "Conference Team",
        "events@saasconf.test",
        "Your speaker slot is confirmed",
        [
            'Dear Anna,\n\nWe\'re happy to confirm your talk "Running support as a team sport" on March 14 at 11:00. '
            "Please send your slides by March 7."
        ],
        28,
        [],
        "",
        "",
    ),
    (
        "personal",
        "Mia Johnson",
        "mia@designstudio.test",
        "Brand refresh: first concepts",
        ["Hi Anna, attached are the first three concepts for the brand refresh. Let me know what resonates!"],
        52,
        [],
        "",
        "concepts-v1.txt",
    ),
]


def demo_exists() -> bool:
    return User.objects.filter(email=PEOPLE[0][0]).exists()


@transaction.atomic
def create_demo() -> Organization:
    users = {email: _user(email, name) for email, name in PEOPLE}
    anna = users["anna@demo.example"]
    organization = do_create_organization(name="Demo Company", owner=anna)
    for email in list(users)[1:]:
        organization.memberships.create(user=users[email], role="admin" if email.startswith("ben") else "member")
    support = do_create_team(organization, name="Support", emoji="⛑️", color="#dc2626")
    sales = do_create_team(organization, name="Sales", emoji="💰", color="#16a34a")
    ids = {email: user.id for email, user in users.items()}
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
    labels = {
        name: Label.objects.create(organization=organization, name=name, color=color)
        for name, color in [
            ("Bug", "#dc2626"),
            ("Billing", "#ca8a04"),
            ("Feature request", "#7c3aed"),
            ("VIP", "#0891b2"),
        ]
    }
    for thread in THREADS:
        _deliver_thread(accounts, users, labels, *thread)
    return organization


def _user(email: str, name: str) -> User:
    return User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)


def _deliver_thread(
    accounts: dict[str, Account],
    users: dict[str, User],
    labels: dict[str, Label],
    account_key: str,
    sender_name: str,
    sender: str,
    subject: str,
    bodies: list[str],
    hours_ago: int,
    label_names: list[str],
    assignee: str,
    attachment: str,
) -> None:
    account = accounts[account_key]
    start = timezone.now() - timedelta(hours=hours_ago)
    previous_id = ""
    message = None
    for index, body in enumerate(bodies):
        message_id = f"<{slugify(subject)}.{index}.demo@{sender.split('@')[1]}>"
        files = []
        if attachment and index == 0:
            content = f"{attachment}\nGenerated for the demo.\n".encode()
            files = [IncomingAttachment(filename=attachment, content_type="text/plain", content=content)]
        message = do_receive_message(
            account,
            IncomingMessage(
                from_address=sender,
                from_name=sender_name,
                subject=subject if index == 0 else f"Re: {subject}",
                body_text=body,
                to=[{"name": account.description, "address": account.address}],
                rfc_message_id=message_id,
                in_reply_to=previous_id,
                references=[previous_id] if previous_id else [],
                sent_at=start + timedelta(minutes=25 * index),
                attachments=files,
            ),
        )
        previous_id = message_id
    assert message is not None
    conversation = message.conversation
    for name in label_names:
        ConversationLabel.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, label=labels[name]
        )
    if assignee:
        do_assign_conversation(conversation, [users[assignee]], acting_user=users["anna@demo.example"])
