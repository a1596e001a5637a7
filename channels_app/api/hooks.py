"""POST /v1/hooks and DELETE /v1/hooks/:id (rest-api.md §4.41, §4.42): a webhook subscription is a
rule with one webhook action, which people then see and edit in Settings → Rules. Deliveries are
rules/webhooks.py (§6)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from channels_app.api.conversation_ops import organization_for
from channels_app.api.core import ApiError, api_user
from inboxes.models import Membership, User
from rules.models import Channel, Rule, Trigger, UserAction
from rules.validation import validate_rule

router = Router(tags=["hooks"])

HookType = Literal[
    "incoming_email",
    "incoming_sms_message",
    "incoming_facebook_message",
    "incoming_whatsapp_message",
    "incoming_twilio_chat_message",
    "new_comment",
]
# The hook type → the rule's (trigger, channel, user action); rules/webhooks.rule_type maps back.
RULE_TYPES: dict[str, tuple[str, str, str]] = {
    "incoming_email": (Trigger.INCOMING, Channel.EMAIL, ""),
    "incoming_sms_message": (Trigger.INCOMING, Channel.SMS, ""),
    "incoming_facebook_message": (Trigger.INCOMING, Channel.MESSENGER, ""),
    "incoming_whatsapp_message": (Trigger.INCOMING, Channel.WHATSAPP, ""),
    "incoming_twilio_chat_message": (Trigger.INCOMING, Channel.LIVE_CHAT, ""),
    "new_comment": (Trigger.USER_ACTION, Channel.EMAIL, UserAction.NEW_COMMENT),
}
COMMENT_ONLY = ("is_task", "author", "mention")
EMAIL_ONLY = ("from_eq", "subject_contains")


class HookIn(Schema):
    type: HookType
    url: str = Field(..., min_length=1, max_length=2000)
    organization: UUID | None = None
    content_contains: str | None = None
    content_starts_with: str | None = None
    content_ends_with: str | None = None
    is_task: bool = False
    author: UUID | None = None
    mention: UUID | None = None
    from_eq: str | None = None
    subject_contains: str | None = None


class HookBody(Schema):
    hooks: HookIn


def _conditions(hook: HookIn) -> list[dict[str, Any]]:
    """The hook's filters as the rule editor's conditions (rules/catalog.py)."""
    content = "comment_text" if hook.type == "new_comment" else "content"
    items: list[dict[str, Any]] = []
    for op, value in (
        ("contains", hook.content_contains),
        ("starts_with", hook.content_starts_with),
        ("ends_with", hook.content_ends_with),
    ):
        if value:
            items.append({"field": content, "op": op, "value": value})
    if hook.is_task:
        items.append({"field": "is_task", "op": "is", "value": True})
    if hook.author is not None:
        items.append({"field": "initiator", "op": "is", "value": str(hook.author)})
    if hook.mention is not None:
        items.append({"field": "mention", "op": "is", "value": str(hook.mention)})
    if hook.from_eq:
        items.append({"field": "from", "op": "is", "value": hook.from_eq.strip().lower()})
    if hook.subject_contains:
        items.append({"field": "subject", "op": "contains", "value": hook.subject_contains})
    return items


def _check_fields(hook: HookIn) -> None:
    for name in COMMENT_ONLY:
        if hook.type != "new_comment" and getattr(hook, name) not in (None, False):
            raise ApiError(f"'{name}' is for new_comment hooks only", field=f"hooks.{name}")
    for name in EMAIL_ONLY:
        if hook.type != "incoming_email" and getattr(hook, name):
            raise ApiError(f"'{name}' is for incoming_email hooks only", field=f"hooks.{name}")


def _scope(user: User, organization_id: UUID | None) -> tuple[Any, User | None]:
    """The rule's organization and owner: an organization rule (owners and admins only), or a
    personal rule of the caller, kept with their first organization."""
    if organization_id is not None:
        organization = organization_for(user, organization_id)
        membership = Membership.objects.get(user=user, organization=organization)
        if not membership.can_manage:
            raise ApiError("Only owners and admins can create organization webhooks.", status=403)
        return organization, None
    first = Membership.objects.filter(user=user).select_related("organization").order_by("created_at").first()
    if first is None:
        raise ApiError("You are not a member of any organization.", field="hooks.organization")
    return first.organization, user


@router.post("/hooks", response={201: dict})
def create_hook(request: HttpRequest, payload: HookBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    hook = payload.hooks
    _check_fields(hook)
    organization, owner = _scope(user, hook.organization)
    trigger, channel, user_action = RULE_TYPES[hook.type]
    rule = Rule(
        organization=organization,
        owner=owner,
        description=f"API webhook: {hook.type} → {hook.url}"[:200],
        trigger=trigger,
        channel=channel,
        user_action=user_action,
        conditions={"mode": "all", "items": _conditions(hook)},
        actions=[{"type": "webhook", "url": hook.url}],
        created_by=user,
        updated_at=timezone.now(),
    )
    errors = validate_rule(rule)
    if errors:
        field = "hooks.url" if any("URL" in error for error in errors) else "hooks"
        raise ApiError(" ".join(errors), field=field)
    with transaction.atomic():
        rule.save()
    return Status(201, {"hooks": {"id": str(rule.id)}})


@router.delete("/hooks/{hook_id}", response={204: None})
def delete_hook(request: HttpRequest, hook_id: UUID) -> Status[None]:
    user = api_user(request)
    rule = Rule.objects.filter(id=hook_id, organization__memberships__user=user).first()
    if rule is None or (rule.owner_id is not None and rule.owner_id != user.id):
        raise ApiError("Not found.", status=404)
    if rule.owner_id is None and not Membership.objects.get(user=user, organization_id=rule.organization_id).can_manage:
        raise ApiError("Only owners and admins can delete organization webhooks.", status=403)
    with transaction.atomic():
        rule.delete()
    return Status(204, None)
