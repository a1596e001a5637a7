"""Incremental, idempotent IMAP sync for one account.

Per folder: STATUS tells whether anything changed (an unchanged mailbox costs one round trip per
folder); new UIDs above the last one seen are fetched in batches, each message stored raw first,
then parsed and delivered together with its (folder, UIDVALIDITY, UID) record, whose uniqueness
makes a re-run after a crash skip what was already done; each batch commits in one transaction
with the folder's progress. A UIDVALIDITY change re-maps records by Message-ID instead of fetching
everything again. Flags and server-side moves are reflected on the account owner's state.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from channels_app.email.intake import store_and_parse, store_and_parse_many
from channels_app.imap.connection import ConnectionProblem, ServerSettings, connect, logout
from channels_app.models import FolderRole, ImapConfig, ImapFolder, ImapMessage, ImapMessageState
from conversations.counts import invalidate_counts
from conversations.delivery import Delivery, do_receive_messages
from conversations.incoming import IncomingMessage
from conversations.models import ConversationState, Direction, Location
from inboxes.models import Account, AccountStatus
from missive.db import copy_insert

logger = logging.getLogger(__name__)

FETCH_BATCH = 100
FETCH_BATCH_BYTES = 32 * 1024 * 1024
# Batches in flight ahead of the one being delivered (fetched, stored, parsed).
PIPELINE_DEPTH = 2
# How many times a message whose delivery fails is tried, over as many syncs.
DELIVERY_ATTEMPTS = 3
# The per-account lock expires this long after its holder last renewed it (renewed every few
# messages), so a worker killed mid-sync blocks the account for seconds, not for the whole sync.
LOCK_SECONDS = 20
# The seed: an account that cannot connect for 30 consecutive minutes is marked disconnected.
DISCONNECT_AFTER = timedelta(minutes=30)
MAX_BACKOFF = timedelta(minutes=15)

SPECIAL_USE = {
    b"\\Archive": FolderRole.ARCHIVE,
    b"\\All": FolderRole.ALL,
    b"\\Sent": FolderRole.SENT,
    b"\\Trash": FolderRole.TRASH,
    b"\\Junk": FolderRole.SPAM,
    b"\\Drafts": FolderRole.DRAFTS,
}
WELL_KNOWN_NAMES = {
    "archive": FolderRole.ARCHIVE,
    "archives": FolderRole.ARCHIVE,
    "sent": FolderRole.SENT,
    "sent items": FolderRole.SENT,
    "sent messages": FolderRole.SENT,
    "sent mail": FolderRole.SENT,
    "trash": FolderRole.TRASH,
    "deleted items": FolderRole.TRASH,
    "deleted messages": FolderRole.TRASH,
    "junk": FolderRole.SPAM,
    "junk e-mail": FolderRole.SPAM,
    "junk email": FolderRole.SPAM,
    "spam": FolderRole.SPAM,
    "drafts": FolderRole.DRAFTS,
}
# Where mail kept in a folder sits for the account owner. Drafts live in Missive only.
PLACEMENT: dict[str, str | None] = {
    FolderRole.INBOX: None,
    FolderRole.SENT: Location.NONE,
    FolderRole.ARCHIVE: Location.ARCHIVED,
    FolderRole.ALL: Location.ARCHIVED,
    FolderRole.TRASH: Location.TRASHED,
    FolderRole.SPAM: Location.SPAM,
    FolderRole.NONE: Location.ARCHIVED,
}


@dataclass
class SyncResult:
    new: int = 0
    updated: int = 0
    failed: int = 0
    seconds: float = 0.0
    locked_out: bool = False
    # Renews the account lock; called as work progresses.
    keepalive: Callable[[], Any] = lambda: None


def _redis() -> redis.Redis:
    return _redis_for(settings.REDIS_URL)


@functools.lru_cache(maxsize=4)
def _redis_for(url: str) -> redis.Redis:
    """One client (and connection pool) per process: a new one costs a connection per sync."""
    return redis.Redis.from_url(url)


def sync_account(account: Account, *, now: datetime | None = None, wait: bool = False) -> SyncResult:
    """One full incremental pass over the account's folders. Raises ConnectionProblem (after
    recording it) when the server cannot be reached. One sync per account at a time: another
    caller skips (or with `wait`, waits until the lock is free or has expired)."""
    started = time.monotonic()
    result = SyncResult()
    lock = _redis().lock(f"imap-sync:{account.id}", timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=wait, blocking_timeout=LOCK_SECONDS + 5):
        result.locked_out = True
        return result
    result.keepalive = lock.reacquire
    try:
        config = ImapConfig.objects.select_related("account").get(account=account)
        try:
            client = connect(ServerSettings.for_account(config))
        except ConnectionProblem as problem:
            record_failure(config, problem, now=now)
            raise
        try:
            _sync_folders(client, account, config, result)
        except (IMAPClientAbortError, OSError) as error:
            # The connection dropped mid-sync: what was delivered stays delivered (each FETCH
            # batch commits on its own), and the next run picks up from there.
            dropped = ConnectionProblem("unreachable", f"The connection to the server dropped ({error}).")
            record_failure(config, dropped, now=now)
            raise dropped from error
        finally:
            logout(client)
        record_success(config, now=now)
    finally:
        lock.release()
    result.seconds = time.monotonic() - started
    return result


def _sync_folders(client: IMAPClient, account: Account, config: ImapConfig, result: SyncResult) -> None:
    config.supports_idle = client.has_capability("IDLE")
    condstore = client.has_capability("CONDSTORE")
    # QRESYNC names the messages expunged since a mod-sequence (VANISHED), instead of the whole
    # folder's UIDs being listed to find them. It must be enabled before a folder is selected.
    qresync = condstore and client.has_capability("QRESYNC") and bool(client.enable("QRESYNC"))
    moved: set[Any] = set()
    retry = set(
        ImapMessage.objects.filter(
            account=account, state=ImapMessageState.FAILED, attempts__lt=DELIVERY_ATTEMPTS
        ).values_list("folder_id", flat=True)
    )
    for folder in discover_folders(client, account):
        if folder.role == FolderRole.DRAFTS:
            continue
        result.keepalive()
        try:
            moved |= _sync_folder(
                client, account, config, folder, result, condstore=condstore, qresync=qresync, retry=folder.pk in retry
            )
        except IMAPClientAbortError:
            raise
        except IMAPClientError:  # this folder refused something; the others still sync
            logger.exception("Folder %s of account %s failed to sync", folder.name, account.id)
            result.failed += 1
    if moved:
        result.updated += reconcile_placements(account, moved)


def discover_folders(client: IMAPClient, account: Account) -> list[ImapFolder]:
    """LIST the server's folders, keep our records in step, detect roles (SPECIAL-USE first, then
    well-known names); a role the owner set by hand is kept."""
    listed = []
    for flags, _delimiter, name in client.list_folders():
        if b"\\Noselect" in flags or b"\\NonExistent" in flags:
            continue
        name = name.decode() if isinstance(name, bytes) else name
        listed.append((name, _detect_role(name, flags)))
    folders = {f.name: f for f in ImapFolder.objects.filter(account=account)}
    manual_roles = {f.role for f in folders.values() if f.role_is_manual and f.role}
    taken: set[str] = set()
    for name, role in sorted(listed, key=lambda item: item[1] == FolderRole.NONE):
        folder = folders.get(name) or ImapFolder(organization_id=account.organization_id, account=account, name=name)
        previous_role = folder.role
        if not folder.role_is_manual:
            detected = role if role and role not in manual_roles and role not in taken else FolderRole.NONE
            folder.role = detected
        if folder.role:
            taken.add(folder.role)
        if folder.pk is None or folder.role != previous_role:  # an unchanged folder costs no write
            folder.save()
        folders[name] = folder
    present = {name for name, _ in listed}
    if set(folders) - present:
        ImapFolder.objects.filter(account=account).exclude(name__in=present).delete()
    return [folders[name] for name, _ in listed]


def _detect_role(name: str, flags: Iterable[bytes]) -> str:
    if name.upper() == "INBOX":
        return FolderRole.INBOX
    for flag in flags:
        if flag in SPECIAL_USE:
            return SPECIAL_USE[flag]
    leaf = name.replace("\\", "/").split("/")[-1].split(".")[-1].strip().lower()
    return WELL_KNOWN_NAMES.get(leaf, FolderRole.NONE)


def _sync_folder(
    client: IMAPClient,
    account: Account,
    config: ImapConfig,
    folder: ImapFolder,
    result: SyncResult,
    *,
    condstore: bool,
    qresync: bool = False,
    retry: bool = False,
) -> set[Any]:
    """Fetch what is new in one folder and notice flag changes and removals. Returns the ids of
    messages whose copies moved or vanished here."""
    items = ["UIDVALIDITY", "UIDNEXT", "MESSAGES"] + (["HIGHESTMODSEQ"] if condstore else [])
    status = client.folder_status(folder.name, items)
    uidvalidity = int(status[b"UIDVALIDITY"])
    uidnext = int(status[b"UIDNEXT"])
    count = int(status[b"MESSAGES"])
    modseq = int(status[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in status else None
    unchanged = (
        folder.uidvalidity == uidvalidity
        and folder.uidnext == uidnext
        and folder.message_count == count
        and (modseq is None or folder.highest_modseq == modseq)
    )
    if unchanged and not retry:
        return set()
    client.select_folder(folder.name, readonly=True)
    if folder.uidvalidity is not None and folder.uidvalidity != uidvalidity:
        _remap_uidvalidity(client, folder, uidvalidity)
    folder.uidvalidity = uidvalidity
    if folder.last_uid == 0 and config.history_days == 0:
        # No history: what a folder holds when first seen stays on the server; only mail that
        # arrives from now on is imported.
        folder.last_uid = uidnext - 1
        ImapFolder.objects.filter(pk=folder.pk).update(last_uid=folder.last_uid, uidvalidity=uidvalidity)
    _fetch_new(client, account, config, folder, result)
    if retry:
        _retry_failed(client, account, folder, result)
    vanished: set[int] = set()
    known_modseq = condstore and folder.highest_modseq is not None and modseq is not None
    if known_modseq and modseq != folder.highest_modseq:
        updated, vanished = _apply_flag_changes(client, account, folder, since=folder.highest_modseq, qresync=qresync)
        result.updated += updated
    elif not condstore:
        result.updated += _apply_flag_changes(client, account, folder, since=None)[0]
    # An expunge raises the folder's mod-sequence: with QRESYNC an unchanged one means none.
    moved = _forget(folder, vanished) if qresync and known_modseq else _forget_vanished(client, folder)
    folder.uidnext, folder.message_count, folder.highest_modseq = uidnext, count, modseq
    folder.last_synced_at = timezone.now()
    folder.save()
    return moved


def _fetch_new(
    client: IMAPClient, account: Account, config: ImapConfig, folder: ImapFolder, result: SyncResult
) -> None:
    criteria: list[Any] = ["UID", f"{folder.last_uid + 1}:*"]
    if folder.last_uid == 0 and config.history_days is not None:
        since = (timezone.now() - timedelta(days=config.history_days)).date()
        criteria += ["SINCE", since]
    uids = sorted(uid for uid in client.search(criteria) if uid > folder.last_uid)
    known = set(folder.copies().filter(uid__in=uids).values_list("uid", flat=True))
    batches = _batches(uids, _sizes(client, [uid for uid in uids if uid not in known]))
    to_fetch = [[uid for uid in batch if uid not in known] for batch in batches]
    # A pipeline: while one batch is delivered, the next is being stored and parsed and the one
    # after that fetched, each stage in a thread of its own. Delivery waits for PostgreSQL,
    # fetching for the server, storing for the disk and parsing for the parser process, so the
    # stages overlap. Only this thread touches the database and renews the lock (redis-py keeps a
    # lock's token per thread).
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-fetch") as fetcher,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-prepare") as preparer,
    ):

        def start(index: int) -> Future[list[Fetched]]:  # each stage runs its batches in order
            answer = fetcher.submit(_fetch, client, to_fetch[index])
            return preparer.submit(_prepare_batch, answer)

        upcoming = deque(start(index) for index in range(min(PIPELINE_DEPTH, len(batches))))
        for index, batch in enumerate(batches):
            items = _wait_for(upcoming.popleft(), result)
            if index + PIPELINE_DEPTH < len(batches):
                upcoming.append(start(index + PIPELINE_DEPTH))
            result.keepalive()
            # One transaction per batch, progress included: a commit per message (a disk flush
            # each) cost more than the rest of ingesting it. A crash re-fetches at most this batch.
            with transaction.atomic():
                for outcome in ingest_batch(account, folder, items):
                    setattr(result, outcome, getattr(result, outcome) + 1)
                folder.last_uid = max(folder.last_uid, *batch)
                ImapFolder.objects.filter(pk=folder.pk).update(last_uid=folder.last_uid, uidvalidity=folder.uidvalidity)


def _sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), 2000):  # chunked to stay under command line limits
        for uid, data in client.fetch(uids[start : start + 2000], ["RFC822.SIZE"]).items():
            sizes[uid] = int(data.get(b"RFC822.SIZE", 0))
    return sizes


def _batches(uids: list[int], sizes: dict[int, int]) -> list[list[int]]:
    """Consecutive UIDs in batches of at most FETCH_BATCH messages and FETCH_BATCH_BYTES (a
    message larger than that alone): the pipeline holds a few batches in memory at once."""
    batches: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) == FETCH_BATCH or total + size > FETCH_BATCH_BYTES):
            batches.append(batch)
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        batches.append(batch)
    return batches


def _fetch(client: IMAPClient, uids: list[int]) -> list[tuple[int, bytes, Iterable[bytes]]]:
    """(uid, raw bytes, flags) of the messages still on the server (one may have been expunged
    between SEARCH and FETCH)."""
    if not uids:
        return []
    fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
    return [(uid, data[b"BODY[]"], data.get(b"FLAGS", ())) for uid in uids if (data := fetched.get(uid))]


def _prepare_batch(answer: Future[list[tuple[int, bytes, Iterable[bytes]]]]) -> list[Fetched]:
    """Store and parse a fetched batch (no database access: this runs in the pipeline's thread)."""
    found = answer.result()
    parsed = store_and_parse_many([raw for _, raw, _ in found])
    return [Fetched(uid, incoming, set(flags)) for (uid, _, flags), incoming in zip(found, parsed, strict=True)]


def _wait_for(future: Future[list[Fetched]], result: SyncResult) -> list[Fetched]:
    """The prefetched batch, renewing the account lock while a slow one (huge messages) arrives."""
    while True:
        try:
            return future.result(timeout=LOCK_SECONDS / 4)
        except TimeoutError:
            result.keepalive()


@dataclass
class Fetched:
    """A fetched message, its raw bytes stored and parsed."""

    uid: int
    incoming: IncomingMessage
    flags: set[bytes]


def ingest_batch(account: Account, folder: ImapFolder, items: list[Fetched]) -> list[str]:
    """Deliver a FETCH batch in a fixed number of statements; should anything in it fail, deliver
    its messages one by one instead, so that only the poisoned one fails."""
    if len(items) > 1:
        try:
            with transaction.atomic():
                return _deliver_batch(account, folder, items)
        except Exception:
            logger.warning(
                "A batch of %s messages in %s failed; delivering them one by one",
                len(items),
                folder.name,
                exc_info=True,
            )
    return [_deliver(account, folder, item) for item in items]


def _deliver_batch(account: Account, folder: ImapFolder, items: list[Fetched]) -> list[str]:
    deliveries = [Delivery(item.incoming, seen=b"\\Seen" in item.flags) for item in items]
    do_receive_messages(
        account,
        deliveries,
        placement=PLACEMENT.get(folder.role, Location.ARCHIVED),
        direction=Direction.OUTBOUND if folder.role == FolderRole.SENT else Direction.INBOUND,
    )
    messages = [delivery.message for delivery in deliveries]
    assert all(messages), "do_receive_messages fills every delivery in"
    flagged = {m.conversation_id for m, item in zip(messages, items, strict=True) if m and b"\\Flagged" in item.flags}
    if flagged:
        ConversationState.objects.filter(conversation_id__in=flagged, user_id=account.owner_id).update(starred=True)
    copy_insert(
        ImapMessage,
        [
            ImapMessage(
                organization_id=account.organization_id,
                account=account,
                folder=folder,
                uidvalidity=folder.uidvalidity or 0,
                uid=item.uid,
                message=message,
                rfc_message_id=item.incoming.rfc_message_id[:500],
                raw_path=item.incoming.raw_path,
                state=ImapMessageState.INGESTED,
                seen=b"\\Seen" in item.flags,
                flagged=b"\\Flagged" in item.flags,
            )
            for message, item in zip(messages, items, strict=True)
        ],
    )
    return ["new" if delivery.created else "updated" for delivery in deliveries]


def ingest(account: Account, folder: ImapFolder, uid: int, raw: bytes, flags: Iterable[bytes]) -> str:
    """Store, parse and deliver one fetched message. Returns "new", or "updated" for an email
    already known (moved on the server, or seen in another account), or "failed": a message that
    fails is recorded as such, raw bytes kept, and never blocks the others."""
    return _deliver(account, folder, Fetched(uid, store_and_parse(raw), set(flags)))


def _retry_failed(client: IMAPClient, account: Account, folder: ImapFolder, result: SyncResult) -> None:
    """Messages whose delivery failed (a full disk, say) are tried again on later syncs."""
    failed = folder.copies().filter(state=ImapMessageState.FAILED, attempts__lt=DELIVERY_ATTEMPTS)
    for uid, raw, flags in _fetch(client, list(failed.values_list("uid", flat=True)[:FETCH_BATCH])):
        outcome = _deliver(account, folder, Fetched(uid, store_and_parse(raw), set(flags)))
        setattr(result, outcome, getattr(result, outcome) + 1)


def _deliver(account: Account, folder: ImapFolder, item: Fetched) -> str:
    uid, raw_path = item.uid, item.incoming.raw_path
    try:
        with transaction.atomic():
            # A retry replaces the record of the earlier failure (kept if this one fails too).
            folder.copies().filter(uid=uid, state=ImapMessageState.FAILED).delete()
            return _deliver_batch(account, folder, [item])[0]
    except Exception as error:  # one poisoned message must not stop the sync
        logger.exception("Message %s in %s could not be delivered", uid, folder.name)
        ImapMessage.objects.update_or_create(
            folder=folder,
            uidvalidity=folder.uidvalidity or 0,
            uid=uid,
            defaults={
                "state": ImapMessageState.FAILED,
                "error": str(error)[:2000],
                "raw_path": raw_path,
                "attempts": F("attempts") + 1,
            },
            create_defaults={
                "organization_id": account.organization_id,
                "account": account,
                "state": ImapMessageState.FAILED,
                "error": str(error)[:2000],
                "raw_path": raw_path,
                "attempts": 1,
            },
        )
        return "failed"


def _remap_uidvalidity(client: IMAPClient, folder: ImapFolder, uidvalidity: int) -> None:
    """The server renumbered the folder: move our records to the new UIDs by Message-ID, so
    nothing is fetched or delivered twice."""
    records = {r.rfc_message_id: r for r in ImapMessage.objects.filter(folder=folder).exclude(rfc_message_id="")}
    uids = client.search("ALL")
    new_last = 0
    for start in range(0, len(uids), 500):
        batch = uids[start : start + 500]
        headers = client.fetch(batch, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        for uid, data in headers.items():
            message_id = _header_value(data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b""))
            record = records.pop(message_id, None)
            if record is not None:
                record.uidvalidity, record.uid = uidvalidity, uid
                record.save(update_fields=["uidvalidity", "uid"])
                new_last = max(new_last, uid)
    # Records without a match are gone from the folder; anything unmatched on the server is new.
    ImapMessage.objects.filter(pk__in=[r.pk for r in records.values()]).delete()
    ImapMessage.objects.filter(folder=folder).exclude(uidvalidity=uidvalidity).delete()
    folder.uidvalidity = uidvalidity
    folder.last_uid = 0
    folder.save(update_fields=["uidvalidity", "last_uid"])


def _header_value(block: bytes) -> str:
    text = block.decode(errors="replace")
    _, _, value = text.partition(":")
    return " ".join(value.split())


def _apply_flag_changes(
    client: IMAPClient, account: Account, folder: ImapFolder, *, since: int | None, qresync: bool = False
) -> tuple[int, set[int]]:
    """\\Seen and \\Flagged set on the server become the owner's read and starred state. Returns
    how many changed and, with QRESYNC, the UIDs expunged since `since`."""
    modifiers = [f"CHANGEDSINCE {since}", *(["VANISHED"] if qresync else [])] if since is not None else None
    known_uids = list(folder.copies().values_list("uid", flat=True))
    changed: dict[int, Any] = {}
    vanished: set[int] = set()
    # Explicit UIDs (imapclient cannot filter a "1:*" answer), chunked to stay under line limits.
    for start in range(0, len(known_uids), 2000):
        changed.update(client.fetch(known_uids[start : start + 2000], ["FLAGS"], modifiers=modifiers))
        vanished |= _take_vanished(client)
    updates = 0
    records = {r.uid: r for r in folder.copies().filter(uid__in=list(changed)).exclude(message=None)}
    for uid, data in changed.items():
        record = records.get(uid)
        if record is None:
            continue
        flags = set(data.get(b"FLAGS", ()))
        seen, flagged = b"\\Seen" in flags, b"\\Flagged" in flags
        if (seen, flagged) == (record.seen, record.flagged):
            continue
        record.seen, record.flagged = seen, flagged
        record.save(update_fields=["seen", "flagged"])
        ConversationState.objects.filter(conversation__messages=record.message_id, user_id=account.owner_id).update(
            unread=not seen, starred=flagged
        )
        updates += 1
    if updates:
        invalidate_counts([account.owner_id])
    return updates, vanished


def _take_vanished(client: IMAPClient) -> set[int]:
    """The UIDs of `* VANISHED (EARLIER) 41,43:45` answers (RFC 7162), which imapclient leaves
    among imaplib's untagged responses."""
    uids: set[int] = set()
    for line in client._imap.untagged_responses.pop("VANISHED", []):
        text = line.decode() if isinstance(line, bytes) else str(line)
        for part in text.replace("(EARLIER)", "").strip().split(","):
            first, _, last = part.partition(":")
            if first.strip().isdigit():
                uids.update(range(int(first), int(last or first) + 1))
    return uids


def _forget_vanished(client: IMAPClient, folder: ImapFolder) -> set[Any]:
    """Copies no longer in the folder were moved or deleted on the server."""
    present = set(client.search("ALL"))
    return _forget_copies(folder.copies().exclude(uid__in=present))


def _forget(folder: ImapFolder, vanished: set[int]) -> set[Any]:
    return _forget_copies(folder.copies().filter(uid__in=vanished)) if vanished else set()


def _forget_copies(gone: QuerySet[ImapMessage]) -> set[Any]:
    message_ids = set(gone.exclude(message=None).values_list("message_id", flat=True))
    gone.delete()
    return message_ids


def reconcile_placements(account: Account, message_ids: Iterable[Any]) -> int:
    """Put the owner's copy where the server now keeps the mail: Inbox, Trash, Spam or archived."""
    changed = 0
    for message_id in message_ids:
        roles = set(
            ImapMessage.objects.filter(account=account, message_id=message_id).values_list("folder__role", flat=True)
        )
        if not roles:
            continue  # deleted on the server: Missive keeps the conversation where it is
        if FolderRole.INBOX in roles:
            location = Location.INBOX
        elif FolderRole.TRASH in roles:
            location = Location.TRASHED
        elif FolderRole.SPAM in roles:
            location = Location.SPAM
        else:
            location = Location.ARCHIVED
        changed += (
            ConversationState.objects.filter(conversation__messages=message_id, user_id=account.owner_id)
            .exclude(location=location)
            .update(location=location)
        )
    if changed:
        invalidate_counts([account.owner_id])
    return changed


def record_failure(config: ImapConfig, problem: ConnectionProblem, *, now: datetime | None = None) -> None:
    """Back off exponentially; after 30 minutes of failures the account shows as disconnected."""
    now = now or timezone.now()
    config.failing_since = config.failing_since or now
    config.failure_count += 1
    backoff = min(timedelta(seconds=30 * 2 ** min(config.failure_count - 1, 10)), MAX_BACKOFF)
    config.next_attempt_at = now + backoff
    config.save(update_fields=["failing_since", "failure_count", "next_attempt_at"])
    account = config.account
    account.status_reason = problem.message
    # A refused password will not fix itself: show it at once.
    if problem.kind == "auth" or now - config.failing_since >= DISCONNECT_AFTER:
        account.status = AccountStatus.DISCONNECTED
    account.save(update_fields=["status", "status_reason"])


def record_success(config: ImapConfig, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    config.last_success_at = now
    config.failing_since = None
    config.failure_count = 0
    config.next_attempt_at = None
    with transaction.atomic(), connection.cursor() as cursor:
        # Bookkeeping every poll writes: a crash may lose the last of it (the next sync writes it
        # again), so the commit need not wait for the disk, which can take long on a busy server.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        config.save(
            update_fields=["last_success_at", "failing_since", "failure_count", "next_attempt_at", "supports_idle"]
        )
        Account.objects.filter(pk=config.account_id).update(status=AccountStatus.CONNECTED, status_reason="")
