"""Missive -> server: what the account owner does to a conversation reaches the mailbox.

Per the seed, for shared accounts only the owner's own archive/trash/read/spam actions are
mirrored; everyone else's stay in Missive.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any
from uuid import UUID

from channels_app.imap.connection import ServerSettings, connect, logout
from channels_app.models import FolderRole, ImapConfig, ImapFolder, ImapMessage, ImapMessageState
from conversations.actions import ActionRefused
from inboxes.models import AccountKind

logger = logging.getLogger(__name__)

MOVE_TARGET = {
    "inbox": FolderRole.INBOX,
    "archive": FolderRole.ARCHIVE,
    "trash": FolderRole.TRASH,
    "spam": FolderRole.SPAM,
}
FLAG_CHANGE = {
    "read": ("add", b"\\Seen"),
    "unread": ("remove", b"\\Seen"),
    "star": ("add", b"\\Flagged"),
    "unstar": ("remove", b"\\Flagged"),
}


def owner_copies(conversation_id: Any, user_id: Any) -> Any:
    return ImapMessage.objects.filter(
        message__conversation_id=conversation_id,
        account__owner_id=user_id,
        account__kind=AccountKind.IMAP,
        state=ImapMessageState.INGESTED,
    )


def check_mailboxes_configured(conversation_id: Any, user_id: Any, change: str) -> bool:
    """Whether the change has anything to do on a server; raises the seed's "Mailboxes not
    configured" error when a folder it needs is not mapped."""
    account_ids = set(owner_copies(conversation_id, user_id).values_list("account_id", flat=True))
    if not account_ids:
        return False
    role = MOVE_TARGET.get(change)
    if role and role != FolderRole.INBOX:
        mapped = set(
            ImapFolder.objects.filter(account_id__in=account_ids, role=role).values_list("account_id", flat=True)
        )
        if mapped != account_ids:
            raise ActionRefused(
                f"Mailboxes not configured: choose a {FolderRole(role).label} folder in "
                "Settings > Accounts > (account) > Mailboxes."
            )
    return True


def push_change(conversation_id: UUID, user_id: UUID, change: str) -> None:
    """Apply one change to every server copy the user owns, grouped by account and folder."""
    by_account: dict[Any, dict[ImapFolder, list[ImapMessage]]] = defaultdict(lambda: defaultdict(list))
    for copy in owner_copies(conversation_id, user_id).select_related("folder"):
        by_account[copy.account_id][copy.folder].append(copy)
    for account_id, folders in by_account.items():
        config = ImapConfig.objects.select_related("account").get(account_id=account_id)
        client = connect(ServerSettings.for_account(config))
        try:
            for folder, copies in folders.items():
                _apply(client, config, folder, copies, change)
        finally:
            logout(client)


def _apply(client: Any, config: ImapConfig, folder: ImapFolder, copies: list[ImapMessage], change: str) -> None:
    uids = [c.uid for c in copies if c.uidvalidity == folder.uidvalidity]
    if not uids:
        return
    if change in FLAG_CHANGE:
        client.select_folder(folder.name)
        how, flag = FLAG_CHANGE[change]
        (client.add_flags if how == "add" else client.remove_flags)(uids, [flag], silent=True)
        seen_or_flag = "seen" if flag == b"\\Seen" else "flagged"
        ImapMessage.objects.filter(pk__in=[c.pk for c in copies]).update(**{seen_or_flag: how == "add"})
        return
    target = ImapFolder.objects.filter(account_id=config.account_id, role=MOVE_TARGET[change]).first()
    if target is None or target.pk == folder.pk:
        return
    client.select_folder(folder.name)
    if client.has_capability("MOVE"):
        client.move(uids, target.name)
    else:
        client.copy(uids, target.name)
        client.delete_messages(uids)
        client.expunge()
    # The moved copies are now the target folder's; its next sync records them there (the email
    # is recognised by Message-ID, so nothing is delivered twice).
    ImapMessage.objects.filter(pk__in=[c.pk for c in copies]).delete()
