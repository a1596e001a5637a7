"""The outbox dispatcher: claim due rows, send them over SMTP, record what happened, never twice.

A row's life: PENDING (waiting for its time) → SENDING (claimed by one dispatcher, with a lease)
→ TRANSMITTING (committed right before the DATA command) → SENT, then a copy goes to the
provider's Sent folder. The two leased states tell a crash apart:
- SENDING with a lapsed lease: the message data was never handed over, so the reaper puts the
  row back to PENDING and it is sent later, once.
- TRANSMITTING with a lapsed lease: the server may have taken the message. The row is FAILED
  with a reason saying so and never retried by itself: a person decides.
Only the dispatcher that holds the claim can move its row to TRANSMITTING (a conditional update),
so a slow dispatcher whose lease was reaped cannot send a row another one now holds.

Temporary failures (4xx, unreachable) go back to PENDING with a growing delay, until
MAX_ATTEMPTS; permanent ones (5xx, refused login) fail at once with the server's words. A failed
row keeps its message: do_retry_outbox sends it again when someone asks.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from imapclient.exceptions import IMAPClientError

from channels_app import transports
from channels_app.email.compose import build_mime, envelope_recipients
from channels_app.email.smtp import SmtpProblem, SmtpSession, smtp_server
from channels_app.email.storage import store_raw
from channels_app.imap.connection import ConnectionProblem, ServerSettings, connect, logout
from channels_app.models import FolderRole, ImapConfig, ImapFolder
from conversations.models import Attachment, Message, OutboxMessage, OutboxStatus
from conversations.sending import new_message_id
from inboxes.models import Account, AccountStatus, User

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# How long a claim holds before the reaper may take it back. Sending a batch of BATCH_SIZE takes
# seconds; the lease only has to outlast a slow server, and a lapsed one never causes a resend.
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
UNCERTAIN_REASON = (
    "The connection was lost while sending; it may have been sent. Check with the recipient before sending again."
)
_LEASED = (OutboxStatus.SENDING, OutboxStatus.TRANSMITTING)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8… minutes after the 1st, 2nd, 3rd, 4th… failed attempt, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # Rows this dispatcher had lost its claim on by the time it reached them.
    skipped: int = 0
    released: int = 0


# Claiming -----------------------------------------------------------------------------------------


def claim_due(*, worker: str, limit: int = BATCH_SIZE, now: datetime | None = None) -> list[OutboxMessage]:
    """Take up to `limit` due PENDING rows for this worker: SKIP LOCKED lets dispatchers run side by
    side, each claiming other rows; the claim is committed before any SMTP traffic."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, send_after__lte=now)
            .order_by("send_after")[:limit]
        )
        if not rows:
            return []
        lease = now + LEASE
        OutboxMessage.objects.filter(id__in=[row.id for row in rows]).update(
            status=OutboxStatus.SENDING, claimed_by=worker, lease_until=lease
        )
    for row in rows:
        row.status, row.claimed_by, row.lease_until = OutboxStatus.SENDING, worker, lease
    return rows


def _mine(row: OutboxMessage, *statuses: str) -> Q:
    return Q(id=row.id, claimed_by=row.claimed_by, status__in=statuses or _LEASED)


# Dispatching --------------------------------------------------------------------------------------


