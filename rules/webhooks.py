"""The Webhook action: a signed JSON POST of the conversation and its latest message.

The action itself only writes a WebhookDelivery row (in the rule run's transaction, so a retried
task never queues it twice); the POST happens after commit and again from beat while it fails:
up to 5 attempts over about 8 minutes (spec/rest-api.md §6.3). Every failed attempt counts
against the rule; a success resets the count, and more than 50 failures in a row disable it.

The body is signed like the public API's webhooks: `X-Hook-Signature: sha256=<hex HMAC-SHA256 of
the exact bytes sent, keyed with the rule's secret>`, also sent as `X-Missive-Signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from conversations.mail_views import _PublicHTTPHandler, _PublicHTTPSHandler
from conversations.models import Conversation, ConversationEvent, ConversationLabel, Message
from rules.engine import forget_rule_presence
from rules.models import DeliveryState, Rule, RuleRun, Trigger, WebhookDelivery

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15
# The wait after each failed attempt: 5 attempts in all, the last 7.5 minutes after the first.
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# "Fails more than 50 times in a row" (the seed): the 51st consecutive failure disables the rule.
DISABLE_AFTER = 50
USER_AGENT = "Missive-Webhooks/1.0"

# The public API's rule.type strings for message rules (spec/rest-api.md §6.2); user-action rules
# use their event's name (new_comment, label_change, ...).
_MESSAGE_TYPES = {
    "email": "email",
    "sms": "sms_message",
    "whatsapp": "whatsapp_message",
    "messenger": "facebook_message",
    "instagram": "instagram_message",
    "live_chat": "twilio_chat_message",
    "post": "post",
}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def rule_type(rule: Rule) -> str:
    if rule.trigger == Trigger.USER_ACTION:
        return rule.user_action
    return f"{rule.trigger}_{_MESSAGE_TYPES.get(rule.channel, rule.channel)}"


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": str(user.id), "name": user.display_name, "email": user.email}


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    labels = [
        {"id": str(label_id), "name": name}
        for label_id, name in ConversationLabel.objects.filter(conversation=conversation)
        .order_by("label__name")
        .values_list("label_id", "label__name")
    ]
    assignees = [
        assignment.user for assignment in conversation.assignments.select_related("user").order_by("created_at")
    ]
    team = conversation.team
    web_url = settings.SITE_URL + reverse("conversation", kwargs={"key": "all", "conversation_id": conversation.id})
    return {
        "id": str(conversation.id),
        "subject": conversation.subject or None,
        "latest_message_subject": conversation.subject or None,
        "messages_count": conversation.message_count,
        "shared_labels": labels,
        "shared_label_names": ", ".join(label["name"] for label in labels),
        "assignees": [_person(user) for user in assignees],
        "assignee_names": ", ".join(user.display_name for user in assignees),
        "assignee_emails": ", ".join(user.email for user in assignees),
        "team": {"id": str(team.id), "name": team.name} if team else None,
        "authors": [
            {"name": person.get("name", ""), "address": person.get("address")}
            for person in conversation.participants or []
        ],
        "last_activity_at": _epoch(conversation.last_activity_at),
        "web_url": web_url,
    }


def _fields(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": person.get("name", ""), "address": person.get("address", "")} for person in people]


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "subject": message.subject,
        "preview": " ".join(message.body_text.split())[:200],
        "type": "email",
        "delivered_at": _epoch(message.sent_at),
        "created_at": _epoch(message.created_at),
        "updated_at": _epoch(message.created_at),
        "email_message_id": message.rfc_message_id,
        "in_reply_to": [message.in_reply_to] if message.in_reply_to else [],
        "references": message.references.split(),
        "body": message.body_html or message.body_text,
        "from_field": {"name": message.from_name, "address": message.from_address},
        "to_fields": _fields(message.to),
        "cc_fields": _fields(message.cc),
        "bcc_fields": _fields(message.bcc),
        "reply_to_fields": _fields(message.reply_to),
    }


def _initiator(run: RuleRun) -> Any:
    """The team member whose action triggered a user-action rule ("evt:<event id>"), else the
    author of an outgoing message."""
    kind, _, rest = run.trigger_key.partition(":")
    if kind == "evt":
        event_id = rest.partition(":")[0]
        if event_id.isdigit():
            event = (
                ConversationEvent.objects.filter(id=int(event_id), organization_id=run.organization_id)
                .select_related("actor")
                .first()
            )
            return event.actor if event else None
    if run.message is not None and run.message.author_id:
        return run.message.author
    return None


def build_payload(run: RuleRun) -> dict[str, Any]:
    """The body of spec/rest-api.md §6.2, plus what blog 000 lists: the sender's contact
    information and the team member who triggered the rule."""
    rule = run.rule
    payload: dict[str, Any] = {
        "rule": {"id": str(rule.id), "description": rule.description, "type": rule_type(rule)},
        "conversation": conversation_payload(run.conversation) if run.conversation else None,
        "triggered_by": _person(_initiator(run)),
    }
    message = run.message
    if message is None and run.conversation is not None:
        message = run.conversation.messages.order_by("-sent_at").first()
    if message is not None:
        payload["latest_message"] = payload["message"] = message_payload(message)
        payload["contact"] = {"name": message.from_name, "address": message.from_address}
    return payload


def queue_delivery(run: RuleRun, url: str) -> WebhookDelivery:
    """In the run's transaction: the delivery row; its first attempt goes after commit."""
    delivery = WebhookDelivery.objects.create(
        organization_id=run.organization_id, rule=run.rule, run=run, url=url, payload=build_payload(run)
    )
    delivery_id = delivery.id
    # Robust: with the broker down, beat still finds the row due.
    transaction.on_commit(lambda: deliver_webhook.delay(str(delivery_id)), robust=True)
    return delivery


