"""Who mail comes from and who sees it: organizations, people, teams and connected accounts."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any, ClassVar

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

AVATAR_COLORS = ["#2563eb", "#7c3aed", "#db2777", "#ea580c", "#16a34a", "#0891b2", "#ca8a04"]


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class ArchiveAssigned(models.TextChoices):
    """Preferences > Prompts > "Archiving assigned conversations"."""

    ASK = "ask", "Ask"
    ARCHIVE = "archive", "Archive only"
    ARCHIVE_AND_CLOSE = "archive_close", "Archive & close"


# Search's date ranges ("" is all time) and where a search runs from each kind of mailbox.
SEARCH_DATE_RANGES = [
    ("", "All time"),
    ("7d", "Last 7 days"),
    ("4w", "Last 4 weeks"),
    ("3m", "Last 3 months"),
    ("6m", "Last 6 months"),
    ("1y", "Last 12 months"),
]
SEARCH_DEFAULTS = {"date_range": "", "in_inbox": "all", "in_team_inbox": "all", "elsewhere": "mailbox"}


# Settings › Preferences › Composing › Undo send: how long the banner lets one take an email back.
UNDO_SEND_CHOICES = [(0, "No delay"), (5, "5 seconds"), (10, "10 seconds"), (30, "30 seconds")]


class User(AbstractBaseUser):
    """A person. One login (by email) may belong to several organizations."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    archive_assigned = models.CharField(max_length=14, choices=ArchiveAssigned.choices, default=ArchiveAssigned.ASK)
    # "Leave in Inbox" is remembered as the default for the next snooze.
    snooze_leave_in_inbox = models.BooleanField(default=False)
    # The Add people menu's "Show in their inbox", as it was last used.
    share_shows_in_inbox = models.BooleanField(default=True)
    # "Show recent searches": how many the sidebar lists; 0 turns them off (and stops recording).
    recent_searches_shown = models.PositiveSmallIntegerField(default=5)
    # The sidebar's searches, kept on the person's own row: the page has it already, so showing
    # them costs no query. [{"query", "mailbox_url"}] newest first, and
    # [{"id", "name", "query", "mailbox_url"}] by name (see conversations.search_views).
    recent_searches = models.JSONField(default=list, blank=True)
    saved_searches = models.JSONField(default=list, blank=True)
    # Settings › Search: {"date_range", "in_inbox", "in_team_inbox", "elsewhere",
    # "excluded_accounts"}; a missing key means the seed's default (SEARCH_DEFAULTS).
    search_preferences = models.JSONField(default=dict, blank=True)
    # The Activity feed's settings, per type: {"hidden": [...], "not_counted": [...]} (types
    # left out of the All view, and types that do not light the bell; see conversations.activity).
    activity_preferences = models.JSONField(default=dict, blank=True)
    # Settings › Preferences › Composing (the seed's options).
    undo_send_seconds = models.PositiveSmallIntegerField(default=5, choices=UNDO_SEND_CHOICES)
    send_and_archive_by_default = models.BooleanField(default=False)
    reply_all_includes_bcc = models.BooleanField(default=False)
    always_reply_from_default_sender = models.BooleanField(default=False)
    # Settings › Composer › "Suggest responses while typing": `#` + a term in the composer lists
    # matching canned responses (Mod+Shift+O works either way).
    suggest_responses = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def first_name(self) -> str:
        return self.display_name.split(" ")[0]

    @property
    def initials(self) -> str:
        parts = self.display_name.split()
        return "".join(part[0] for part in parts[:2]).upper() or "?"

    @property
    def avatar_color(self) -> str:
        return AVATAR_COLORS[self.id.int % len(AVATAR_COLORS)]


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    color = models.CharField(max_length=7, default="#2563eb", help_text="Left border of shared conversations.")
    created_at = models.DateTimeField(default=timezone.now)
    # The Business plan's "only admins manage responses": team and organization canned responses
    # are then created, edited and deleted by owners and admins only.
    responses_admins_only = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    GUEST = "guest", "Guest"


class MembershipQuerySet(models.QuerySet["Membership"]):
    def managers(self) -> MembershipQuerySet:
        return self.filter(role__in=[Role.OWNER, Role.ADMIN])


