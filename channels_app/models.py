"""Transport-side records: what each channel fetched from where, so nothing is handled twice."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from conversations.models import Message
from inboxes.models import Account, Organization


class Security(models.TextChoices):
    SSL = "ssl", "SSL/TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None"


class ImapConfig(models.Model):
    """Server settings of an IMAP/SMTP account. The passwords live encrypted in
    Account.credentials ({"imap_password": ..., "smtp_password": ...})."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="imap")
    imap_host = models.CharField(max_length=255)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=8, choices=Security.choices, default=Security.SSL)
    imap_username = models.CharField(max_length=255)
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(max_length=8, choices=Security.choices, default=Security.STARTTLS)
    smtp_username = models.CharField(max_length=255, blank=True)
    # None imports all history; otherwise messages newer than this many days.
    history_days = models.PositiveIntegerField(null=True, blank=True, default=30)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Since when connecting fails; past the grace period the account is marked disconnected.
    failing_since = models.DateTimeField(null=True, blank=True)
    failure_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    supports_idle = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.imap_username}@{self.imap_host}"


class FolderRole(models.TextChoices):
    INBOX = "inbox", "Inbox"
    ARCHIVE = "archive", "Archive"
    SENT = "sent", "Sent"
    TRASH = "trash", "Trash"
    SPAM = "spam", "Spam"
    DRAFTS = "drafts", "Drafts"
    ALL = "all", "All mail"
    NONE = "", "Other folder"


class ImapFolder(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="imap_folders")
    name = models.CharField(max_length=500, help_text="The server's folder name (decoded).")
    role = models.CharField(max_length=8, choices=FolderRole.choices, blank=True)
    # The role was picked by the owner in the Mailboxes tab rather than detected.
    role_is_manual = models.BooleanField(default=False)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    # Highest UID fetched so far in this UIDVALIDITY: the next sync asks for UIDs above it.
    last_uid = models.BigIntegerField(default=0)
    highest_modseq = models.BigIntegerField(null=True, blank=True)
    # The folder's STATUS at the end of the last sync: when UIDNEXT, MESSAGES and HIGHESTMODSEQ
    # are unchanged, nothing happened and the folder is not even selected.
    uidnext = models.BigIntegerField(null=True, blank=True)
    message_count = models.BigIntegerField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="unique_imap_folder")]

    def __str__(self) -> str:
        return self.name

    def copies(self) -> models.QuerySet[ImapMessage]:
        """Our records of the messages in this folder under its current UIDVALIDITY."""
        return ImapMessage.objects.filter(folder=self, uidvalidity=self.uidvalidity or 0)


class ImapMessageState(models.TextChoices):
    STORED = "stored", "Raw bytes stored"
    INGESTED = "ingested", "In a conversation"
    FAILED = "failed", "Failed"


class ImapMessage(models.Model):
    """One message at one place on the server. The unique key is what makes sync idempotent: a
    message is fetched once per (folder, UIDVALIDITY, UID) whatever crashes in between."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(ImapFolder, on_delete=models.CASCADE, related_name="messages")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="imap_copies")
    rfc_message_id = models.CharField(max_length=500, blank=True)
    raw_path = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=8, choices=ImapMessageState.choices, default=ImapMessageState.STORED)
    error = models.TextField(blank=True)
    # Failed deliveries are tried again on later syncs, up to sync.DELIVERY_ATTEMPTS in all.
    attempts = models.PositiveSmallIntegerField(default=0)
    seen = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["folder", "uidvalidity", "uid"], name="unique_imap_location"),
        ]
        indexes = [
            models.Index(fields=["account", "rfc_message_id"]),
            models.Index(fields=["message"]),
            models.Index(fields=["folder", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.folder} #{self.uid}"


class ApiToken(models.Model):
    """A personal API token: it acts as its user on /v1. Only a SHA-256 of it is stored; the token
    itself is shown once, when created (channels_app/api/tokens.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    # The token's first characters, so its owner can tell tokens apart in the settings.
    prefix = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class CustomMessageType(models.TextChoices):
    TEXT = "text", "Text"
    HTML = "html", "HTML"
    EMAIL = "email", "Email"


class CustomChannelConfig(models.Model):
    """The settings of a custom channel account (features-2 "Custom channels"). Its message type
    is fixed at creation; the webhook's signature secret lives in Account.credentials
    ({"signature_secret": ...}). Its aliases are its sender identities {id, name, username}:
    Alias.address is the username (else the id), Alias.name the name, Alias.channel_id the id."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="custom")
    message_type = models.CharField(max_length=5, choices=CustomMessageType.choices, editable=False)
    allow_new_messages = models.BooleanField(default=False)
    allow_replies = models.BooleanField(default=True)
    allow_edit_recipients = models.BooleanField(default=False)
    allow_recipient_id = models.BooleanField(default=True)
    allow_recipient_name = models.BooleanField(default=True)
    allow_recipient_username = models.BooleanField(default=True)
    max_recipients = models.PositiveSmallIntegerField(default=1)
    webhook_url = models.URLField(max_length=500, blank=True)
    # Incoming bubbles' colour (Text type), e.g. "#e0f2fe"; blank is the default colour.
    bubble_color = models.CharField(max_length=7, blank=True)

    def __str__(self) -> str:
        return f"{self.get_message_type_display()} channel {self.account_id}"

    @property
    def sends(self) -> bool:
        """Email-type channels are receive-only: replies go out through email accounts."""
        return self.message_type != CustomMessageType.EMAIL


class WhatsAppTemplate(models.Model):
    """An approved WhatsApp message template of a Twilio WhatsApp number (a Twilio Content
    template): the only kind of message that may go outside the 24-hour window. The body holds
    positional placeholders {{1}}, {{2}}… filled in at send time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="whatsapp_templates")
    name = models.CharField(max_length=120)
    language = models.CharField(max_length=20, default="en")
    content_sid = models.CharField(max_length=64, help_text="Twilio's Content SID, HX…")
    body = models.TextField()
    status = models.CharField(max_length=20, default="approved")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "language"]
        constraints = [models.UniqueConstraint(fields=["account", "name", "language"], name="unique_whatsapp_template")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class WhatsAppTemplateSend(models.Model):
    """A message sent as a template: the sender posts its ContentSid and variables, not its text."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    draft = models.OneToOneField("conversations.Draft", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(WhatsAppTemplate, null=True, on_delete=models.SET_NULL, related_name="+")
    # Kept here too: removing the template later does not change what a queued message sends.
    content_sid = models.CharField(max_length=64)
    # {"1": "Ada", "2": "Tuesday"}: Twilio's ContentVariables.
    variables = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.template} for {self.draft_id}"
