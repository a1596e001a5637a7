"""Conversations, their messages and attachments, and each user's state of each conversation."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from inboxes.models import Account, Alias, Organization, Signature, Team, User


class ConversationKind(models.TextChoices):
    THREAD = "thread", "Thread"
    CHAT = "chat", "Chat"
    TEAM_ROOM = "team_room", "Team room"
    ORG_ROOM = "org_room", "Organization room"
    DIRECT = "direct", "Direct chat"
    # A standalone task: a conversation that is only a task (no messages, no account).
    TASK = "task", "Task"


class Status(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class TaskStatus(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    CLOSED = "closed", "Closed"


class LabelVisibility(models.TextChoices):
    """Settings › Labels › "Label is visible to": who sees, applies and removes an organization label."""

    EVERYONE = "everyone", "Everyone in the organization"
    RESTRICTED = "restricted", "Admins and auto-shared users"


class LabelQuerySet(models.QuerySet["Label"]):
    def visible_to(self, user: User) -> LabelQuerySet:
        """Labels the user may see and apply: their own personal labels, and the organization
        labels of their organizations that are visible to everyone, or to them as an owner or
        admin or an auto-shared user (directly or through a team). Reads the person's
        memberships first (labels_visible_to_user_q)."""
        from conversations.labels import labels_visible_to_user_q

        return self.filter(labels_visible_to_user_q(user.id))


class Label(models.Model):
    """A label: an organization label (Missive-only, never synced to a provider), or with an
    `owner` a personal label only that person sees. "Parent/Child" nests."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=80)
    color = models.CharField(max_length=7, default="#64748b")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    # Set for a personal label: visible to this person only, and applying it never shares.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="personal_labels"
    )
    emoji = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=300, blank=True)
    visibility = models.CharField(max_length=10, choices=LabelVisibility.choices, default=LabelVisibility.EVERYONE)
    auto_share_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="LabelAutoShareUser", blank=True, related_name="+"
    )
    auto_share_teams = models.ManyToManyField(Team, through="LabelAutoShareTeam", blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = LabelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # Sibling names are unique whatever their case, among the organization's labels or
            # among one person's personal labels (top-level ones included: NULLS NOT DISTINCT).
            models.UniqueConstraint(
                "organization",
                "owner",
                "parent",
                Lower("name"),
                nulls_distinct=False,
                name="unique_label",
            )
        ]
        indexes = [models.Index(fields=["organization", "owner"], name="label_org_owner")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_personal(self) -> bool:
        return self.owner_id is not None


class Conversation(models.Model):
    """A thread of external messages, internal chat and events, shared by everyone with access.

    Fields below `last_activity_at` are denormalised for the conversation list, so a mailbox page
    is one indexed query with no per-row lookups.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="conversations")
    kind = models.CharField(max_length=10, choices=ConversationKind.choices, default=ConversationKind.THREAD)
    subject = models.CharField(max_length=500, blank=True)
    # Renamed by hand (not an email's subject): decides which subject a merge keeps.
    subject_is_custom = models.BooleanField(default=False)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    # True exactly when the conversation waits in its team's inbox: see actions.refresh_team_inbox.
    in_team_inbox = models.BooleanField(default=False)
    # Somebody is assigned (an Assignment row exists), kept with in_team_inbox by
    # refresh_team_inbox, so a team's Assigned list reads one index.
    assigned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    preview = models.CharField(max_length=300, blank=True)
    participants = models.JSONField(default=list, help_text="[{name, address}] for the list row.")
    message_count = models.PositiveIntegerField(default=0)
    has_attachments = models.BooleanField(default=False)
    has_outbound = models.BooleanField(default=False)
    is_shared = models.BooleanField(default=False)
    is_spam = models.BooleanField(default=False)
    # "Snooze for everyone": every participant is reminded, and the conversation waits outside
    # the team inbox until then.
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snooze_discard_if_reply = models.BooleanField(default=False)
    labels = models.ManyToManyField(Label, through="ConversationLabel", related_name="conversations")
    # The conversation as a task (task_actions.py): open is To do or In progress, closed is Closed.
    in_progress = models.BooleanField(default=False)
    due_date = models.DateField(null=True, blank=True)
    # The due date a reminder was sent for: a moved due date is reminded again.
    due_reminded_for = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)
    # A color mark in the lists (#rrggbb), set by the rules' "Set conversation color"; "" for none.
    color = models.CharField(max_length=7, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["due_date"], condition=Q(due_date__isnull=False, status="open"), name="conversation_due"
            ),
            models.Index(
                fields=["organization", "team", "-last_activity_at"],
                condition=Q(in_team_inbox=True),
                name="conversation_team_inbox",
            ),
            models.Index(fields=["organization", "team", "-last_activity_at"], name="conversation_team_all"),
            models.Index(
                fields=["organization", "team", "-last_activity_at"],
                condition=Q(assigned=True, status="open"),
                name="conversation_team_assigned",
            ),
            models.Index(
                fields=["snoozed_until"], condition=Q(snoozed_until__isnull=False), name="conversation_snoozed"
            ),
        ]

    def __str__(self) -> str:
        return self.subject or "(no subject)"

    @property
    def is_room(self) -> bool:
        return self.kind in ROOM_KINDS

    @property
    def is_room_turned_off(self) -> bool:
        """A team's room after its Chat room option was set to No: kept, out of the sidebar, read-only."""
        return self.kind == ConversationKind.TEAM_ROOM and not (self.team and self.team.has_chat_room)

    @property
    def display_subject(self) -> str:
        return self.subject or "(no subject)"

    @property
    def task_status(self) -> str:
        """To do, In progress or Closed: the conversation's own status seen as a task's."""
        if self.status == Status.CLOSED:
            return TaskStatus.CLOSED
        return TaskStatus.IN_PROGRESS if self.in_progress else TaskStatus.TODO

    def get_task_status_display(self) -> str:
        return str(TaskStatus(self.task_status).label)

    @property
    def participant_names(self) -> str:
        names = [p.get("name") or p.get("address", "") for p in self.participants]
        return ", ".join(name for name in names if name) or "(no participants)"


class ConversationLabel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    label = models.ForeignKey(Label, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "label"], name="unique_conversation_label")]
        indexes = [models.Index(fields=["label", "conversation"])]

    def __str__(self) -> str:
        return f"{self.label_id} on {self.conversation_id}"


