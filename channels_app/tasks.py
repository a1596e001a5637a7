"""Celery adapters: ids in, one action out, each with its own retry policy."""

from __future__ import annotations

import logging
import time

import redis
from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from imapclient.exceptions import IMAPClientError

from channels_app.imap.connection import ConnectionProblem, ServerSettings, connect, logout
from channels_app.imap.push import push_change
from channels_app.imap.sync import sync_account
from channels_app.models import ImapConfig
from channels_app.outbox import BATCH_SIZE, append_pending_sent_copies, dispatch_due, reap_expired
from inboxes.models import Account

logger = logging.getLogger(__name__)

IDLE_QUEUE = "idle"


@shared_task(ignore_result=True)
def sync_imap_account(account_id: str) -> None:
    account = Account.objects.filter(id=account_id).first()
    if account is None:
        return
    try:
        result = sync_account(account)
    except ConnectionProblem:
        return  # recorded on the account; the scheduler retries with backoff
    logger.info("Synced %s: %s new, %s updated, %s failed", account_id, result.new, result.updated, result.failed)


@shared_task(ignore_result=True)
def schedule_imap_syncs() -> int:
    """Beat: queue a sync for every IMAP account that is due (failing ones wait their backoff)."""
    now = timezone.now()
    due = ImapConfig.objects.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    account_ids = list(due.values_list("account_id", flat=True))
    for account_id in account_ids:
        sync_imap_account.delay(str(account_id))
    return len(account_ids)


@shared_task(
    autoretry_for=(ConnectionProblem, IMAPClientError, OSError), retry_backoff=30, max_retries=5, ignore_result=True
)
def push_imap_change(conversation_id: str, user_id: str, change: str) -> None:
    push_change(conversation_id, user_id, change)  # type: ignore[arg-type]


def _idle_key(account_id: str) -> str:
    return f"imap-idle:{account_id}"


@shared_task(ignore_result=True)
def ensure_idle_watchers() -> int:
    """Beat: every IDLE-capable account has one watcher; a watcher that died lets its key expire."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    started = 0
    for account_id in ImapConfig.objects.filter(supports_idle=True, failing_since__isnull=True).values_list(
        "account_id", flat=True
    ):
        if client.set(_idle_key(str(account_id)), "starting", nx=True, ex=settings.IMAP_IDLE_SECONDS + 60):
            watch_inbox.apply_async(args=[str(account_id)], queue=IDLE_QUEUE)
            started += 1
    return started


@shared_task(ignore_result=True)
def watch_inbox(account_id: str) -> None:
    """Hold an IDLE on INBOX for a while; any news triggers an incremental sync at once."""
    store = redis.Redis.from_url(settings.REDIS_URL)
    key = _idle_key(account_id)
    deadline = time.monotonic() + settings.IMAP_IDLE_SECONDS
    try:
        config = ImapConfig.objects.select_related("account").get(account_id=account_id)
        client = connect(ServerSettings.for_account(config))
    except (ImapConfig.DoesNotExist, ConnectionProblem):
        store.delete(key)
        return
    try:
        client.select_folder("INBOX", readonly=True)
        while time.monotonic() < deadline:
            store.expire(key, settings.IMAP_IDLE_SECONDS + 60)
            client.idle()
            responses = client.idle_check(timeout=min(30, max(1, deadline - time.monotonic())))
            client.idle_done()
            if responses:
                try:
                    sync_account(config.account)
                except ConnectionProblem:
                    break
    except (IMAPClientError, OSError):
        logger.info("IDLE on account %s ended; the next beat starts a new watcher", account_id)
    finally:
        store.delete(key)
        logout(client)


# Sending ----------------------------------------------------------------------------------------


@shared_task(ignore_result=True)
def dispatch_outbox() -> int:
    """Send what is due. Queued by the send action on commit for a row due now, and by beat every
    few seconds for delayed ones (undo window, send later, retries). Keeps going while full
    batches come back, so a burst drains in one task."""
    total = 0
    while True:
        result = dispatch_due()
        done = result.sent + result.retrying + result.failed + result.skipped + result.released
        total += result.sent
        if done < BATCH_SIZE:
            return total


@shared_task(ignore_result=True)
def reap_outbox() -> None:
    """Beat: take back the rows of dispatchers that died (see channels_app/outbox.py)."""
    requeued, uncertain = reap_expired()
    if requeued or uncertain:
        logger.warning("Outbox reaper: %s back to pending, %s failed as uncertain", requeued, uncertain)


@shared_task(ignore_result=True)
def append_sent_copies() -> int:
    """Beat: copies to the Sent folder that failed are tried again."""
    return append_pending_sent_copies()