def dispatch_due(*, worker: str | None = None, limit: int = BATCH_SIZE, append: bool = True) -> DispatchResult:
    """Claim due rows and send them, one SMTP session per account; then copy what went to the
    accounts' Sent folders (a failed copy is left for append_pending_sent_copies)."""
    worker = worker or worker_name()
    result = DispatchResult()
    rows = claim_due(worker=worker, limit=limit)
    by_account: dict[UUID, list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        by_account[row.account_id].append(row)
    for account_id, account_rows in by_account.items():
        _send_for_account(account_id, account_rows, result)
    if append:
        for account_id in by_account:
            append_sent_copies(account_id)
    return result


def _send_for_account(account_id: UUID, rows: list[OutboxMessage], result: DispatchResult) -> None:
    account = Account.objects.get(id=account_id)
    sender = transports.sender_for(account.kind)
    if sender is not None:
        _send_through(sender, account, rows, result)
        return
    config = ImapConfig.objects.select_related("account").filter(account_id=account_id).first()
    if config is None:
        problem = SmtpProblem("This account cannot send email.", permanent=True)
        for row in rows:
            _record_problem(row, problem, result)
        return
    messages = Message.objects.in_bulk([row.message_id for row in rows])
    # Message-IDs are stored before anything is sent: even a send that ends uncertain can be
    # looked for at the recipient's by its Message-ID.
    unnamed = [m for m in messages.values() if not m.rfc_message_id]
    for message in unnamed:
        message.rfc_message_id = new_message_id(message.from_address)
    Message.objects.bulk_update(unnamed, ["rfc_message_id"])
    attachments = _attachments_of(messages)

    session = SmtpSession(smtp_server(config))
    try:
        session.connect()
    except SmtpProblem as problem:
        _mark_account(config.account, problem)
        for row in rows:
            _record_problem(row, problem, result)
        session.close()
        return
    try:
        for index, row in enumerate(rows):
            message = messages[row.message_id]
            try:
                session.envelope(message.from_address, envelope_recipients(message))
            except SmtpProblem as problem:
                _record_problem(row, problem, result)
                if problem.connection_lost or not _reset(session):
                    _release(rows[index + 1 :], result)
                    return
                continue
            raw = _transmitting(row, message, attachments[message.id])
            if raw is None:  # the claim was taken back meanwhile: someone else owns this row now
                result.skipped += 1
                if not _reset(session):
                    _release(rows[index + 1 :], result)
                    return
                continue
            try:
                session.data(raw)
            except SmtpProblem as problem:
                if problem.uncertain:
                    _fail(row, UNCERTAIN_REASON, result)
                    _release(rows[index + 1 :], result)
                    return
                _record_problem(row, problem, result)  # the server answered: it did not take it
                continue
            _mark_sent(row, message, raw)
            result.sent += 1
    finally:
        session.close()


def _attachments_of(messages: dict[UUID, Message]) -> dict[UUID, list[Attachment]]:
    attachments: dict[UUID, list[Attachment]] = defaultdict(list)
    for attachment in Attachment.objects.filter(message_id__in=list(messages)).order_by("filename"):
        attachments[attachment.message_id].append(attachment)
    return attachments


def _send_through(
    sender: transports.Sender, account: Account, rows: list[OutboxMessage], result: DispatchResult
) -> None:
    """An HTTP provider: one request per message, each claimed as TRANSMITTING first, as over SMTP."""
    messages = Message.objects.in_bulk([row.message_id for row in rows])
    attachments = _attachments_of(messages)
    for row in rows:
        message = messages[row.message_id]
        if not _claim_transmitting(row):
            result.skipped += 1
            continue
        try:
            sent = sender(account, message, attachments[message.id])
        except transports.SendProblem as problem:
            if problem.uncertain:
                _fail(row, UNCERTAIN_REASON, result)
            else:
                _record_problem(row, problem, result)
            continue
        with transaction.atomic():
            OutboxMessage.objects.filter(_mine(row)).update(
                status=OutboxStatus.SENT, sent_at=timezone.now(), lease_until=None, claimed_by="", last_error=""
            )
            # A status callback may have come first (it carries the id): it is not overwritten.
            Message.objects.filter(id=message.id).update(external_id=sent.external_id)
            Message.objects.filter(id=message.id, delivery_status="").update(delivery_status=sent.status)
        row.status = OutboxStatus.SENT
        result.sent += 1


def _reset(session: SmtpSession) -> bool:
    try:
        session.reset()
    except SmtpProblem:
        return False
    return True


def _transmitting(row: OutboxMessage, message: Message, attachments: list[Attachment]) -> bytes | None:
    """Commit TRANSMITTING right before DATA, if this dispatcher still holds the row; the bytes
    to send, or None. This commit must be durable: lost, the row would look never sent."""
    raw = build_mime(message, attachments, date=timezone.now())
    return raw if _claim_transmitting(row) else None


def _claim_transmitting(row: OutboxMessage) -> bool:
    updated = OutboxMessage.objects.filter(_mine(row, OutboxStatus.SENDING)).update(
        status=OutboxStatus.TRANSMITTING, lease_until=timezone.now() + LEASE
    )
    if updated:
        row.status = OutboxStatus.TRANSMITTING
    return bool(updated)


def _mark_sent(row: OutboxMessage, message: Message, raw: bytes) -> None:
    # Stored before the commit that points at it; content-addressed, so a repeat rewrites nothing.
    path = store_raw(raw)
    with transaction.atomic(), connection.cursor() as cursor:
        # Losing this commit in a database crash is safe: the row is left TRANSMITTING, which the
        # reaper fails as uncertain, never sends again. So it need not wait for the disk.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        OutboxMessage.objects.filter(_mine(row)).update(
            status=OutboxStatus.SENT, sent_at=timezone.now(), lease_until=None, claimed_by="", last_error=""
        )
        Message.objects.filter(id=message.id).update(raw_file=path, size=len(raw))
    row.status = OutboxStatus.SENT


def _record_problem(row: OutboxMessage, problem: transports.SendProblem, result: DispatchResult) -> None:
    attempts = row.attempts + 1
    if problem.permanent:
        _fail(row, problem.message, result)
    elif attempts >= MAX_ATTEMPTS:
        _fail(row, f"{problem.message} Gave up after {attempts} attempts.", result)
    else:
        OutboxMessage.objects.filter(_mine(row)).update(
            status=OutboxStatus.PENDING,
            send_after=timezone.now() + backoff(attempts),
            attempts=attempts,
            last_error=problem.message,
            claimed_by="",
            lease_until=None,
        )
        result.retrying += 1


