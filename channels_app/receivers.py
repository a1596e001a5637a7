from typing import Any

from django.db import transaction
from django.dispatch import receiver

from channels_app.imap.push import check_mailboxes_configured
from conversations.signals import message_queued, provider_change


@receiver(provider_change)
def mirror_on_imap_server(sender: Any, *, conversation: Any, user_id: Any, change: str, **_: Any) -> None:
    """Refuse the action if a needed folder is unmapped; otherwise push it after commit."""
    if check_mailboxes_configured(conversation.id, user_id, change):
        from channels_app.tasks import push_imap_change

        conversation_id = conversation.id
        transaction.on_commit(lambda: push_imap_change.delay(str(conversation_id), str(user_id), change))


@receiver(message_queued)
def dispatch_when_due(sender: Any, *, outbox_id: Any, send_after: Any, **_: Any) -> None:
    """Sent after commit: dispatch at the row's time (the undo delay), so a message goes out
    when it may, not at the next beat. Beat's dispatch still covers a lost task."""
    from channels_app.tasks import dispatch_outbox

    dispatch_outbox.apply_async(eta=send_after)