class LabelAutoShareUser(models.Model):
    """Applying the label gives this person access to the conversation (Auto-shared users)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="auto_share_user_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["label", "user"], name="unique_label_auto_share_user")]
        indexes = [models.Index(fields=["user", "label"])]

    def __str__(self) -> str:
        return f"{self.label_id} shares with {self.user_id}"


class LabelAutoShareTeam(models.Model):
    """Applying the label gives every member of this team access to the conversation."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="auto_share_team_rows")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["label", "team"], name="unique_label_auto_share_team")]
        indexes = [models.Index(fields=["team", "label"])]

    def __str__(self) -> str:
        return f"{self.label_id} shares with team {self.team_id}"


class LabelPreference(models.Model):
    """One person's use of one label: the label menu lists their recently used labels first."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="+")
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "label"], name="unique_label_preference")]
        indexes = [models.Index(fields=["user", "organization", "-last_used_at"], name="label_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} used {self.label_id}"


class Assignment(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="unique_assignment")]
        indexes = [models.Index(fields=["organization", "user"])]

    def __str__(self) -> str:
        return f"{self.user} on {self.conversation_id}"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"


class Message(models.Model):
    """An external message (email, SMS, ...) in a conversation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    from_name = models.CharField(max_length=200, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    # Outgoing only: never a header of the sent mail, kept so the sender sees whom it went to.
    bcc = models.JSONField(default=list, blank=True)
    # The Reply-To header: a reply goes there rather than to the sender.
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    rfc_message_id = models.CharField(max_length=500, blank=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    references = models.TextField(blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The original bytes, stored before parsing, for download and for re-parsing.
    raw_file = models.FileField(upload_to="raw/%Y/%m/", blank=True, max_length=300)
    size = models.PositiveIntegerField(default=0)
    # Set when the bytes could not be parsed: the message is kept and shown raw.
    parse_error = models.TextField(blank=True)
    is_auto_reply = models.BooleanField(default=False)
    is_bulk = models.BooleanField(default=False)
    has_read_trackers = models.BooleanField(default=False)
    # Non-email channels: the provider's id of the message (Twilio's MessageSid, a custom channel's
    # external_id). Unique per account, so a webhook or API call that is retried stores nothing twice.
    external_id = models.CharField(max_length=255, blank=True)
    # What the provider last reported for an outgoing message (Twilio status callbacks), and its
    # error in its own words.
    delivery_status = models.CharField(max_length=12, choices=DeliveryStatus.choices, blank=True)
    delivery_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "sent_at"]),
            models.Index(fields=["organization", "rfc_message_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], condition=~Q(external_id=""), name="unique_message_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.subject or "(no subject)"

    @property
    def sender_label(self) -> str:
        return self.from_name or self.from_address


class ThreadKey(models.Model):
    """A string that threads non-email messages into a conversation: an SMS pair key
    ("+1222333444+1555666777"), a custom channel's references and external ids. Email threads by
    Message-ID instead. Several conversations may hold one key; the newest wins (first match)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="thread_keys")
    key = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "key"])]
        constraints = [models.UniqueConstraint(fields=["conversation", "key"], name="unique_thread_key")]

    def __str__(self) -> str:
        return self.key


class Comment(models.Model):
    """A message of the internal chat of a conversation: seen by everyone with access, never sent out."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # The description of the rule that wrote it (its "Add note", an AI note): the timeline shows
    # "Rule <description>", whoever the comment was posted as.
    by_rule = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return self.body[:50]


class CommentReaction(models.Model):
    """An emoji a teammate put on a comment (hover → emoji). Only the Activity feed tells its author."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comment", "user", "emoji"], name="unique_reaction")]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.comment_id}"


def comment_file_path(instance: CommentAttachment, filename: str) -> str:
    """Stored under a name of ours: the uploaded name is only ever shown (escaped), never a path."""
    return f"comment-files/{instance.organization_id}/{instance.id}"


class CommentAttachment(models.Model):
    """A file attached to a comment (the chat box's clip button, paste or drop). Stored like
    message attachments, served only as a download behind an access check, and deleted from
    storage with its comment (see comment_files)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255)
    # Checked from the file's first bytes for images (the only type shown inline), else the
    # browser's claim, which is only ever informative: downloads go out as octet-stream.
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to=comment_file_path, max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "filename"]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")


class CommentQuote(models.Model):
    """What a comment quotes: another comment or a message, of this conversation or another one
    (seed: quote or reply to a comment in another conversation, with a link to the original).
    The quoted words are copied: the quote reads the same after the original is edited or gone."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    comment = models.OneToOneField(Comment, on_delete=models.CASCADE, related_name="quote")
    source_conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=200)
    excerpt = models.TextField()
    quoted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"quote in {self.comment_id}"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    content_id = models.CharField(max_length=255, blank=True)
    is_inline = models.BooleanField(default=False)
    file = models.FileField(upload_to="attachments/%Y/%m/", blank=True, max_length=300)

    def __str__(self) -> str:
        return self.filename


class BlockedSender(models.Model):
    """A blocked address or domain: its future mail goes straight to Spam.

    Blocks made on conversations of the organization stay with the organization when the person
    who made them leaves (`user` null); personal ones belong to their maker."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    address = models.CharField(max_length=254, blank=True, help_text="One sender, lower case.")
    domain = models.CharField(max_length=254, blank=True, help_text="A whole domain, lower case.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(address="") & ~Q(domain="")) | (~Q(address="") & Q(domain="")),
                name="block_is_address_or_domain",
            )
        ]
        indexes = [models.Index(fields=["organization", "address"]), models.Index(fields=["organization", "domain"])]

    def __str__(self) -> str:
        return self.address or f"@{self.domain}"


class Location(models.TextChoices):
    """Where a conversation sits for one user (the placement of the state machine)."""

    INBOX = "inbox", "Inbox"
    # Has access but the conversation was never placed in this user's Inbox (e.g. it reached them
    # through a team inbox or a shared account on auto-archive). Listed in All, not in Archive.
    NONE = "none", "Not in Inbox"
    ARCHIVED = "archived", "Archived"
    SNOOZED = "snoozed", "Snoozed"
    TRASHED = "trashed", "Trash"
    SPAM = "spam", "Spam"


VISIBLE_IN_ALL = [Location.INBOX, Location.NONE, Location.ARCHIVED, Location.SNOOZED]
# A team inbox as one member sees it: their own snooze hides it there too, as in their Inbox.
VISIBLE_IN_TEAM_INBOX = [Location.INBOX, Location.NONE, Location.ARCHIVED]


class AccessSource(models.TextChoices):
    ACCOUNT = "account", "Account"
    TEAM = "team", "Team"
    MENTION = "mention", "Mention"
    ADDED = "added", "Added"
    ASSIGNMENT = "assignment", "Assignment"
    CREATOR = "creator", "Creator"
    ROOM = "room", "Room"
    LABEL = "label", "Label auto-share"


class ConversationStateQuerySet(models.QuerySet["ConversationState"]):
    def for_user(self, user: User) -> ConversationStateQuerySet:
        return self.filter(user=user)

    def in_all(self) -> ConversationStateQuerySet:
        return self.filter(location__in=VISIBLE_IN_ALL)


class ConversationState(models.Model):
    """One user's state of one conversation. A row exists exactly when the user has access.

    `last_activity_at` copies the conversation's so mailbox lists sort on this table's index.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="states")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_states")
    access_source = models.CharField(max_length=12, choices=AccessSource.choices)
    location = models.CharField(max_length=10, choices=Location.choices, default=Location.NONE)
    unread = models.BooleanField(default=False)
    watching = models.BooleanField(default=False)
    starred = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snooze_leave_in_inbox = models.BooleanField(default=False)
    snooze_discard_if_reply = models.BooleanField(default=False)
    # The snooze came due: the row shows orange ("ready for follow-up") until handled.
    snooze_due = models.BooleanField(default=False)
    # "Silence notifications" (a rule action): no Activity feed item about this conversation
    # reaches the user, except a mention of them by name (activity.record_activity).
    silenced = models.BooleanField(default=False)
    # Where "restore from Trash" puts the conversation back.
    location_before_trash = models.CharField(max_length=10, choices=Location.choices, blank=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    last_read_at = models.DateTimeField(null=True, blank=True)
    # The user is an assignee (an Assignment row exists): kept by the assign and unassign
    # actions so that "Assigned to me" reads one index instead of checking assignments per row.
    assigned = models.BooleanField(default=False)
    # Copies of the conversation's status and team inbox, so the sidebar counts and "Assigned to
    # me" read this table's partial indexes alone. The database keeps them (the triggers of
    # migration 0012): whatever code changes a conversation, its states follow in the same
    # statement, and a state's own values are recomputed whenever it is written.
    conversation_open = models.BooleanField(default=True, editable=False)
    team_inbox = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        editable=False,
        # The conversation's own team reference holds the constraint; this one only follows it.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="The team whose inbox shows the conversation.",
    )

    objects = ConversationStateQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="unique_state")]
        indexes = [
            # Lists order by (-last_activity_at, -id): with the id in the index too, a page is the
            # index's next 51 entries, not a sort of every row sharing the page's last times.
            models.Index(fields=["user", "location", "-last_activity_at", "-id"], name="state_mailbox"),
            models.Index(
                fields=["user", "-last_activity_at", "-id"],
                condition=Q(location__in=VISIBLE_IN_ALL),
                name="state_all",
            ),
            models.Index(fields=["user", "location"], condition=Q(unread=True), name="state_unread"),
            models.Index(fields=["organization", "user"], name="state_org_user"),
            models.Index(fields=["snoozed_until"], condition=Q(snoozed_until__isnull=False), name="state_snoozed"),
            models.Index(fields=["user", "-last_activity_at"], condition=Q(pinned=True), name="state_pinned"),
            models.Index(
                fields=["user", "-last_activity_at", "-id"],
                condition=Q(assigned=True, conversation_open=True),
                name="state_assigned_open",
            ),
            models.Index(
                fields=["user", "team_inbox"],
                condition=Q(unread=True, team_inbox__isnull=False, location__in=VISIBLE_IN_TEAM_INBOX),
                name="state_team_inbox_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.location} {self.conversation_id}"

    @property
    def is_archived(self) -> bool:
        """Shown as a greyed avatar to teammates."""
        return self.location == Location.ARCHIVED


class EventKind(models.TextChoices):
    CREATED = "created", "created the conversation"
    ASSIGNED = "assigned", "assigned"
    UNASSIGNED = "unassigned", "unassigned"
    CLOSED = "closed", "closed the conversation"
    REOPENED = "reopened", "reopened the conversation"
    MOVED_TO_TEAM = "moved_to_team", "moved the conversation to"
    SHARED = "shared", "shared the conversation with"
    ACCESS_REMOVED = "access_removed", "removed the access of"
    ARCHIVED = "archived", "archived the conversation"
    ARCHIVED_FOR_TEAM = "archived_team", "archived the conversation from"
    TRASHED = "trashed", "moved the conversation to Trash"
    TRASHED_FOR_EVERYONE = "trashed_all", "moved the conversation to Trash for everyone"
    RESTORED = "restored", "restored the conversation from Trash"
    SNOOZED = "snoozed", "snoozed the conversation until"
    SNOOZED_FOR_EVERYONE = "snoozed_all", "snoozed the conversation for everyone until"
    UNSNOOZED = "unsnoozed", "discarded the snooze"
    SNOOZE_DUE = "snooze_due", "The snooze came due"
    SPAM = "spam", "marked the conversation as spam"
    NOT_SPAM = "not_spam", "marked the conversation as not spam"
    MARKED_READ = "marked_read", "marked the conversation as read"
    MARKED_UNREAD = "marked_unread", "marked the conversation as unread"
    STARRED = "starred", "starred the conversation"
    UNSTARRED = "unstarred", "unstarred the conversation"
    PINNED = "pinned", "pinned the conversation"
    UNPINNED = "unpinned", "unpinned the conversation"
    TASK_CREATED = "task_created", "created the task"
    TASK_ASSIGNED = "task_assigned", "assigned"
    TASK_UNASSIGNED = "task_unassigned", "unassigned"
    TASK_STATUS = "task_status", "marked"
    TASK_DUE = "task_due", "set the due date of"
    TASK_DUE_REMOVED = "task_due_removed", "removed the due date of"
    TASK_REMINDER = "task_reminder", "Task due:"
    TASK_REMOVED = "task_removed", "removed the task"
    LABELED = "labeled", "added the label"
    UNLABELED = "unlabeled", "removed the label"
    MERGED = "merged", "merged in"
    EMAIL_MOVED_OUT = "email_moved_out", "moved an email to"
    EMAIL_MOVED_IN = "email_moved_in", "moved this email here from"
    DRAFT_DISCARDED = "draft_discarded", "discarded a draft"
    DRAFT_RESTORED = "draft_restored", "restored a draft"
    SEND_FAILED = "send_failed", "An email could not be sent:"
    TEAM_REMOVED = "team_removed", "took the conversation out of"
    COLOR_SET = "color_set", "set the conversation color to"


# Events about one person's own view of a conversation: shown to that person only.
PRIVATE_EVENT_KINDS = {
    EventKind.ARCHIVED,
    EventKind.TRASHED,
    EventKind.RESTORED,
    EventKind.SNOOZED,
    EventKind.UNSNOOZED,
    EventKind.MARKED_READ,
    EventKind.MARKED_UNREAD,
    EventKind.STARRED,
    EventKind.UNSTARRED,
    EventKind.PINNED,
    EventKind.UNPINNED,
    EventKind.SPAM,
    EventKind.NOT_SPAM,
}


class ConversationEvent(models.Model):
    """Something that happened to a conversation, shown inline in its timeline."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set for events about the actor's own view (PRIVATE_EVENT_KINDS): only they see it.
    private_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on {self.conversation_id}"

    @property
    def text(self) -> str:
        """ "Anna assigned Ben"; a snooze's time is shown by the template from `until`."""
        if self.kind == EventKind.SNOOZE_DUE:
            return str(self.get_kind_display())
        if self.kind == EventKind.TASK_REMINDER:
            return f"{self.get_kind_display()} {self.data.get('target', '')}"
        actor = self.actor.display_name if self.actor else "Missive"
        if self.data.get("rule"):  # written by a rule (rules.engine attributes its events)
            actor = f"Rule {self.data['rule']}"
        target = "" if self.until else self.data.get("target", "")
        return f"{actor} {self.get_kind_display()} {target}".strip()

    @property
    def until(self) -> datetime | None:
        value = self.data.get("until")
        return datetime.fromisoformat(value) if value else None


# The PostgreSQL text search configuration of search documents and queries: English stemming
# with accents removed (migration 0008 creates it; "résumé" finds "resume").
SEARCH_CONFIG = "missive_search"


class SearchDocument(models.Model):
    """What search reads for one conversation, rebuilt by search_index from its messages,
    comments and attachments. Kept out of Conversation so that triage updates, which rewrite
    conversation rows, never touch the search indexes."""

    conversation = models.OneToOneField(
        Conversation, primary_key=True, on_delete=models.CASCADE, related_name="search_document"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # Weighted: A subject, B participants, C attachment names, D bodies and comments.
    document = SearchVectorField()
    # The text the snippets are cut from (capped, see search_index.CONTENT_LIMIT).
    content = models.TextField()
    # "name <address>" lists in lower case without accents, for from:/to:/cc:/filename: and
    # partial addresses (trigram indexed, so `LIKE '%acme%'` is an index scan); the subject the
    # same way, for words found inside longer ones ("voice" in "Invoice").
    subject = models.TextField(default="")
    senders = models.TextField()
    recipients = models.TextField()
    copied = models.TextField()
    filenames = models.TextField()
    indexed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            GinIndex(fields=["document"], name="search_document"),
            GinIndex(fields=["subject"], opclasses=["gin_trgm_ops"], name="search_subject"),
            GinIndex(fields=["senders"], opclasses=["gin_trgm_ops"], name="search_senders"),
            GinIndex(fields=["recipients"], opclasses=["gin_trgm_ops"], name="search_recipients"),
            GinIndex(fields=["copied"], opclasses=["gin_trgm_ops"], name="search_copied"),
            GinIndex(fields=["filenames"], opclasses=["gin_trgm_ops"], name="search_filenames"),
        ]

    def __str__(self) -> str:
        return f"search document of {self.conversation_id}"


class SearchBacklog(models.Model):
    """A conversation whose search document is out of date. Written in the transaction that
    changed the conversation, so a lost task or a crashed worker delays indexing, never skips it."""

    conversation = models.OneToOneField(Conversation, primary_key=True, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    queued_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"reindex {self.conversation_id}"


class ActivityKind(models.TextChoices):
    """What an Activity feed item tells its recipient (see conversations.activity)."""

    MENTION = "mention", "Mention"
    REACTION = "reaction", "Reaction"
    ASSIGNED = "assigned", "Assignment"
    SNOOZE_DUE = "snooze_due", "Snooze reminder"
    # Recorded by the tasks of conversations, through activity.record_activity.
    TASK_ASSIGNED = "task_assigned", "Task assigned"
    TASK_CHANGED = "task_changed", "Task changed"
    TASK_REMINDER = "task_reminder", "Task reminder"


class ActivityItem(models.Model):
    """One notification in one person's Activity feed: who did what, in which conversation.

    Read when the person opens the feed (`read_at`); deleted after 30 days (activity.RETENTION)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The feed and the unread dot read the composite indexes below, which lead with these.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    # A deleted comment takes its mention and its reactions out of the feed.
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # What the item shows without reading other rows: {"excerpt"}, a reaction group's
    # {"reactions": [{"user_id", "name", "emoji"}]}, a reminder's {"until"}, a task's {"title", "due_at"}.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "recipient", "-created_at"], name="activity_feed"),
            models.Index(
                fields=["organization", "recipient", "kind"], condition=Q(read_at__isnull=True), name="activity_unread"
            ),
            models.Index(fields=["created_at"], name="activity_retention"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id} on {self.conversation_id}"


class Subtask(models.Model):
    """A task inside a conversation (from a comment, `[ ]` lines, or the Tasks panel), with its
    own status, assignees, team and due date. Conversation tasks and standalone tasks are the
    conversation itself (Conversation.task_status)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="subtasks")
    # The comment it was made from; deleting the comment keeps the task.
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="subtasks")
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=11, choices=TaskStatus.choices, default=TaskStatus.TODO)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="subtasks")
    due_date = models.DateField(null=True, blank=True)
    due_reminded_for = models.DateField(null=True, blank=True)
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, through="SubtaskAssignee", related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["organization", "team"], condition=Q(team__isnull=False), name="subtask_team"),
            models.Index(
                fields=["due_date"], condition=~Q(status="closed") & Q(due_date__isnull=False), name="subtask_due"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def task_status(self) -> str:
        return self.status

    def get_task_status_display(self) -> str:
        return self.get_status_display()


class SubtaskAssignee(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subtask = models.ForeignKey(Subtask, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subtask_assignments")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subtask", "user"], name="unique_subtask_assignee")]
        indexes = [models.Index(fields=["organization", "user"])]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.subtask_id}"