class Membership(models.Model):
    """A user's place in an organization and their personal options there."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # "When a conversation is closed": Keep in my Inbox (default) or Remove from my Inbox.
    remove_from_inbox_on_close = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # "Default sender": the From of a new (non-reply) draft, and the fallback for replies.
    default_sender = models.ForeignKey("Alias", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The editable profile signatures and variables read: {"custom": {key: value},
    # "phones": [{"label": "work", "number": "..."}]}; custom keys are lower case with "_" for spaces.
    profile = models.JSONField(default=dict, blank=True)
    # Status (emoji and/or message), shown wherever the avatar is, and Out of office.
    status_emoji = models.CharField(max_length=16, blank=True)
    status_message = models.CharField(max_length=200, blank=True)
    out_of_office = models.BooleanField(default=False)
    # A scheduled Out of office turns on at the start and clears itself at the end (beat).
    out_of_office_starts_at = models.DateTimeField(null=True, blank=True)
    out_of_office_ends_at = models.DateTimeField(null=True, blank=True)
    # The personal auto-responder: only while Out of office, only on the chosen personal aliases
    # (AutoResponderAlias); an empty subject answers as "Re: <subject>".
    auto_responder_enabled = models.BooleanField(default=False)
    auto_responder_subject = models.CharField(max_length=300, blank=True)
    auto_responder_body = models.TextField(blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage(self) -> bool:
        """Owners and admins manage users, teams and organization settings."""
        return self.role in (Role.OWNER, Role.ADMIN)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())

    def for_token(self, token: str) -> InvitationQuerySet:
        return self.pending().filter(token_hash=_hash_token(token))


class Invitation(models.Model):
    """An emailed invitation to join an organization; only a hash of the link's token is kept."""

    VALID_FOR = timedelta(days=14)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    teams: models.ManyToManyField = models.ManyToManyField(
        "Team", through="InvitationTeam", blank=True, related_name="+"
    )
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    def issue_token(self) -> str:
        """Set a fresh token and return it; the caller mails it and it is never readable again."""
        token = secrets.token_urlsafe(32)
        self.token_hash = _hash_token(token)
        self.expires_at = timezone.now() + self.VALID_FOR
        return token