def public_opener() -> urllib.request.OpenerDirector:
    """An opener for user-given URLs: http(s) only, no proxies from the environment, no
    redirects (a 3xx is a failure), and only public addresses unless WEBHOOKS_ALLOW_PRIVATE."""
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    opener = urllib.request.OpenerDirector()
    for handler in (
        _PublicHTTPHandler(allow_private),
        _PublicHTTPSHandler(allow_private),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


def post(url: str, body: bytes, headers: dict[str, str]) -> str:
    """POST the bytes to a user-given URL; "" on a 2xx answer, else what went wrong."""
    if not url.lower().startswith(("http://", "https://")):
        return "The URL must start with http:// or https://."
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with public_opener().open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", error)
        return f"Network error: {reason}"[:500]
    return "" if 200 <= status < 300 else f"HTTP {status}"


def _post(url: str, body: bytes, secret: str) -> str:
    signed = signature(secret, body)
    return post(
        url,
        body,
        {"Content-Type": "application/json", "X-Hook-Signature": signed, "X-Missive-Signature": signed},
    )


def attempt(delivery_id: UUID | str, *, now: datetime | None = None) -> str | None:
    """One attempt of a pending delivery that is due, under its row lock (SKIP LOCKED: a
    delivery being attempted elsewhere is left alone). Returns the new state, or None when
    nothing was due."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(id=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now)
            .select_related("rule")
            .first()
        )
        if delivery is None:
            return None
        rule = delivery.rule
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        error = _post(delivery.url, body, rule.webhook_secret)
        delivery.attempts += 1
        if not error:
            delivery.state, delivery.last_error = DeliveryState.DELIVERED, ""
            Rule.objects.filter(id=rule.id).update(consecutive_failures=0)
        else:
            logger.warning("Webhook of rule %s to %s failed: %s", rule.id, delivery.url, error)
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.state = DeliveryState.FAILED
            else:
                delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
            _count_failure(rule)
        delivery.save(update_fields=["attempts", "state", "last_error", "next_attempt_at"])
    return delivery.state


def _count_failure(rule: Rule) -> None:
    Rule.objects.filter(id=rule.id).update(consecutive_failures=F("consecutive_failures") + 1)
    disabled = Rule.objects.filter(id=rule.id, enabled=True, consecutive_failures__gt=DISABLE_AFTER).update(
        enabled=False,
        disabled_reason=(
            f"Disabled automatically: its webhook failed more than {DISABLE_AFTER} times in a row. "
            "Fix the receiving URL, then enable the rule again."
        ),
        updated_at=timezone.now(),
    )
    if disabled:  # update() sends no post_save: the processes' rule lists must learn it
        forget_rule_presence(rule.organization_id)


def do_deliver_due_webhooks(*, now: datetime | None = None, limit: int = 100) -> int:
    """Beat: attempt every pending delivery that is due; returns how many were attempted."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    return sum(attempt(delivery_id, now=now) is not None for delivery_id in due)


@shared_task(name="rules.webhooks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    attempt(delivery_id)


@shared_task(name="rules.webhooks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> None:
    do_deliver_due_webhooks()