ROOM_KINDS = [ConversationKind.TEAM_ROOM, ConversationKind.ORG_ROOM, ConversationKind.DIRECT]


class Room(models.Model):
    """What makes a conversation a chat room, and whose room it is: the organization's (one per
    organization), a team's (one per team), or two coworkers' (one per pair, `user_low` holding
    the smaller id). The constraints keep them single even when two people open one at once."""

    conversation = models.OneToOneField(Conversation, primary_key=True, on_delete=models.CASCADE, related_name="room")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ConversationKind.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(kind=ConversationKind.ORG_ROOM), name="one_organization_room"
            ),
            models.UniqueConstraint(
                fields=["team"], condition=Q(kind=ConversationKind.TEAM_ROOM), name="one_team_room"
            ),
            models.UniqueConstraint(
                fields=["organization", "user_low", "user_high"],
                condition=Q(kind=ConversationKind.DIRECT),
                name="one_direct_room_per_pair",
            ),
            models.CheckConstraint(
                condition=~Q(kind=ConversationKind.DIRECT) | Q(user_low__lt=models.F("user_high")),
                name="direct_room_pair_sorted",
            ),
            models.CheckConstraint(
                condition=~Q(kind=ConversationKind.TEAM_ROOM) | Q(team__isnull=False), name="team_room_has_team"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.conversation_id}"


