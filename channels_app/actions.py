"""Changes to email accounts made from their settings pages. One transaction each; the sync that
picks up the change is queued after commit."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from channels_app.imap.accounts import ImapAccountDetails, do_connect_imap_account
from channels_app.models import ImapConfig, ImapFolder, ImapMessage, ImapMessageState
from channels_app.tasks import sync_imap_account
from inboxes.models import Account, AccountAccess, Organization, Team, User


def _queue_sync(account: Account) -> None:
    transaction.on_commit(lambda: sync_imap_account.delay(str(account.id)))


@transaction.atomic
def do_add_imap_account(
    organization: Organization,
    details: ImapAccountDetails,
    *,
    owner: User,
    team: Team | None = None,
    shared: bool = False,
    shared_with: Iterable[tuple[User, str]] = (),
) -> tuple[Account, bool]:
    """Verify and connect the account (raises ConnectionProblem), share it with the chosen people
    when it is new, and start its first sync. Re-adding an address refreshes it and ignores the
    sharing options, as the seed says."""
    account, created = do_connect_imap_account(organization, details, owner=owner, team=team, shared=shared)
    if created:
        for user, new_messages in shared_with:
            AccountAccess.objects.create(
                organization=organization, account=account, user=user, new_messages=new_messages
            )
    _queue_sync(account)
    return account, created


@transaction.atomic
def do_reconnect_imap_account(account: Account, *, password: str) -> None:
    """Try the stored server settings with a new password; on success the account is connected
    again in place, keeping its conversations (raises ConnectionProblem otherwise)."""
    config = ImapConfig.objects.get(account=account)
    stored = account.credentials
    # A separate SMTP password is kept; one that merely repeated the IMAP password follows it.
    smtp_password = stored.get("smtp_password", "")
    if smtp_password == stored.get("imap_password", ""):
        smtp_password = ""
    details = ImapAccountDetails(
        email=account.address,
        display_name=account.display_name,
        imap_host=config.imap_host,
        imap_port=config.imap_port,
        imap_security=config.imap_security,
        username=config.imap_username,
        password=password,
        smtp_host=config.smtp_host,
        smtp_port=config.smtp_port,
        smtp_security=config.smtp_security,
        smtp_username=config.smtp_username,
        smtp_password=smtp_password,
        history_days=config.history_days,
    )
    do_connect_imap_account(account.organization, details, owner=account.owner)
    _queue_sync(account)


@transaction.atomic
def do_update_account_details(account: Account, *, display_name: str, description: str) -> None:
    account.display_name, account.description = display_name, description
    account.save(update_fields=["display_name", "description"])


@transaction.atomic
def do_change_import_history(config: ImapConfig, *, history_days: int | None) -> None:
    """A longer window makes the next sync look at each folder from the start again: messages
    already imported are skipped by their (folder, UIDVALIDITY, UID) record, older ones come in."""
    old = config.history_days
    widened = old is not None and (history_days is None or history_days > old)
    config.history_days = history_days
    config.save(update_fields=["history_days"])
    if widened:
        ImapFolder.objects.filter(account_id=config.account_id).update(last_uid=0, uidnext=None)
        _queue_sync(config.account)


@transaction.atomic
def do_map_folder_roles(account: Account, *, roles: dict[str, ImapFolder]) -> None:
    """The owner's choice of folder per role (Archive, Sent, Trash, Spam): one folder per role,
    kept by later syncs instead of what detection finds."""
    for role, folder in roles.items():
        ImapFolder.objects.filter(account=account, role=role).exclude(pk=folder.pk).update(
            role="", role_is_manual=False
        )
        ImapFolder.objects.filter(account=account, pk=folder.pk).update(role=role, role_is_manual=True)


@transaction.atomic
def do_retry_failed_messages(account: Account) -> int:
    """Messages whose import failed even after retries get their attempts back; the sync queued
    now tries them again. Returns how many."""
    count = ImapMessage.objects.filter(account=account, state=ImapMessageState.FAILED).update(attempts=0)
    if count:
        _queue_sync(account)
    return count