def _fail(row: OutboxMessage, reason: str, result: DispatchResult) -> None:
    OutboxMessage.objects.filter(_mine(row)).update(
        status=OutboxStatus.FAILED,
        last_error=reason,
        attempts=row.attempts + 1,
        claimed_by="",
        lease_until=None,
    )
    result.failed += 1


def _release(rows: Iterable[OutboxMessage], result: DispatchResult) -> None:
    """Rows not tried because the session broke off: due again at once, no attempt counted."""
    ids = [row.id for row in rows]
    if ids:
        result.released += OutboxMessage.objects.filter(
            id__in=ids, status=OutboxStatus.SENDING, claimed_by__in={row.claimed_by for row in rows}
        ).update(status=OutboxStatus.PENDING, claimed_by="", lease_until=None)


def _mark_account(account: Account, problem: SmtpProblem) -> None:
    """A refused login or certificate will not fix itself: the account shows why it cannot send."""
    if problem.permanent:
        Account.objects.filter(id=account.id).update(
            status=AccountStatus.DISCONNECTED, status_reason=f"Sending failed: {problem.message}"
        )


# The reaper ---------------------------------------------------------------------------------------


def reap_expired(*, now: datetime | None = None) -> tuple[int, int]:
    """Rows whose dispatcher died: (back to PENDING, FAILED as uncertain)."""
    now = now or timezone.now()
    requeued = OutboxMessage.objects.filter(status=OutboxStatus.SENDING, lease_until__lt=now).update(
        status=OutboxStatus.PENDING, claimed_by="", lease_until=None
    )
    uncertain = OutboxMessage.objects.filter(status=OutboxStatus.TRANSMITTING, lease_until__lt=now).update(
        status=OutboxStatus.FAILED, last_error=UNCERTAIN_REASON, claimed_by="", lease_until=None
    )
    return requeued, uncertain


# Retrying by hand ---------------------------------------------------------------------------------


class RetryRefused(Exception):
    pass


@transaction.atomic
def do_retry_outbox(outbox: OutboxMessage, *, acting_user: User | None) -> OutboxMessage:
    """Send a FAILED message again, now, with a fresh count of attempts."""
    from channels_app.tasks import dispatch_outbox

    updated = OutboxMessage.objects.filter(id=outbox.id, status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, send_after=timezone.now(), attempts=0, last_error="", lease_until=None
    )
    if not updated:
        raise RetryRefused("Only a message that failed can be sent again.")
    outbox.refresh_from_db()
    transaction.on_commit(lambda: dispatch_outbox.delay())
    return outbox


# The Sent folder ----------------------------------------------------------------------------------


def append_sent_copies(account_id: UUID, *, limit: int = 100) -> int:
    """APPEND the sent messages not yet in the account's Sent folder (flagged \\Seen); returns how
    many went. A failure leaves them for the next try: it never sends anything again."""
    folder = ImapFolder.objects.filter(account_id=account_id, role=FolderRole.SENT).first()
    if folder is None:
        return 0
    rows = list(
        OutboxMessage.objects.filter(account_id=account_id, status=OutboxStatus.SENT, appended_to_sent=False)
        .select_related("message")
        .order_by("sent_at")[:limit]
    )
    if not rows:
        return 0
    config = ImapConfig.objects.select_related("account").get(account_id=account_id)
    try:
        client = connect(ServerSettings.for_account(config))
    except ConnectionProblem as problem:
        logger.info("Sent folder of %s unreachable: %s", account_id, problem.message)
        return 0
    done = 0
    try:
        for row in rows:
            message = row.message
            if not message.raw_file:
                continue
            with message.raw_file.open("rb") as handle:
                raw = handle.read()
            client.append(folder.name, raw, flags=[b"\\Seen"], msg_time=row.sent_at)
            OutboxMessage.objects.filter(id=row.id).update(appended_to_sent=True)
            done += 1
    except (IMAPClientError, OSError) as error:
        logger.info("Appending to the Sent folder of %s failed: %s", account_id, error)
    finally:
        logout(client)
    return done


def append_pending_sent_copies() -> int:
    """Beat: retry the Sent-folder copies that failed, account by account."""
    account_ids = (
        OutboxMessage.objects.filter(
            status=OutboxStatus.SENT, appended_to_sent=False, account__imap_folders__role=FolderRole.SENT
        )
        .values_list("account_id", flat=True)
        .distinct()
    )
    return sum(append_sent_copies(account_id) for account_id in list(account_ids))