class ConversationRedirect(models.Model):
    """What is left of a conversation merged into another: opening its old address leads to
    `conversation`. Redirects to a conversation that is merged in turn follow it (merge.py)."""

    old_id = models.UUIDField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="redirects")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.old_id} -> {self.conversation_id}"


class DraftKind(models.TextChoices):
    NEW = "new", "New email"
    REPLY = "reply", "Reply"
    REPLY_ALL = "reply_all", "Reply all"
    FORWARD = "forward", "Forward"


class DraftStatus(models.TextChoices):
    EDITING = "editing", "Editing"
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    DISCARDED = "discarded", "Discarded"


class SendAction(models.TextChoices):
    """What happens to the conversation once the draft is sent (the Send menu)."""

    SEND = "send", "Send"
    ARCHIVE = "archive", "Send & archive"
    CLOSE = "close", "Send & close"
    SNOOZE = "snooze", "Send & snooze"


class SignatureChoice(models.TextChoices):
    DEFAULT = "default", "From the alias"
    NONE = "none", "No signature"
    CHOSEN = "chosen", "Chosen for this draft"


class Draft(models.Model):
    """An email being written. Every draft belongs to a conversation: a reply to the one it answers
    (seen by everyone with access), a New email to a conversation of its own that only its
    creator can see until shared. Drafts never sync with the provider.

    The text is co-written: `ydoc` holds the CRDT document (Yjs update format, merged with pycrdt)
    and `body_html` the last rendering of it the editors saved, which is what is sent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="drafts")
    kind = models.CharField(max_length=10, choices=DraftKind.choices, default=DraftKind.REPLY)
    # The message a reply or forward answers: its threading headers and quoted text come from it.
    replying_to = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    alias = models.ForeignKey(Alias, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body_html = models.TextField(blank=True)
    ydoc = models.BinaryField(default=bytes, editable=False)
    signature_choice = models.CharField(max_length=8, choices=SignatureChoice.choices, default=SignatureChoice.DEFAULT)
    signature = models.ForeignKey(Signature, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=DraftStatus.choices, default=DraftStatus.EDITING)
    # Send later: sent by beat at this time; discarded first if a reply arrives and asked so.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    discard_if_reply = models.BooleanField(default=False)
    send_action = models.CharField(max_length=8, choices=SendAction.choices, default=SendAction.SEND)
    snooze_until = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="from_draft"
    )
    # A WhatsApp template (POST /v1/drafts): the provider's template id and its variables.
    external_response_id = models.CharField(max_length=200, blank=True)
    external_response_variables = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["conversation", "status"]),
            models.Index(fields=["organization", "status", "updated_at"]),
            models.Index(fields=["scheduled_at"], condition=Q(status="scheduled"), name="draft_scheduled_due"),
        ]

    def __str__(self) -> str:
        return self.subject or "(no subject)"


def draft_file_path(instance: DraftAttachment, filename: str) -> str:
    return f"drafts/{instance.organization_id}/{uuid.uuid4().hex}"


class DraftAttachment(models.Model):
    """A file on a draft: uploaded, dropped, carried over by a forward or a canned response.
    Inline images (`is_inline`) are referenced from the body as cid:<content_id>."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    is_inline = models.BooleanField(default=False)
    content_id = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to=draft_file_path, max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "filename"]

    def __str__(self) -> str:
        return self.filename


