"""A large, realistic dataset for the benchmarks: `manage.py generate_dataset`.

Organizations, people, teams (active members and observers), shared and personal accounts,
labels, and conversations with their messages, attachments, internal comments (some @mentioning a
teammate), assignments, events and per-user states. Rows are streamed with COPY in one
transaction: the per-message actions would take hours at this size. They are nonetheless what the
actions would have produced: who gets a state row and where is decided by the same delivery
function `do_receive_message` uses, and the later history of each conversation (assign, close,
archive, snooze, trash, spam) follows docs/state-machine.md, so every mailbox query sees data
shaped like production's. The default size is the issue's benchmark: 1,000,000 messages in
200,000 conversations, 2 organizations, 50 people, 10 teams; the search documents are built at
the end in one set-based pass.

Generated organizations end with " (dataset)" and their people's addresses with
".dataset.test"; --reset deletes exactly those.
"""

from __future__ import annotations

import html
import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from conversations import search_index
from conversations.delivery import make_preview, recipients_for_new_conversation
from conversations.models import (
    AccessSource,
    Assignment,
    Attachment,
    Comment,
    Conversation,
    ConversationEvent,
    ConversationLabel,
    ConversationState,
    Direction,
    EventKind,
    Label,
    Location,
    Message,
    Status,
)
from inboxes.models import (
    Account,
    AccountAccess,
    AccountKind,
    ArchiveAssigned,
    DeliveryMode,
    Membership,
    NewMessages,
    Organization,
    Role,
    Team,
    TeamMembership,
    TeamRole,
    User,
)

ORG_SUFFIX = " (dataset)"
EMAIL_SUFFIX = ".dataset.test"
PASSWORD = "dataset-password"  # noqa: S105 - every generated person can sign in with it, on purpose
CHUNK = 5000  # conversations generated and copied per round trip
MESSAGES_PER_CONVERSATION = 5  # the benchmark size: 1,000,000 messages in 200,000 conversations
COMMENTED_SHARE = 0.2  # conversations with an internal discussion
# The first organization is the big one the benchmark measures; the others share the rest.
ORG_WEIGHTS = [4, 1]

