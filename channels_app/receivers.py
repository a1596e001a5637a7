from typing import Any

from django.db import transaction
from django.dispatch import receiver

from channels_app.imap.push import check_mailboxes_configured
from conversations.signals import provider_change


@receiver(provider_change)
def mirror_on_imap_server(sender: Any, *, conversation: Any, user_id: Any, change: str, **_: Any) -> None:
    """Refuse the action if a needed folder is unmapped; otherwise push it after commit."""
    if check_mailboxes_configured(conversation.id, user_id, change):
        from channels_app.tasks import push_imap_change

        conversation_id = conversation.id
        transaction.on_commit(lambda: push_imap_change.delay(str(conversation_id), str(user_id), change))