class OutboxStatus(models.TextChoices):
    # Waiting for its time (the undo-send delay, or a send-later time): undo still cancels it.
    PENDING = "pending", "Pending"
    # A dispatcher claimed it and is talking to the server, before the message data was handed over.
    SENDING = "sending", "Sending"
    # The message data is being handed over: from here a crash leaves it unknown whether it went,
    # so it is never retried by itself (see channels_app/outbox.py).
    TRANSMITTING = "transmitting", "Transmitting"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class OutboxMessage(models.Model):
    """A message to send, written with the Message in one transaction. The dispatcher
    (channels_app/outbox.py) claims due rows, sends them through the account's transport and
    records the result; a row is never sent twice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbox")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    send_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Who holds the row while SENDING/TRANSMITTING, and until when: a lapsed lease means the
    # dispatcher died (see the reaper).
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The provider's Sent folder got its copy (IMAP APPEND), tried again on its own.
    appended_to_sent = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["send_after"], condition=Q(status="pending"), name="outbox_due"),
            models.Index(
                fields=["lease_until"], condition=Q(status__in=["sending", "transmitting"]), name="outbox_leased"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.status})"


class CannedScope(models.TextChoices):
    PERSONAL = "personal", "Personal"
    TEAM = "team", "Team"
    ORGANIZATION = "organization", "Organization"


class CannedResponse(models.Model):
    """A reusable reply: personal (`owner`), a team's, or the organization's. Subject and body
    are Liquid templates; variables that match no data become fields to fill in on insertion."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=12, choices=CannedScope.choices, default=CannedScope.PERSONAL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    labels = models.ManyToManyField(Label, through="CannedResponseLabel", related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Set by an integration through the API (rest-api.md §4.25): a create that names a pair this
    # organization (or, for a personal response, this person) already has returns that response.
    external_id = models.CharField(max_length=255, blank=True)
    external_source = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["organization", "scope"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="personal") & Q(owner__isnull=False) & Q(team__isnull=True))
                | (Q(scope="team") & Q(team__isnull=False) & Q(owner__isnull=True))
                | (Q(scope="organization") & Q(owner__isnull=True) & Q(team__isnull=True)),
                name="canned_response_scope_fields",
            )
        ]

    def __str__(self) -> str:
        return self.title