ORG_NAMES = ["Northwind Trading", "Globex Logistics", "Initech Software", "Umbrella Health", "Stark Outfitters"]
TEAM_NAMES = [
    ("Support", "⛑️"),
    ("Sales", "💰"),
    ("Billing", "🧾"),
    ("Success", "🌱"),
    ("Partnerships", "🤝"),
    ("Operations", "⚙️"),
    ("Recruiting", "🧲"),
    ("Legal", "⚖️"),
    ("Marketing", "📣"),
    ("Security", "🔒"),
    ("Returns", "📦"),
    ("Press", "📰"),
]
COLORS = ["#dc2626", "#16a34a", "#2563eb", "#7c3aed", "#db2777", "#ea580c", "#0891b2", "#ca8a04", "#64748b"]
FIRST_NAMES = (  # noqa: SIM905 - a word list reads best as words
    "Anna Ben Chloé David Emma Farid Grace Hugo Ines Jonas Kenji Lena Marco Nadia Omar Priya Quinn Rosa "
    "Sven Tomás Uma Victor Wen Ximena Yusuf Zoe Aiko Bruno Carmen Dmitri Elif Felix Greta Hamid Isla "
    "Jamal Kira Liam Maya Noah"
).split()
LAST_NAMES = (  # noqa: SIM905 - a word list reads best as words
    "Lindqvist Okafor Martin Chen Rossi Haddad Kim Moreau Alvarez Williams Schulz Tanaka Bianchi "
    "Natarajan Fischer Novak Silva Kowalski Dubois Jensen Murphy Costa Nguyen Ivanova Yilmaz Hansen "
    "Rivera Becker Sato Khan Laurent Müller Ortiz Berg Park Walsh Rahman Petrov Lopez Weber"
).split()
COMPANIES = (  # noqa: SIM905 - a word list reads best as words
    "northwind bluebird lakeside quickcart sakura alpine dunes harbor atelier brightpath fintrack verde "
    "acme initrode vandelay hooli pied-piper soylent cyberdyne tyrell wonka oscorp gringotts monarch "
    "aperture blackmesa contoso fabrikam tailspin litware adventureworks proseware fourthcoffee wingtip "
    "margie lucerne woodgrove alpineski coho"
).split()
SUBJECTS = [
    "Can't export invoices to CSV",
    "Password reset email never arrives",
    "Feature request: dark mode for the dashboard",
    "Webhook deliveries failing with 401",
    "Refund for duplicate charge on order #{n}",
    "SSO login loops back to the start page",
    "How do I add a second admin?",
    "Pricing for {n} seats",
    "Demo request next week",
    "Security questionnaire for procurement",
    "Upgrade from Starter to Business",
    "Invoice INV-{n} is missing the VAT number",
    "Shipment {n} arrived damaged",
    "Where is my order #{n}?",
    "API rate limit exceeded since this morning",
    "Question about the annual plan",
    "Cancel my subscription",
    "Data processing agreement (DPA) signature",
    "Partnership opportunity",
    "Bulk import stuck at 99%",
    "Mobile app crashes on login",
    "Change the billing email address",
    "Interview availability for the backend role",
    "Press inquiry about your latest release",
    "Return label for order #{n}",
    "Two-factor codes not accepted",
    "Calendar sync duplicates events",
    "Wrong currency on quote Q-{n}",
    "Onboarding call follow-up",
    "Contract renewal for {n}",
    "Report: phishing email pretending to be you",
    "Slow page loads in the EU region",
    "Can we get an extension on the trial?",
    "Custom domain verification fails",
    "Missing attachments in forwarded emails",
    "Thanks for the quick fix!",
]
SENTENCES = [
    "Since this morning the export spins forever and never downloads.",
    "We need this sorted before month-end close on Friday.",
    "It also fails in Firefox, so it is not a browser issue.",
    "I tried three times but nothing shows up, not even in spam.",
    "Our night shift would really appreciate a fix for this.",
    "Is this on the roadmap for this quarter?",
    "Our endpoint started rejecting the requests after we rotated the secret yesterday.",
    "Logs are attached in case they help.",
    "We were charged twice for the same invoice.",
    "After enabling SSO our users land back on the login page.",
    "Adding my colleague from IT in copy.",
    "Could you send pricing for the annual plan and tell us about volume discounts?",
    "Does Tuesday or Wednesday afternoon work for a thirty-minute call?",
    "Our procurement team needs the questionnaire completed before we can sign.",
    "What happens to our existing data and billing cycle?",
    "The package was left at the wrong address.",
    "Could you confirm the expected delivery date?",
    "The mobile app closes right after the splash screen.",
    "We are evaluating tools for a support team of about forty people.",
    "Thanks a lot for the quick answer, that solved it.",
    "I have attached a screenshot of the error message.",
    "Please let me know if you need anything else from our side.",
    "This is blocking our whole team at the moment.",
    "We would like to upgrade this month if possible.",
    "Can you walk me through the steps to change it?",
    "The numbers in the report do not match our own records.",
    "Our legal team has a few comments on section four.",
    "We noticed the issue right after the last update.",
    "I have cleared the cache and tried again, same result.",
    "Could you escalate this to someone on the technical side?",
    "Happy to jump on a call if that is easier.",
    "Looking forward to working together.",
]
GREETINGS = ["Hi team,", "Hello,", "Hi there,", "Good morning,", "Hey,", "Dear support,"]
SIGN_OFFS = ["Thanks,", "Best regards,", "Cheers,", "Kind regards,", "Thank you,"]
REPLIES = [
    "Thanks for reaching out! We are looking into it and will get back to you shortly.",
    "Could you send us the exact error message and the time it happened?",
    "This should be fixed now. Could you try again and let us know?",
    "I have forwarded this to our engineering team.",
    "Good news: the refund has been issued and should appear within five business days.",
    "I have attached the document you asked for.",
]
# Internal comments: teammates talking about the conversation, never sent to the customer.
COMMENTS = [
    "I think this is the same issue as last week, checking the logs now.",
    "Customer is on the annual plan, so the refund goes through finance.",
    "Looks like a duplicate of the ticket from yesterday.",
    "I can take this one after lunch.",
    "Engineering confirmed the fix ships on Thursday.",
    "They are a big account, let's answer today.",
    "Waiting on the carrier before replying.",
    "Already answered by phone, closing once they confirm.",
    "Not sure about the pricing here, any idea?",
    "Escalated to the technical team.",
]
# Comments that @mention a teammate: "{name}" is their full name, as the composer inserts it.
MENTIONS = [
    "@{name} can you have a look at this one?",
    "@{name} this is one of yours, I think.",
    "Thanks @{name}, that worked.",
    "@{name} do you know whether we promised them a discount?",
    "Looping in @{name} for the billing side.",
]
ATTACHMENTS = [
    ("screenshot.png", "image/png"),
    ("invoice.pdf", "application/pdf"),
    ("logs.txt", "text/plain"),
    ("export.csv", "text/csv"),
    ("contract.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
]
LABELS = [
    ("Bug", "#dc2626", ["Critical", "Minor"]),
    ("Billing", "#ca8a04", []),
    ("Feature request", "#7c3aed", []),
    ("VIP", "#0891b2", []),
    ("Urgent", "#ea580c", []),
    ("Follow-up", "#16a34a", []),
    ("Refund", "#db2777", []),
    ("Onboarding", "#2563eb", []),
    ("Churn risk", "#64748b", []),
]


def dataset_organizations() -> models.QuerySet[Organization]:
    return Organization.objects.filter(name__endswith=ORG_SUFFIX)


def delete_dataset() -> int:
    """Delete every generated organization and person; the bulky tables by SQL, the rest by the ORM."""
    org_ids = list(dataset_organizations().values_list("id", flat=True))
    with connection.cursor() as cursor:
        # Every table that points at a message or a conversation (comments, search documents, ...),
        # children first: this also covers tables added after this command was written.
        for parent in (Message, Conversation):
            for relation in parent._meta.related_objects:
                if relation.many_to_many or relation.related_model in (Message, Conversation):
                    continue
                table, column = relation.related_model._meta.db_table, relation.field.column
                cursor.execute(
                    f"DELETE FROM {table} WHERE {column} IN "  # noqa: S608 - names from the models
                    f"(SELECT id FROM {parent._meta.db_table} WHERE organization_id = ANY(%s))",
                    [org_ids],
                )
        for model in (Message, Conversation):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE organization_id = ANY(%s)", [org_ids])  # noqa: S608
    # Accounts before teams: a team's deletion would otherwise null the team of its team-inbox accounts.
    Account.objects.filter(organization_id__in=org_ids).delete()
    Organization.objects.filter(id__in=org_ids).delete()
    User.objects.filter(email__endswith=EMAIL_SUFFIX).delete()
    return len(org_ids)


def skip_foreign_key_checks() -> bool:
    """Skip the per-row foreign key triggers until the end of the transaction, if allowed.

    Checking millions of generated rows one lookup at a time takes about as long as writing them;
    `session_replication_role` needs a superuser (the embedded PostgreSQL's), so elsewhere the
    checks simply run."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        return False
    return True


def split(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """`total` shared out by weight (largest remainder), each share at least `minimum`."""
    rest = total - minimum * len(weights)
    exact = [rest * w / sum(weights) for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: rest - sum(shares)]:
        shares[i] += 1
    return [share + minimum for share in shares]


@dataclass
class Person:
    id: uuid.UUID
    name: str
    email: str
    role: str
    remove_on_close: bool


@dataclass
class TeamPlan:
    team: Team
    active: list[uuid.UUID]
    observers: list[uuid.UUID]


@dataclass
class AccountPlan:
    account: Account
    weight: float
    # user id -> (location, access source) for a new conversation, from the delivery rules.
    recipients: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)
    # Who can be assigned, reply and close here.
    staff: list[uuid.UUID] = field(default_factory=list)


@dataclass
class OrgPlan:
    organization: Organization
    domain: str
    people: list[Person]
    teams: list[TeamPlan]
    accounts: list[AccountPlan]
    labels: list[Label]
    conversations: int
    contacts: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = {p.id: p.name for p in self.people}
        self.removers = {p.id for p in self.people if p.remove_on_close}
        self.staff = {p.id for p in self.people if p.role != Role.GUEST}
        self.team_names = {t.team.id: str(t.team) for t in self.teams}


class Rows:
    """The rows of one chunk, per table, in the column order of FIELDS."""

    FIELDS: dict[type[models.Model], list[str]] = {
        Conversation: [
            "id",
            "organization",
            "kind",
            "subject",
            "status",
            "team",
            "in_team_inbox",
            "created_at",
            "last_activity_at",
            "preview",
            "participants",
            "message_count",
            "has_attachments",
            "has_outbound",
            "is_shared",
            "is_spam",
            "snoozed_until",
            "snooze_discard_if_reply",
            "assigned",
        ],
        Message: [
            "id",
            "organization",
            "conversation",
            "account",
            "direction",
            "from_name",
            "from_address",
            "to",
            "cc",
            "subject",
            "body_text",
            "body_html",
            "rfc_message_id",
            "in_reply_to",
            "references",
            "sent_at",
            "created_at",
            "author",
        ],
        Attachment: [
            "id",
            "organization",
            "message",
            "filename",
            "content_type",
            "size",
            "content_id",
            "is_inline",
            "file",
        ],
        ConversationState: [
            "organization",
            "conversation",
            "user",
            "access_source",
            "location",
            "unread",
            "watching",
            "starred",
            "pinned",
            "snoozed_until",
            "snooze_leave_in_inbox",
            "snooze_discard_if_reply",
            "snooze_due",
            "location_before_trash",
            "last_activity_at",
            "last_read_at",
            "assigned",
            # Copies of the conversation's, which the database's triggers would set; written here
            # as session_replication_role = replica (see skip_foreign_key_checks) skips triggers.
            "conversation_open",
            "team_inbox",
        ],
        Comment: ["id", "organization", "conversation", "author", "body", "created_at"],
        Assignment: ["organization", "conversation", "user", "assigned_by", "created_at"],
        ConversationLabel: ["organization", "conversation", "label"],
        ConversationEvent: ["organization", "conversation", "actor", "kind", "data", "created_at", "private_to"],
    }

    def __init__(self) -> None:
        self.tables: dict[type[models.Model], list[tuple[Any, ...]]] = {model: [] for model in self.FIELDS}

    def add(self, model: type[models.Model], row: tuple[Any, ...]) -> None:
        self.tables[model].append(row)

    def copy(self) -> None:
        """COPY each table; parents first, though the foreign keys are only checked at commit."""
        with connection.cursor() as cursor:
            for model, rows in self.tables.items():
                if not rows:
                    continue
                names, defaults = self.FIELDS[model], _defaults(model, self.FIELDS[model])
                column = {f.name: str(f.column) for f in model._meta.concrete_fields}
                columns = ", ".join(connection.ops.quote_name(column[name]) for name in [*names, *defaults])
                extra = tuple(defaults.values())
                with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row + extra)


def _defaults(model: type[models.Model], names: list[str]) -> dict[str, Any]:
    """The model's other columns, with their defaults: COPY would leave them NULL, as Django's
    defaults live in Python, not in the table."""
    defaults = {}
    for f in model._meta.concrete_fields:
        if f.name in names or f.primary_key:
            continue
        if not f.has_default() and not f.null and not (f.blank and f.empty_strings_allowed):
            raise CommandError(f"generate_dataset does not know how to fill {model.__name__}.{f.name}.")
        defaults[f.name] = f.get_db_prep_save(f.get_default(), connection)
    return defaults


@dataclass
class StateRow:
    user: uuid.UUID
    source: str
    location: str
    unread: bool = True
    watching: bool = False
    starred: bool = False
    pinned: bool = False
    snoozed_until: datetime | None = None
    snooze_leave_in_inbox: bool = False
    snooze_discard_if_reply: bool = False
    snooze_due: bool = False
    location_before_trash: str = ""
    last_read_at: datetime | None = None


class Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.totals: dict[str, int] = {}

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # --- Organizations, people, teams, accounts, labels (small: the ORM's bulk_create) ------------

    def plan_organization(self, index: int, *, people: int, teams: int, conversations: int) -> OrgPlan:
        rng = self.rng
        company = ORG_NAMES[index % len(ORG_NAMES)] + (f" {index + 1}" if index >= len(ORG_NAMES) else "")
        domain = f"{slugify(company)}{EMAIL_SUFFIX}"
        organization = Organization.objects.create(
            id=self.new_id(), name=company + ORG_SUFFIX, color=COLORS[index % len(COLORS)]
        )
        cast = self._people(organization, domain, people)
        team_plans = self._teams(organization, cast, teams)
        plan = OrgPlan(
            organization=organization,
            domain=domain,
            people=cast,
            teams=team_plans,
            accounts=self._accounts(organization, domain, cast, team_plans),
            labels=self._labels(organization),
            conversations=conversations,
        )
        for account_plan in plan.accounts:
            account_plan.recipients = recipients_for_new_conversation(account_plan.account)
        plan.contacts = [
            (f"{first} {last}", f"{slugify(first)}.{slugify(last)}@{rng.choice(COMPANIES)}.example")
            for first, last in ((rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for _ in range(3000))
        ]
        return plan

    def _people(self, organization: Organization, domain: str, count: int) -> list[Person]:
        rng = self.rng
        password = make_password(PASSWORD)  # hashed once: it is slow on purpose
        cast, users, seen = [], [], set()
        for i in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{slugify(first)}.{slugify(last)}"
            email = f"{local}@{domain}" if local not in seen else f"{local}{i}@{domain}"
            seen.add(local)
            # The first person owns the organization; a couple administer it; the last is a guest.
            role = Role.OWNER if i == 0 else Role.ADMIN if i < 3 else Role.GUEST if i == count - 1 else Role.MEMBER
            person = Person(self.new_id(), f"{first} {last}", email, role, rng.random() < 0.1)
            cast.append(person)
            users.append(
                User(
                    id=person.id,
                    email=email,
                    name=person.name,
                    password=password,
                    archive_assigned=rng.choice(list(ArchiveAssigned)),
                )
            )
        User.objects.bulk_create(users)
        Membership.objects.bulk_create(
            Membership(
                organization=organization, user_id=p.id, role=p.role, remove_from_inbox_on_close=p.remove_on_close
            )
            for p in cast
        )
        return cast

    def _teams(self, organization: Organization, cast: list[Person], count: int) -> list[TeamPlan]:
        rng = self.rng
        staff = [p.id for p in cast if p.role != Role.GUEST]
        plans = []
        for i in range(count):
            name, emoji = TEAM_NAMES[i % len(TEAM_NAMES)]
            team = Team(
                id=self.new_id(),
                organization=organization,
                name=name if i < len(TEAM_NAMES) else f"{name} {i // len(TEAM_NAMES) + 1}",
                emoji=emoji,
                color=COLORS[i % len(COLORS)],
            )
            active = rng.sample(staff, min(len(staff), rng.randint(4, 8)))
            # The owner is an active member of the two busiest teams and of the quietest one: the
            # benchmark's busy user, who also sees a team inbox holding few of their conversations.
            if (i < 2 or i == count - 1) and staff[0] not in active:
                active[0] = staff[0]
            others = [uid for uid in staff if uid not in active]
            observers = rng.sample(others, min(len(others), rng.randint(0, 2)))
            plans.append(TeamPlan(team, active, observers))
        Team.objects.bulk_create(p.team for p in plans)
        TeamMembership.objects.bulk_create(
            TeamMembership(organization=organization, team=p.team, user_id=uid, role=role)
            for p in plans
            for role, ids in ((TeamRole.ACTIVE, p.active), (TeamRole.OBSERVER, p.observers))
            for uid in ids
        )
        return plans

    def _accounts(
        self, organization: Organization, domain: str, cast: list[Person], teams: list[TeamPlan]
    ) -> list[AccountPlan]:
        """A team-inbox account per team (busiest first), one shared account delivered to members'
        inboxes, and a personal account per person."""
        rng = self.rng
        kinds = [AccountKind.IMAP, AccountKind.GMAIL, AccountKind.OFFICE365]
        plans: list[AccountPlan] = []
        for rank, team_plan in enumerate(teams):
            team = team_plan.team
            account = Account(
                id=self.new_id(),
                organization=organization,
                kind=rng.choice(kinds),
                description=team.name,
                address=f"{slugify(team.name)}@{domain}",
                display_name=f"{organization.name.removesuffix(ORG_SUFFIX)} {team.name}",
                # Whoever connected it is on the team, so delivery puts it in nobody's Inbox.
                owner_id=team_plan.active[0],
                is_shared=True,
                delivery_mode=DeliveryMode.TEAM_INBOX,
                team=team,
            )
            plans.append(AccountPlan(account, 0.65 / (rank + 1), staff=team_plan.active))
        staff = [p.id for p in cast if p.role != Role.GUEST]
        shared_with = rng.sample(staff[1:], min(len(staff) - 1, 4))
        hello = Account(
            id=self.new_id(),
            organization=organization,
            kind=AccountKind.GMAIL,
            description="Hello",
            address=f"hello@{domain}",
            display_name=organization.name.removesuffix(ORG_SUFFIX),
            owner_id=staff[0],
            is_shared=True,
            delivery_mode=DeliveryMode.INBOX,
        )
        plans.append(AccountPlan(hello, 0.0, staff=[staff[0], *shared_with]))
        for person in cast:
            if person.role == Role.GUEST:
                continue
            account = Account(
                id=self.new_id(),
                organization=organization,
                kind=rng.choice(kinds),
                description=person.name,
                address=person.email.replace(EMAIL_SUFFIX, ".example"),
                display_name=person.name,
                owner_id=person.id,
            )
            plans.append(AccountPlan(account, 0.0, staff=[person.id]))
        # Shares of the mail: team inboxes ~65% (Zipf over teams), the shared address 10%, people 25%.
        team_total = sum(p.weight for p in plans[: len(teams)])
        for p in plans[: len(teams)]:
            p.weight = 0.65 * p.weight / team_total
        plans[len(teams)].weight = 0.10
        personal = plans[len(teams) + 1 :]
        for p in personal:
            p.weight = 0.25 / len(personal)
        Account.objects.bulk_create(p.account for p in plans)
        access = [
            AccountAccess(
                organization=organization,
                account=hello,
                user_id=uid,
                new_messages=NewMessages.AUTO_ARCHIVE if i == 0 else NewMessages.INBOX,
            )
            for i, uid in enumerate(shared_with)
        ]
        AccountAccess.objects.bulk_create(access)
        return plans

    def _labels(self, organization: Organization) -> list[Label]:
        labels = []
        for name, color, children in LABELS:
            parent = Label.objects.create(id=self.new_id(), organization=organization, name=name, color=color)
            labels.append(parent)
            labels.extend(
                Label.objects.create(
                    id=self.new_id(), organization=organization, name=child, color=color, parent=parent
                )
                for child in children
            )
        return labels

    # --- Conversations (big: COPY) ------------------------------------------------------------------

    def message_counts(self, conversations: int, target: int) -> list[int]:
        """Messages per conversation: mostly short threads, a long tail, one 50-message thread in
        500; `target` messages in all."""
        rng = self.rng
        average = target / conversations
        mean_extra = max(average - 0.5, 0.01)  # E[floor(Exp(m))] ~ m - 0.5
        counts = [min(1 + int(rng.expovariate(1 / mean_extra)), 200) for _ in range(conversations)]
        if average >= 2:
            for i in range(0, conversations, 500):
                counts[i] = 50
        difference = target - sum(counts)
        while difference:
            i = rng.randrange(conversations)
            if counts[i] == 50:
                continue
            if difference > 0:
                counts[i] += 1
                difference -= 1
            elif counts[i] > 1:
                counts[i] -= 1
                difference += 1
        return counts

    def generate(self, plan: OrgPlan, counts: list[int], progress: Any) -> None:
        accounts = self.rng.choices(plan.accounts, weights=[a.weight for a in plan.accounts], k=plan.conversations)
        rows = Rows()
        for start in range(0, plan.conversations, CHUNK):
            for i in range(start, min(start + CHUNK, plan.conversations)):
                self.conversation(plan, accounts[i], counts[i], rows)
            for model, table_rows in rows.tables.items():
                self.totals[model.__name__] = self.totals.get(model.__name__, 0) + len(table_rows)
            rows.copy()
            rows = Rows()
            progress(min(start + CHUNK, plan.conversations))

    def _later(self, moment: datetime, low: float, high: float) -> datetime:
        """A moment `low`..`high` minutes after `moment`, never in the future."""
        return min(moment + timedelta(minutes=self.rng.uniform(low, high)), self.now)

    def conversation(self, plan: OrgPlan, account_plan: AccountPlan, message_count: int, rows: Rows) -> None:
        """One conversation and everything it implies, as if each step had been an action."""
        rng, now = self.rng, self.now
        account = account_plan.account
        org_id = plan.organization.id
        conversation_id = self.new_id()
        team_id = account.team_id if account.delivers_to_team_inbox else None
        team_name = plan.team_names[team_id] if team_id is not None else ""
        staff = account_plan.staff

        # Newer conversations are denser: age is skewed towards today, over a year.
        created_at = now - timedelta(days=365 * rng.random() ** 2, minutes=rng.uniform(1, 60))
        gaps = [rng.expovariate(1 / 240) + 1 for _ in range(message_count - 1)]  # minutes, mean 4 h
        span = (now - created_at).total_seconds() / 60 * 0.9
        if sum(gaps) > span:
            gaps = [g * span / sum(gaps) for g in gaps]
        sent_times = [created_at]
        for gap in gaps:
            sent_times.append(sent_times[-1] + timedelta(minutes=gap))

        # Who will work on it (decided first: the assignee is the one who replies).
        is_team = team_id is not None
        fate = "normal"
        if is_team:
            roll = rng.random()
            fate = "team_spam" if roll < 0.005 else "team_trash" if roll < 0.009 else "normal"
        assignees: list[uuid.UUID] = []
        if fate == "normal" and account.is_shared and rng.random() < (0.35 if is_team else 0.15):
            assignees = rng.sample(staff, 2 if rng.random() < 0.1 and len(staff) > 1 else 1)
        replier = assignees[0] if assignees else rng.choice(staff)

        contact_name, contact_address = rng.choice(plan.contacts)
        subject = rng.choice(SUBJECTS).format(n=rng.randint(1000, 99999))
        domain = contact_address.split("@")[1]
        participants: list[dict[str, str]] = []
        previous_ids: list[str] = []
        has_attachments = has_outbound = False
        preview = ""
        account_party = {"name": account.display_name, "address": account.address}
        for index, sent_at in enumerate(sent_times):
            message_id = self.new_id()
            outbound = index > 0 and rng.random() < 0.45
            if outbound:
                has_outbound = True
                author: uuid.UUID | None = replier
                from_name, from_address = plan.names[replier], account.address
                to, cc = [{"name": contact_name, "address": contact_address}], []
                body = f"Hi {contact_name.split()[0]},\n\n{rng.choice(REPLIES)}\n\n{plan.names[replier]}"
            else:
                author = None
                from_name, from_address = contact_name, contact_address
                if index > 0 and rng.random() < 0.15:
                    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                    from_name, from_address = f"{first} {last}", f"{slugify(first)}.{slugify(last)}@{domain}"
                to = [account_party]
                cc = [{"name": contact_name, "address": contact_address}] if from_address != contact_address else []
                sentences = " ".join(rng.sample(SENTENCES, rng.randint(1, 4)))
                body = f"{rng.choice(GREETINGS)}\n\n{sentences}\n\n{rng.choice(SIGN_OFFS)}\n{from_name.split()[0]}"
            body_html = (
                "<div>" + "".join(f"<p>{html.escape(part)}</p>" for part in body.split("\n\n")) + "</div>"
                if rng.random() < 0.4
                else ""
            )
            rfc_id = f"<{message_id.hex}@{account.address.split('@')[1] if outbound else domain}>"
            rows.add(
                Message,
                (
                    message_id,
                    org_id,
                    conversation_id,
                    account.id,
                    Direction.OUTBOUND if outbound else Direction.INBOUND,
                    from_name,
                    from_address,
                    json.dumps(to),
                    json.dumps(cc),
                    subject if index == 0 else f"Re: {subject}",
                    body,
                    body_html,
                    rfc_id,
                    previous_ids[-1] if previous_ids else "",
                    " ".join(previous_ids[-5:]),
                    sent_at,
                    sent_at,
                    author,
                ),
            )
            previous_ids.append(rfc_id)
            if not outbound and rng.random() < 0.08:
                has_attachments = True
                filename, content_type = rng.choice(ATTACHMENTS)
                rows.add(
                    Attachment,
                    (
                        self.new_id(),
                        org_id,
                        message_id,
                        filename,
                        content_type,
                        rng.randint(2_000, 4_000_000),
                        "",
                        False,
                        "",
                    ),
                )
            # As delivery._Batch.update_summary: latest sender first, each address once, ten at most.
            participants = [
                {"name": from_name, "address": from_address},
                *[p for p in participants if p["address"] != from_address],
            ][:10]
            preview = make_preview(body)
        last_message_at = sent_times[-1]

        # Access at delivery (delivery.recipients_for_new_conversation), then assignment.
        states = {uid: StateRow(uid, source, location) for uid, (location, source) in account_plan.recipients.items()}
        events: list[tuple[uuid.UUID | None, str, dict[str, str], datetime, uuid.UUID | None]] = []
        for assignee in assignees:
            assigned_by = rng.choice([None, assignee, replier, rng.choice(staff)])
            assigned_at = self._later(created_at, 1, 120)
            row = states.setdefault(assignee, StateRow(assignee, AccessSource.ASSIGNMENT, Location.INBOX))
            row.location, row.watching = Location.INBOX, True
            rows.add(Assignment, (org_id, conversation_id, assignee, assigned_by, assigned_at))
            events.append(
                (
                    assigned_by,
                    EventKind.ASSIGNED,
                    {"target": plan.names[assignee], "user_id": str(assignee)},
                    assigned_at,
                    None,
                )
            )

        # Closed: most of what is older than a few days in a team, a few elsewhere.
        status, last_activity_at = Status.OPEN, last_message_at
        old = (now - last_message_at) > timedelta(days=3)
        if fate == "normal" and rng.random() < ((0.85 if old else 0.25) if account.is_shared else 0.1):
            status = Status.CLOSED
            closer = assignees[0] if assignees and rng.random() < 0.8 else rng.choice(staff)
            closed_at = self._later(last_message_at, 5, 2880)
            if is_team and not assignees and rng.random() < 0.6:  # the box icon in the team inbox
                states[closer].location = Location.ARCHIVED
                events.append((closer, EventKind.ARCHIVED_FOR_TEAM, {"target": team_name}, closed_at, None))
            for uid, row in states.items():
                if row.location == Location.INBOX and (uid == closer or (uid in plan.removers and not row.watching)):
                    row.location = Location.ARCHIVED
            events.append((closer, EventKind.CLOSED, {}, closed_at, None))
            last_activity_at = closed_at  # closing bumps activity (actions._bump_activity)

        # Each person's own triage afterwards.
        for uid, row in states.items() if fate == "normal" else ():
            when = self._later(last_activity_at, 1, 4320)
            roll = rng.random()
            if uid not in assignees and roll < 0.01:
                row.location_before_trash, row.location = row.location, Location.TRASHED
                events.append((uid, EventKind.TRASHED, {}, when, uid))
            elif not account.is_shared and roll < 0.015:
                row.location = Location.SPAM
                events.append((uid, EventKind.SPAM, {}, when, uid))
            elif row.location == Location.INBOX:
                roll = rng.random()
                # Assignees of open conversations seldom "archive only"; the rest clear old mail.
                archive_chance = (0.1 if status == Status.OPEN else 0.75) if uid in assignees else 0.75 if old else 0
                if roll < archive_chance:
                    row.location = Location.ARCHIVED
                    events.append((uid, EventKind.ARCHIVED, {}, when, uid))
                elif status == Status.OPEN and roll > 0.95:
                    row.snoozed_until = now + timedelta(hours=rng.uniform(1, 336))
                    row.snooze_leave_in_inbox = rng.random() < 0.15
                    row.snooze_discard_if_reply = rng.random() < 0.3
                    if not row.snooze_leave_in_inbox:
                        row.location = Location.SNOOZED
                    until = row.snoozed_until.isoformat()
                    events.append((uid, EventKind.SNOOZED, {"target": until, "until": until}, when, uid))
                elif roll > 0.94:
                    row.snooze_due = True  # a snooze that came due: orange until handled
                    events.append((None, EventKind.SNOOZE_DUE, {}, when, None))
            if row.location not in (Location.TRASHED, Location.SPAM):
                row.starred = rng.random() < 0.01
                row.pinned = rng.random() < 0.003
                row.watching = row.watching or (row.location == Location.INBOX and rng.random() < 0.03)

        # Team-wide outcomes (from the team inbox, unassigned and open).
        is_spam, snoozed_until, snooze_discard = False, None, False
        actor = rng.choice(staff)
        when = self._later(last_activity_at, 1, 1440)
        if fate == "team_spam":
            is_spam = True
            for row in states.values():
                row.location = Location.SPAM
            events.append((actor, EventKind.SPAM, {}, when, None))
        elif fate == "team_trash":
            for row in states.values():
                row.location_before_trash, row.location = row.location, Location.TRASHED
            events.append((actor, EventKind.TRASHED_FOR_EVERYONE, {"target": f"(from {team_name})"}, when, None))
            team_id = None
        elif is_team and status == Status.OPEN and rng.random() < 0.015:
            snoozed_until = now + timedelta(hours=rng.uniform(1, 240))
            snooze_discard = rng.random() < 0.3
            for uid, row in states.items():
                if row.location in (Location.TRASHED, Location.SPAM):
                    continue
                row.snoozed_until, row.snooze_discard_if_reply = snoozed_until, snooze_discard
                row.snooze_leave_in_inbox = row.snooze_due = False
                if row.location == Location.INBOX or uid == actor:
                    row.location = Location.SNOOZED
            until = snoozed_until.isoformat()
            events.append((actor, EventKind.SNOOZED_FOR_EVERYONE, {"target": until, "until": until}, when, None))

        in_team_inbox = (
            team_id is not None and status == Status.OPEN and not assignees and not is_spam and snoozed_until is None
        )
        recent = (now - last_activity_at) < timedelta(days=2)
        for row in states.values():
            if row.location in (Location.TRASHED, Location.SPAM):
                row.snoozed_until, row.snooze_due, row.pinned = None, False, False
            chance = 0.6 if recent else 0.5 if in_team_inbox else 0.3 if row.location == Location.NONE else 0.04
            row.unread = row.snooze_due or rng.random() < chance
            row.last_read_at = None if row.unread else self._later(last_activity_at, 1, 360)
            rows.add(
                ConversationState,
                (
                    org_id,
                    conversation_id,
                    row.user,
                    row.source,
                    row.location,
                    row.unread,
                    row.watching,
                    row.starred,
                    row.pinned,
                    row.snoozed_until,
                    row.snooze_leave_in_inbox,
                    row.snooze_discard_if_reply,
                    row.snooze_due,
                    row.location_before_trash,
                    last_activity_at,
                    row.last_read_at,
                    row.user in assignees,
                    status == Status.OPEN,
                    team_id if in_team_inbox else None,
                ),
            )
        if rng.random() < COMMENTED_SHARE:
            people = [uid for uid in states if uid in plan.staff]
            self._comments(plan, conversation_id, people, (created_at, last_activity_at), rows)
        if fate != "team_trash" and rng.random() < 0.3:
            for label in rng.sample(plan.labels, rng.choice([1, 1, 2])):
                rows.add(ConversationLabel, (org_id, conversation_id, label.id))
        for event_actor, kind, data, created, private_to in events:
            rows.add(
                ConversationEvent, (org_id, conversation_id, event_actor, kind, json.dumps(data), created, private_to)
            )
        rows.add(
            Conversation,
            (
                conversation_id,
                org_id,
                "thread",
                subject,
                status,
                team_id,
                in_team_inbox,
                created_at,
                last_activity_at,
                preview,
                json.dumps(participants),
                message_count,
                has_attachments,
                has_outbound,
                account.is_shared,
                is_spam,
                snoozed_until,
                snooze_discard,
                bool(assignees),
            ),
        )

    def _comments(
        self,
        plan: OrgPlan,
        conversation_id: uuid.UUID,
        people: list[uuid.UUID],
        span: tuple[datetime, datetime],
        rows: Rows,
    ) -> None:
        """A short internal discussion among the people who can see the conversation, within its
        life (so it moves no activity time); a third of the comments @mention another of them."""
        rng = self.rng
        if not people:
            return
        start, end = span
        seconds = (end - start).total_seconds()
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
            author = rng.choice(people)
            others = [uid for uid in people if uid != author]
            if others and rng.random() < 1 / 3:
                body = rng.choice(MENTIONS).format(name=plan.names[rng.choice(others)])
            else:
                body = rng.choice(COMMENTS)
            when = start + timedelta(seconds=rng.uniform(0, seconds))
            rows.add(Comment, (self.new_id(), plan.organization.id, conversation_id, author, body, when))


class Command(BaseCommand):
    help = "Generate a large, realistic dataset (organizations, people, teams, conversations) for benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--messages",
            type=int,
            default=None,
            help=f"In all organizations together (default: {MESSAGES_PER_CONVERSATION} per conversation).",
        )
        parser.add_argument("--conversations", type=int, default=200_000, help="In all organizations together.")
        parser.add_argument("--organizations", type=int, default=2)
        parser.add_argument("--users", type=int, default=50, help="In all organizations together.")
        parser.add_argument("--teams", type=int, default=10, help="In all organizations together.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--reset", action="store_true", help="Delete a previously generated dataset first.")

    def handle(self, *args: Any, **options: Any) -> None:
        conversations, organizations = options["conversations"], options["organizations"]
        users, teams = options["users"], options["teams"]
        messages = options["messages"] or conversations * MESSAGES_PER_CONVERSATION
        if organizations < 1 or conversations < organizations or messages < conversations:
            raise CommandError("Need at least one organization, one conversation each, one message per conversation.")
        if users < 5 * organizations or teams < organizations:
            raise CommandError("Need at least five people and one team per organization.")
        started = time.monotonic()
        weights = [ORG_WEIGHTS[min(i, len(ORG_WEIGHTS) - 1)] for i in range(organizations)]
        conversation_shares = split(conversations, weights, minimum=1)
        user_shares = split(users, weights, minimum=5)
        team_shares = split(teams, weights, minimum=1)
        now = timezone.now()
        generator = Generator(random.Random(options["seed"]), now)
        with transaction.atomic():
            if dataset_organizations().exists():
                if not options["reset"]:
                    raise CommandError("A generated dataset already exists; pass --reset to replace it.")
                self.say(f"Deleted {delete_dataset()} generated organizations.")
            if skip_foreign_key_checks():
                self.say("Foreign keys are not checked row by row (the rows are consistent by construction).")
            plans = [
                generator.plan_organization(i, people=u, teams=t, conversations=c)
                for i, (c, u, t) in enumerate(zip(conversation_shares, user_shares, team_shares, strict=True))
            ]
            counts = generator.message_counts(conversations, messages)
            offset = 0
            for plan in plans:
                name = plan.organization.name

                def progress(done: int, total: int = plan.conversations, name: str = name) -> None:
                    elapsed = time.monotonic() - started
                    self.say(f"  {name}: {done:,}/{total:,} conversations ({elapsed:.0f} s)")

                self.say(f"{name}: {len(plan.people)} people, {len(plan.teams)} teams, {len(plan.accounts)} accounts")
                generator.generate(plan, counts[offset : offset + plan.conversations], progress)
                offset += plan.conversations
            self.say(f"Committing ({time.monotonic() - started:.0f} s)")
        with connection.cursor() as cursor:
            for model in Rows.FIELDS:
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        generated = time.monotonic() - started
        totals = ", ".join(f"{n:,} {name}" for name, n in generator.totals.items())
        self.say(self.style.SUCCESS(f"Generated {totals} in {generated:.1f} s."))
        self.index_for_search([plan.organization.id for plan in plans])
        self.say(f"Sign in as {plans[0].people[0].email} / {PASSWORD}.")

    def index_for_search(self, organization_ids: list[uuid.UUID]) -> None:
        """Build the search documents of the new conversations in one set-based pass: the
        per-conversation indexing task would take hours here."""
        started = time.monotonic()
        documents = search_index.rebuild(organization_ids)
        self.say(f"Indexed {documents:,} search documents in {time.monotonic() - started:.1f} s.")

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
