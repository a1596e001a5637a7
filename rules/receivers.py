"""Rules listen to the conversations' signals (conversations never import rules)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from conversations.models import Label
from conversations.signals import label_changed, message_sending, messages_received, user_action
from inboxes.models import Membership
from rules import triggers
from rules.engine import forget_rule_presence
from rules.models import Rule, UserAction


@receiver(messages_received, dispatch_uid="rules_incoming")
def on_messages_received(sender: Any, *, account: Any, messages: list, placement: str | None, **kwargs: Any) -> None:
    triggers.incoming(account, messages, placement)


@receiver(message_sending, dispatch_uid="rules_outgoing")
def on_message_sending(sender: Any, *, message: Any, outbox: Any, acting_user: Any, **kwargs: Any) -> None:
    triggers.outgoing(message, outbox, acting_user)


@receiver(user_action, dispatch_uid="rules_user_action")
def on_user_action(
    sender: Any, *, conversation_id: Any, action: str, acting_user_id: Any, data: dict, **kwargs: Any
) -> None:
    triggers.user_action(conversation_id, action, acting_user_id, data)


@receiver(label_changed, dispatch_uid="rules_label_changed")
def on_label_changed(
    sender: Any, *, conversation_id: Any, label_id: Any, added: bool, acting_user_id: Any, **kwargs: Any
) -> None:
    data = {"label_id": str(label_id), "added": added}
    triggers.user_action(conversation_id, UserAction.LABEL_CHANGE, acting_user_id, data)


@receiver(post_save, sender=Rule, dispatch_uid="rules_saved")
@receiver(post_delete, sender=Rule, dispatch_uid="rules_deleted")
@receiver(post_save, sender=Label, dispatch_uid="rules_label_saved")
@receiver(post_delete, sender=Label, dispatch_uid="rules_label_deleted")
@receiver(post_save, sender=Membership, dispatch_uid="rules_membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="rules_membership_deleted")
def on_rule_changed(sender: Any, *, instance: Rule | Label | Membership, **kwargs: Any) -> None:
    """The rule objects the engine keeps hold the labels and users their actions name: a change
    to any of these makes every process read its rules again."""
    forget_rule_presence(instance.organization_id)