class CannedResponseLabel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    response = models.ForeignKey(CannedResponse, on_delete=models.CASCADE)
    label = models.ForeignKey(Label, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["response", "label"], name="unique_canned_response_label")]

    def __str__(self) -> str:
        return f"{self.label_id} on {self.response_id}"


def canned_file_path(instance: CannedResponseAttachment, filename: str) -> str:
    return f"responses/{instance.organization_id}/{uuid.uuid4().hex}"


class CannedResponseAttachment(models.Model):
    """A file of a canned response, copied onto the draft it is inserted into."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    response = models.ForeignKey(CannedResponse, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    is_inline = models.BooleanField(default=False)
    content_id = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to=canned_file_path, max_length=300)

    class Meta:
        ordering = ["filename"]

    def __str__(self) -> str:
        return self.filename


class AutoReplyLog(models.Model):
    """When an Out of office auto-response last went from an alias address to a sender: at most
    one per 24 hours per pair, across conversations (the seed's throttle)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    alias_address = models.CharField(max_length=254)
    sender_address = models.CharField(max_length=254)
    last_sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "alias_address", "sender_address"], name="unique_auto_reply_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.alias_address} → {self.sender_address}"


class Post(models.Model):
    """An integration's entry in a conversation (POST /v1/posts): text or Markdown and cards
    (`attachments`: the spec's PostAttachment objects), shown in the timeline under `username`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=200, blank=True)
    username_icon = models.URLField(max_length=1000, blank=True)
    text = models.TextField(blank=True)
    markdown = models.TextField(blank=True)
    notification_title = models.CharField(max_length=500, blank=True)
    notification_body = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return self.username or self.notification_title or str(self.id)