class InvitationTeam(models.Model):
    """A team the invited person joins on accepting."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE)
    team = models.ForeignKey("Team", on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invitation", "team"], name="unique_invitation_team")]

    def __str__(self) -> str:
        return f"{self.team_id} for {self.invitation_id}"


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    emoji = models.CharField(max_length=16, blank=True)
    color = models.CharField(max_length=7, default="#2563eb")
    has_inbox = models.BooleanField(default=True, help_text="A dedicated team inbox.")
    has_chat_room = models.BooleanField(default=False)
    # How the team appears in its members' sidebars: its whole team space (inbox, tasks, room), or
    # only its team inbox.
    show_team_space = models.BooleanField(default=True)
    mention_adds_observers = models.BooleanField(default=False)
    assign_on_reply = models.BooleanField(default=True)
    reply_to_assigned_goes_to_team_inbox = models.BooleanField(default=False)
    # Analytics: after this many seconds without activity, a reused old thread counts as a new
    # conversation (None: never split).
    inactivity_period = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="unique_team_name")]

    def __str__(self) -> str:
        return f"{self.emoji} {self.name}".strip()


class TeamRole(models.TextChoices):
    ACTIVE = "active", "Active member"
    OBSERVER = "observer", "Observer"


class TeamMembership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(max_length=10, choices=TeamRole.choices, default=TeamRole.ACTIVE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_membership")]
        indexes = [models.Index(fields=["user", "organization"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class AccountKind(models.TextChoices):
    IMAP = "imap", "IMAP / SMTP"
    GMAIL = "gmail", "Gmail"
    OFFICE365 = "office365", "Office 365"
    TWILIO_SMS = "twilio_sms", "Twilio SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    CUSTOM = "custom", "Custom channel"


class DeliveryMode(models.TextChoices):
    TEAM_INBOX = "team_inbox", "Team inbox"
    INBOX = "inbox", "Members' inboxes"


class AccountStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    SYNCING = "syncing", "Syncing"
    DISCONNECTED = "disconnected", "Disconnected"


class AccountQuerySet(models.QuerySet["Account"]):
    def usable_by(self, user: User) -> AccountQuerySet:
        """Accounts the user owns or that are shared with them directly or through a team."""
        team_ids = TeamMembership.objects.filter(user=user).values("team_id")
        return self.filter(
            Q(owner=user) | Q(access__user=user) | Q(access__team__in=team_ids) | Q(team__in=team_ids)
        ).distinct()


class Account(models.Model):
    """A connected channel: an email account, a phone number, a custom channel."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="accounts")
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    description = models.CharField(max_length=120, help_text="Shown in the sidebar; accounts sort by it.")
    address = models.CharField(max_length=254, help_text="Email address, phone number or channel handle.")
    display_name = models.CharField(max_length=120, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_accounts")
    is_shared = models.BooleanField(default=False)
    delivery_mode = models.CharField(max_length=12, choices=DeliveryMode.choices, default=DeliveryMode.INBOX)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    status = models.CharField(max_length=14, choices=AccountStatus.choices, default=AccountStatus.CONNECTED)
    status_reason = models.TextField(blank=True)
    encrypted_credentials = models.BinaryField(default=bytes, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["description"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(delivery_mode="team_inbox") | Q(team__isnull=False),
                name="team_inbox_delivery_needs_team",
            ),
            models.UniqueConstraint(fields=["organization", "kind", "address"], name="unique_account_address"),
        ]

    def __str__(self) -> str:
        return f"{self.description} <{self.address}>"

    @property
    def credentials(self) -> dict[str, Any]:
        if not self.encrypted_credentials:
            return {}
        plain = Fernet(settings.ENCRYPTION_KEY.encode()).decrypt(bytes(self.encrypted_credentials))
        return json.loads(plain)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        plain = json.dumps(value).encode()
        self.encrypted_credentials = Fernet(settings.ENCRYPTION_KEY.encode()).encrypt(plain)

    @property
    def delivers_to_team_inbox(self) -> bool:
        return self.is_shared and self.delivery_mode == DeliveryMode.TEAM_INBOX and self.team_id is not None


class NewMessages(models.TextChoices):
    INBOX = "inbox", "Inbox"
    AUTO_ARCHIVE = "auto_archive", "Auto-archive"


class AccountAccess(models.Model):
    """A user or a team a shared account is shared with, and where their new messages go."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="access")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    new_messages = models.CharField(max_length=12, choices=NewMessages.choices, default=NewMessages.INBOX)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, team__isnull=True) | Q(user__isnull=True, team__isnull=False),
                name="access_is_user_or_team",
            ),
            models.UniqueConstraint(fields=["account", "user"], name="unique_account_user_access"),
            models.UniqueConstraint(fields=["account", "team"], name="unique_account_team_access"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.team} on {self.account}"


class MentionGroup(models.Model):
    """A custom @mention group of an organization, such as @design-leads or @Stockholm: set on
    people in Settings › Users (a person can be in several). Mentioning it mentions them all."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="mention_groups")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), "organization", name="unique_mention_group")]

    def __str__(self) -> str:
        return f"@{self.name}"

    @property
    def handle(self) -> str:
        return self.name.lower()


class MentionGroupMember(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(MentionGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mention_groups")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="unique_mention_group_member")]
        indexes = [models.Index(fields=["organization", "user"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class Alias(models.Model):
    """An address an account sends from. Every email account has its default address as an alias;
    several aliases may share an address and differ in description and signature (the seed's
    "mobile signature" work-around), so the address is not unique."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="aliases")
    address = models.CharField(max_length=254)
    name = models.CharField(max_length=120, blank=True, help_text="The display name recipients see.")
    description = models.CharField(
        max_length=120, blank=True, help_text="Shown in the composer's From menu only, never in outgoing mail."
    )
    is_default = models.BooleanField(default=False, help_text="The account's own address.")
    never_auto_select = models.BooleanField(default=False)
    signature = models.ForeignKey("Signature", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A custom channel's sender identity {id, name, username}: its id (address is the username,
    # or the id when it has none).
    channel_id = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "address", "description"]
        indexes = [models.Index(fields=["organization", "address"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="one_default_alias_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


class AliasShare(models.Model):
    """ "Allow others to send emails from this alias": the user may send as the alias without
    access to the account's mail; the account's owner still sees what they send."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alias", "user"], name="unique_alias_share")]

    def __str__(self) -> str:
        return f"{self.alias_id} shared with {self.user_id}"


class AliasUserSetting(models.Model):
    """A user's own name and signature on an alias (the owner and each delegated user set theirs)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="user_settings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, blank=True)
    signature = models.ForeignKey("Signature", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alias", "user"], name="unique_alias_user_setting")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.alias_id}"


class SignatureFormat(models.TextChoices):
    RICH = "rich", "Rich text"
    HTML = "html", "HTML"


class SignatureInsert(models.TextChoices):
    ALL = "all", "All emails"
    FIRST = "first", "First email sent"
    FIRST_THEN_ALTERNATIVE = "first_then_alternative", "First email sent, then the following signature"


class Signature(models.Model):
    """A personal signature (`owner` set) or an organization (managed) one (`owner` null, edited
    by owners and admins only). The body is a Liquid template rendered per sender at send time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="signatures")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="signatures"
    )
    name = models.CharField(max_length=120)
    format = models.CharField(max_length=4, choices=SignatureFormat.choices, default=SignatureFormat.RICH)
    body = models.TextField(blank=True)
    insert_in = models.CharField(max_length=24, choices=SignatureInsert.choices, default=SignatureInsert.ALL)
    # Rich text only: the shorter signature replies get with FIRST_THEN_ALTERNATIVE.
    alternative_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["organization", "owner"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_managed(self) -> bool:
        return self.owner_id is None


class AutoResponderAlias(models.Model):
    """A personal alias the user's Out of office auto-responder answers on."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "alias"], name="unique_auto_responder_alias")]

    def __str__(self) -> str:
        return f"{self.user_id} answers on {self.alias_id}"
