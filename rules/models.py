"""Rules: a trigger (rule type), an ordered condition tree and an ordered action list, and the
records that make each (rule, trigger) run exactly once (RuleRun) and wait for a later moment
(RuleTimer). Business hours for the time-based conditions live here too.

The condition tree and the action list are JSON, checked by `rules.catalog` (what exists, what each
rule type allows, which operators and values each takes):

    conditions = {"mode": "all" | "any" | "none", "items": [item, ...]}
    item       = {"field": "<condition field>", "op": "<operator>", "value": ...}
               | {"mode": ..., "items": [...]}                       (a nested group)
               | {"field": "delay", "seconds": 300}                  (a Delay checkpoint, root only)
               | {"field": "unreplied" | "unassigned", "seconds": 3600}   (SLA timers, root only)
    actions    = [{"type": "<action type>", ...its parameters}, ...]

Ids inside the JSON (users, teams, labels, accounts) are UUID strings of the rule's organization.
"""

from __future__ import annotations

import secrets
import uuid

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import models
from django.utils import timezone

from conversations.models import Conversation, Message
from inboxes.models import Organization, Team, User


class Trigger(models.TextChoices):
    INCOMING = "incoming", "Incoming message"
    OUTGOING = "outgoing", "Outgoing message"
    USER_ACTION = "user_action", "User actions"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    MESSENGER = "messenger", "Messenger"
    INSTAGRAM = "instagram", "Instagram"
    LIVE_CHAT = "live_chat", "Live Chat"
    POST = "post", "Post"


class UserAction(models.TextChoices):
    NEW_COMMENT = "new_comment", "New comment"
    LABEL_CHANGE = "label_change", "Label change"
    CLOSED = "closed", "Conversation closed"
    REOPENED = "reopened", "Conversation reopened"
    ASSIGNEE_CHANGED = "assignee_changed", "Assignee changed"
    TEAM_CHANGED = "team_changed", "Team changed"


class HoursBasis(models.TextChoices):
    """How the time-based conditions of one rule count time (one setting per rule, per the seed)."""

    WALL_CLOCK = "wall", "Wall-clock time"
    ORGANIZATION = "organization", "Organization business hours"
    TEAM = "team", "Team business hours"


class RuleQuerySet(models.QuerySet["Rule"]):
    def in_order(self) -> RuleQuerySet:
        """The seed's order: alphabetical by description, plain character by character and case
        insensitive ("10." before "2."), ties by creation."""
        return self.order_by(models.functions.Lower("description").asc(), "created_at", "id")


def new_encrypted_webhook_secret() -> bytes:
    """A fresh signing secret for a rule's webhooks, encrypted like account credentials."""
    return Fernet(settings.ENCRYPTION_KEY.encode()).encrypt(secrets.token_urlsafe(32).encode())


class Rule(models.Model):
    """An organization rule (owner empty: runs on conversations shared with the organization) or a
    personal rule (owner set: runs on that user's private conversations)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="rules")
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="personal_rules")
    description = models.CharField(max_length=200)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    # For user-action rules only: which of the six events.
    user_action = models.CharField(max_length=20, choices=UserAction.choices, blank=True)
    enabled = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, blank=True)
    hours_basis = models.CharField(max_length=12, choices=HoursBasis.choices, default=HoursBasis.WALL_CLOCK)
    hours_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # AI conditions and actions: the rule's provider model (the provider's address and key are
    # settings of the organization's AI integration).
    ai_model = models.CharField(max_length=100, blank=True)
    # "In turn" assignment: the next position per action index, {"<action index>": n}.
    turn_cursors = models.JSONField(default=dict, blank=True)
    # Webhook actions: consecutive failed deliveries; more than 50 disables the rule with a reason.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # Webhook actions sign their payload with this secret (X-Hook-Signature), kept encrypted.
    encrypted_webhook_secret = models.BinaryField(default=new_encrypted_webhook_secret, editable=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RuleQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "trigger", "channel", "enabled"])]

    def __str__(self) -> str:
        return self.description

    @property
    def is_personal(self) -> bool:
        return self.owner_id is not None

    @property
    def webhook_secret(self) -> str:
        return Fernet(settings.ENCRYPTION_KEY.encode()).decrypt(bytes(self.encrypted_webhook_secret)).decode()


class RunStatus(models.TextChoices):
    MATCHED = "matched", "Ran its actions"
    NOT_MATCHED = "not_matched", "Conditions not met"
    WAITING = "waiting", "Waiting for a timer"
    CANCELLED = "cancelled", "Timer cancelled"
    FAILED = "failed", "Failed"


class RuleRun(models.Model):
    """One rule on one trigger, at most once: `trigger_key` names the trigger (e.g.
    "msg:<message id>:acct:<account id>", "evt:<event id>"), and the unique constraint is the
    exactly-once guarantee when a task is retried. `log` lists what the actions did."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    trigger_key = models.CharField(max_length=200)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=RunStatus.choices)
    log = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "trigger_key"], name="one_run_per_rule_and_trigger")]
        indexes = [models.Index(fields=["rule", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.trigger_key}: {self.status}"


class TimerKind(models.TextChoices):
    DELAY = "delay", "Delay"
    UNREPLIED = "unreplied", "Unreplied and open after"
    UNASSIGNED = "unassigned", "Unassigned and open after"


class TimerState(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class RuleTimer(models.Model):
    """A rule run waiting for its moment: a Delay checkpoint (resume the conditions after
    position `resume_at`) or an SLA timer (unreplied / unassigned). A periodic task claims due rows
    with SKIP LOCKED; a reply or an assignment cancels the SLA ones."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(RuleRun, on_delete=models.CASCADE, related_name="timers")
    kind = models.CharField(max_length=10, choices=TimerKind.choices)
    due_at = models.DateTimeField()
    resume_at = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=TimerState.choices, default=TimerState.PENDING)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_at:%Y-%m-%d %H:%M}"


class BusinessHours(models.Model):
    """An organization's (team empty) or a team's business hours: weekly opening intervals in a time
    zone, and closed days. `weekly` = {"mon": [["09:00", "17:00"]], ..., "sun": []}."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="business_hours")
    team = models.OneToOneField(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="business_hours")
    time_zone = models.CharField(max_length=64, default="UTC")
    weekly = models.JSONField(default=dict)
    holidays = models.JSONField(default=list, blank=True)  # ["2026-12-25", ...]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(team__isnull=True), name="one_organization_business_hours"
            )
        ]

    def __str__(self) -> str:
        return f"Business hours ({self.time_zone})"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """A Webhook action's POST: retried up to 5 times over about 8 minutes (30 s, 1, 2, 4 min)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="webhook_deliveries")
    run = models.ForeignKey(RuleRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    url = models.URLField(max_length=2000)
    payload = models.JSONField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"POST {self.url} ({self.state})"
