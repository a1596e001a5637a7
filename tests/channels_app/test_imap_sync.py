"""IMAP accounts against a real Dovecot on loopback: connect, sync, resume, mirror both ways."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.utils import timezone
from imapclient import IMAPClient

from channels_app.imap import sync
from channels_app.imap.accounts import ImapAccountDetails, do_connect_imap_account
from channels_app.imap.connection import CERTIFICATE_ERROR, ConnectionProblem, ServerSettings, connect
from channels_app.imap.sync import record_failure, sync_account
from channels_app.models import FolderRole, ImapConfig, ImapFolder, ImapMessage, ImapMessageState
from channels_app.tasks import watch_inbox
from conversations.actions import ActionRefused, do_archive, do_set_unread, do_trash
from conversations.models import Conversation, ConversationState, Location, Message
from inboxes.models import AccountStatus
from tests.mail_factory import make_email

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trust_dovecot")]
BASE_DIR = Path(__file__).resolve().parents[2]


def details(user, **overrides):
    values = {
        "email": f"{user.username}@mail.test",
        "display_name": "Test box",
        "imap_host": user.host,
        "imap_port": user.port,
        "imap_security": "starttls",
        "username": user.username,
        "password": user.password,
        "history_days": None,
    }
    values.update(overrides)
    return ImapAccountDetails(**values)


def connect_account(cast, user, **kwargs):
    account, _ = do_connect_imap_account(cast.org, details(user), owner=cast.owner, **kwargs)
    return account


def email(n, **kwargs):
    return make_email(
        subject=kwargs.pop("subject", f"Message {n}"),
        sender=kwargs.pop("sender", f"sender{n}@outside.test"),
        to=kwargs.pop("to", "box@mail.test"),
        body=kwargs.pop("body", f"Body {n}"),
        message_id=kwargs.pop("message_id", f"<m{n}@outside.test>"),
        **kwargs,
    )


def owner_state(cast, message_id):
    message = Message.objects.get(rfc_message_id=message_id)
    return ConversationState.objects.get(conversation=message.conversation, user=cast.owner)


# --- Connecting ----------------------------------------------------------------------------------


def test_connecting_verifies_and_stores_the_password_encrypted(cast, imap_user):
    account = connect_account(cast, imap_user)

    assert account.credentials["imap_password"] == imap_user.password
    assert imap_user.password.encode() not in bytes(account.encrypted_credentials)
    assert account.imap.imap_host == imap_user.host


def test_wrong_password_is_refused_with_a_clear_error_and_nothing_saved(cast, imap_user):
    with pytest.raises(ConnectionProblem) as problem:
        do_connect_imap_account(cast.org, details(imap_user, password="wrong"), owner=cast.owner)

    assert problem.value.kind == "auth"
    assert "password" in problem.value.message
    assert not ImapConfig.objects.exists()


def test_unreachable_host_is_refused(cast, imap_user):
    closed_port = imap_user.port + 1 if imap_user.port + 1 != imap_user.ssl_port else imap_user.port + 2
    with pytest.raises(ConnectionProblem) as problem:
        do_connect_imap_account(cast.org, details(imap_user, imap_port=closed_port), owner=cast.owner)
    assert problem.value.kind == "unreachable"


def test_self_signed_certificate_is_refused_with_the_seed_message(cast, imap_user, settings):
    settings.IMAP_EXTRA_CA_FILE = ""
    server = ServerSettings(imap_user.host, imap_user.ssl_port, "ssl", imap_user.username, imap_user.password)
    with pytest.raises(ConnectionProblem) as problem:
        connect(server)
    assert problem.value.kind == "certificate"
    assert problem.value.message.startswith(CERTIFICATE_ERROR)


def test_implicit_tls_works_when_the_certificate_is_trusted(imap_user):
    server = ServerSettings(imap_user.host, imap_user.ssl_port, "ssl", imap_user.username, imap_user.password)
    client = connect(server)
    assert client.has_capability("IDLE")
    client.logout()


def test_adding_the_same_account_again_refreshes_it(cast, imap_user):
    first = connect_account(cast, imap_user)
    again, created = do_connect_imap_account(cast.org, details(imap_user, display_name="Renamed"), owner=cast.owner)

    assert not created and again.id == first.id
    assert again.display_name == "Renamed"
    assert ImapConfig.objects.count() == 1


# --- Sync ----------------------------------------------------------------------------------------


def test_initial_sync_files_mail_by_folder(cast, imap_user, dovecot):
    user = imap_user.username
    dovecot.append(user, "INBOX", email(1))
    dovecot.append(
        user,
        "INBOX",
        email(2, subject="Re: Message 1", in_reply_to="<m1@outside.test>", references=["<m1@outside.test>"]),
        flags=["\\Seen"],
    )
    dovecot.append(user, "Archive", email(3))
    dovecot.append(user, "Sent", email(4, sender=f"{user}@mail.test", to="client@outside.test"))
    dovecot.append(user, "Junk", email(5))
    dovecot.append(user, "Trash", email(6))
    dovecot.append(user, "Drafts", email(7))
    account = connect_account(cast, imap_user)

    result = sync_account(account)

    assert (result.new, result.failed) == (6, 0)
    assert (
        Message.objects.get(rfc_message_id="<m1@outside.test>").conversation_id
        == Message.objects.get(rfc_message_id="<m2@outside.test>").conversation_id
    )
    assert owner_state(cast, "<m2@outside.test>").location == Location.INBOX
    assert not owner_state(cast, "<m2@outside.test>").unread, "\\Seen on the newest copy is read for the owner"
    assert owner_state(cast, "<m3@outside.test>").location == Location.ARCHIVED
    sent = Message.objects.get(rfc_message_id="<m4@outside.test>")
    assert sent.direction == "out" and sent.conversation.has_outbound
    assert owner_state(cast, "<m5@outside.test>").location == Location.SPAM
    assert owner_state(cast, "<m6@outside.test>").location == Location.TRASHED
    assert not Message.objects.filter(rfc_message_id="<m7@outside.test>").exists(), "drafts stay on the server"
    roles = dict(ImapFolder.objects.filter(account=account).values_list("name", "role"))
    assert roles == {
        "INBOX": "inbox",
        "Archive": "archive",
        "Sent": "sent",
        "Junk": "spam",
        "Trash": "trash",
        "Drafts": "drafts",
    }
    assert Message.objects.get(rfc_message_id="<m1@outside.test>").raw_file.read().startswith(b"")


def test_incremental_sync_fetches_only_new_mail_and_an_unchanged_mailbox_costs_nothing(cast, imap_user, dovecot):
    account = connect_account(cast, imap_user)
    dovecot.append(imap_user.username, "INBOX", email(1))
    assert sync_account(account).new == 1
    dovecot.append(imap_user.username, "INBOX", email(2))

    assert sync_account(account).new == 1
    unchanged = sync_account(account)

    assert (unchanged.new, unchanged.updated, unchanged.failed) == (0, 0, 0)
    assert Message.objects.count() == 2


def test_large_messages_are_fetched_in_smaller_batches(cast, imap_user, dovecot, monkeypatch):
    big = [email(n, attachments=[("big.bin", bytes([n]) * 300_000, "application/pdf")]) for n in range(5)]
    dovecot.append_many(imap_user.username, "INBOX", big)
    account = connect_account(cast, imap_user)
    monkeypatch.setattr(sync, "FETCH_BATCH_BYTES", 1_000_000)  # each message is about 410 KB: two fit
    bodies_fetched = []
    real_fetch = IMAPClient.fetch

    def recorded_fetch(client, messages, data, modifiers=None):
        if "BODY.PEEK[]" in data:
            bodies_fetched.append(len(messages))
        return real_fetch(client, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", recorded_fetch)

    result = sync_account(account)

    assert result.new == 5 and Message.objects.count() == 5
    assert bodies_fetched == [2, 2, 1]


def test_history_window_skips_older_mail_on_the_first_sync(cast, imap_user, dovecot):
    old = timezone.now() - timedelta(days=90)
    dovecot.append(imap_user.username, "INBOX", email(1, date=old), date=old)
    dovecot.append(imap_user.username, "INBOX", email(2))
    account, _ = do_connect_imap_account(cast.org, details(imap_user, history_days=30), owner=cast.owner)

    sync_account(account)

    assert list(Message.objects.values_list("rfc_message_id", flat=True)) == ["<m2@outside.test>"]


def test_server_flags_become_the_owner_read_and_starred_state(cast, imap_user, dovecot):
    uid = dovecot.append(imap_user.username, "INBOX", email(1))
    account = connect_account(cast, imap_user)
    sync_account(account)
    assert owner_state(cast, "<m1@outside.test>").unread

    dovecot.add_flags(imap_user.username, "INBOX", uid, ["\\Seen", "\\Flagged"])
    result = sync_account(account)

    state = owner_state(cast, "<m1@outside.test>")
    assert result.updated == 1 and not state.unread and state.starred


def test_mail_moved_on_the_server_moves_in_missive(cast, imap_user, dovecot):
    uid = dovecot.append(imap_user.username, "INBOX", email(1))
    other = dovecot.append(imap_user.username, "INBOX", email(2))
    account = connect_account(cast, imap_user)
    sync_account(account)

    dovecot.move(imap_user.username, uid, "INBOX", "Archive")
    dovecot.move(imap_user.username, other, "INBOX", "Trash")
    sync_account(account)

    assert owner_state(cast, "<m1@outside.test>").location == Location.ARCHIVED
    assert owner_state(cast, "<m2@outside.test>").location == Location.TRASHED
    assert Message.objects.count() == 2, "moved, not duplicated"


def test_uidvalidity_change_remaps_without_duplicating(cast, imap_user, dovecot):
    for n in range(3):
        dovecot.append(imap_user.username, "INBOX", email(n))
    account = connect_account(cast, imap_user)
    sync_account(account)
    old = ImapFolder.objects.get(account=account, name="INBOX").uidvalidity

    dovecot.change_uidvalidity(imap_user.username, "INBOX")
    result = sync_account(account)

    folder = ImapFolder.objects.get(account=account, name="INBOX")
    assert folder.uidvalidity != old
    assert result.new == 0 and Message.objects.count() == 3
    assert set(ImapMessage.objects.filter(folder=folder).values_list("uidvalidity", flat=True)) == {folder.uidvalidity}


def test_the_same_email_in_two_accounts_becomes_one_conversation(cast, dovecot):
    first_user, second_user = dovecot.add_random_user(), dovecot.add_random_user()
    raw = email(1, to="everyone@acme.test")
    dovecot.append(first_user.username, "INBOX", raw)
    dovecot.append(second_user.username, "INBOX", raw)
    first, second = connect_account(cast, first_user), connect_account(cast, second_user)

    sync_account(first)
    sync_account(second)

    assert Message.objects.count() == 1 and Conversation.objects.count() == 1
    assert ImapMessage.objects.count() == 2


def test_a_message_that_cannot_be_parsed_is_kept_raw_and_does_not_block_the_rest(cast, imap_user, dovecot):
    dovecot.append(imap_user.username, "INBOX", b"\x00\xff\xfe garbage without headers \x00")
    dovecot.append(imap_user.username, "INBOX", email(2))
    account = connect_account(cast, imap_user)

    result = sync_account(account)

    assert result.failed == 0 and result.new == 2
    broken = Message.objects.exclude(parse_error="").get()
    assert broken.raw_file.name and broken.subject
    assert Message.objects.filter(rfc_message_id="<m2@outside.test>").exists()


def _database_url() -> str:
    """The suite's DATABASE_URL pointed at the test database, for a sync in another process."""
    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))


def test_a_sync_killed_midway_resumes_with_each_message_exactly_once(cast, imap_user, dovecot, tmp_path):
    total = 1000  # ten batches: the kill lands mid-sync however fast the pipeline runs
    dovecot.append_many(imap_user.username, "INBOX", (email(n) for n in range(total)))
    account = connect_account(cast, imap_user)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "IMAP_EXTRA_CA_FILE": settings.IMAP_EXTRA_CA_FILE,
        "FILE_STORAGE_ROOT": str(tmp_path),
    }
    command = [sys.executable, str(BASE_DIR / "manage.py"), "sync_account", str(account.id), "--once"]
    process = subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while Message.objects.count() < total // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    interrupted_at = Message.objects.count()
    assert 0 < interrupted_at < total, f"killed in the middle ({stderr.decode()[-2000:]})"

    completed = subprocess.run(command, env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr
    assert Message.objects.count() == total
    assert ImapMessage.objects.count() == total
    assert Message.objects.values("rfc_message_id").distinct().count() == total
    assert "new" in completed.stdout and "failed" in completed.stdout


# --- Connection health ---------------------------------------------------------------------------


def test_failing_account_is_marked_disconnected_after_thirty_minutes_and_others_keep_syncing(cast, imap_user, dovecot):
    healthy_user = dovecot.add_random_user()
    broken = connect_account(cast, imap_user)
    healthy = connect_account(cast, healthy_user)
    dovecot.append(healthy_user.username, "INBOX", email(1))
    ImapConfig.objects.filter(account=broken).update(imap_port=1)  # nothing listens there
    start = timezone.now()

    with pytest.raises(ConnectionProblem):
        sync_account(broken, now=start)
    broken.refresh_from_db()
    assert broken.status == AccountStatus.CONNECTED, "not yet: the seed waits 30 minutes"
    assert sync_account(healthy).new == 1

    config = ImapConfig.objects.get(account=broken)
    record_failure(config, ConnectionProblem("unreachable", "Could not reach"), now=start + timedelta(minutes=31))
    broken.refresh_from_db()
    config.refresh_from_db()
    assert broken.status == AccountStatus.DISCONNECTED and "Could not reach" in broken.status_reason
    assert config.next_attempt_at > start + timedelta(minutes=31), "retried later, with backoff"


def test_reconnecting_clears_the_disconnected_state(cast, imap_user):
    account = connect_account(cast, imap_user)
    ImapConfig.objects.filter(account=account).update(failing_since=timezone.now() - timedelta(hours=1))
    account.status = AccountStatus.DISCONNECTED
    account.save()

    sync_account(account)

    account.refresh_from_db()
    assert account.status == AccountStatus.CONNECTED and account.status_reason == ""


# --- Missive -> server ---------------------------------------------------------------------------


def test_owner_actions_reach_the_server(cast, imap_user, dovecot):
    uid = dovecot.append(imap_user.username, "INBOX", email(1))
    dovecot.append(imap_user.username, "INBOX", email(2))
    account = connect_account(cast, imap_user)
    sync_account(account)
    first = Message.objects.get(rfc_message_id="<m1@outside.test>").conversation
    second = Message.objects.get(rfc_message_id="<m2@outside.test>").conversation

    do_set_unread(first, acting_user=cast.owner, unread=False)
    assert "\\Seen" in dovecot.get_flags(imap_user.username, "INBOX")[uid]
    do_archive(first, acting_user=cast.owner)
    do_trash(second, acting_user=cast.owner)

    assert dovecot.list_uids(imap_user.username, "INBOX") == []
    assert set(dovecot.fetch_message_ids(imap_user.username, "Archive").values()) == {"<m1@outside.test>"}
    assert set(dovecot.fetch_message_ids(imap_user.username, "Trash").values()) == {"<m2@outside.test>"}
    assert sync_account(account).new == 0 and Message.objects.count() == 2


def test_archiving_without_an_archive_folder_says_mailboxes_not_configured(cast, dovecot):
    user = dovecot.add_random_user(special_folders=False)
    dovecot.append(user.username, "INBOX", email(1))
    account = connect_account(cast, user)
    sync_account(account)
    conversation = Message.objects.get().conversation

    with pytest.raises(ActionRefused, match="Mailboxes not configured"):
        do_archive(conversation, acting_user=cast.owner)
    assert ConversationState.objects.get(conversation=conversation, user=cast.owner).location == Location.INBOX

    dovecot.create_folder(user.username, "Old mail")
    sync_account(account)
    ImapFolder.objects.filter(account=account, name="Old mail").update(role=FolderRole.ARCHIVE, role_is_manual=True)
    do_archive(conversation, acting_user=cast.owner)
    assert set(dovecot.fetch_message_ids(user.username, "Old mail").values()) == {"<m1@outside.test>"}


def test_other_members_archiving_stays_in_missive(cast, imap_user, dovecot):
    dovecot.append(imap_user.username, "INBOX", email(1))
    account = connect_account(cast, imap_user, team=cast.support, shared=True)
    sync_account(account)
    conversation = Message.objects.get().conversation
    ConversationState.objects.filter(conversation=conversation, user=cast.teammate).update(location=Location.INBOX)

    do_archive(conversation, acting_user=cast.teammate)

    assert len(dovecot.list_uids(imap_user.username, "INBOX")) == 1


# --- IDLE ----------------------------------------------------------------------------------------


def test_idle_brings_new_mail_in_within_five_seconds(cast, imap_user, dovecot, settings):
    settings.IMAP_IDLE_SECONDS = 8
    account = connect_account(cast, imap_user)
    sync_account(account)

    def watch() -> None:
        try:
            watch_inbox(str(account.id))
        finally:
            connection.close()  # this thread's own database connection

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(1)

    delivered_at = time.monotonic()
    dovecot.append(imap_user.username, "INBOX", email(1))
    while not Message.objects.exists() and time.monotonic() - delivered_at < 5:
        time.sleep(0.1)

    assert Message.objects.exists(), "new mail arrived through IDLE within 5 s"
    assert ImapMessage.objects.get().state == ImapMessageState.INGESTED
    watcher.join(timeout=15)


def test_a_connection_dropped_mid_fetch_resumes_with_each_message_exactly_once(cast, imap_user, dovecot):
    total = 2000  # enough batches that the drop lands while the pipeline is still fetching
    dovecot.append_many(imap_user.username, "INBOX", (email(n) for n in range(total)))
    account = connect_account(cast, imap_user)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = sync_account(account)
        except ConnectionProblem as problem:
            outcome["problem"] = problem
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while Message.objects.count() < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    dovecot.kill_connections(imap_user.username)
    worker.join(timeout=60)

    assert "problem" in outcome, "the drop surfaced as a connection problem"
    assert 0 < Message.objects.count() < total
    sync_account(account)
    assert Message.objects.count() == total and ImapMessage.objects.count() == total


POISON = b"refused by the disk"


def _full_disk(monkeypatch) -> None:
    """A disk that refuses POISON (with tmp_storage: files stored by another test are not
    written, nor refused, again)."""
    real_save = FileSystemStorage.save

    def full_disk(storage, name, content, max_length=None):
        if content.read() == POISON:
            raise OSError("No space left on device")
        content.seek(0)
        return real_save(storage, name, content, max_length=max_length)

    monkeypatch.setattr(FileSystemStorage, "save", full_disk)


def test_a_message_whose_delivery_fails_is_recorded_and_does_not_block_the_rest(
    cast, imap_user, dovecot, monkeypatch, tmp_storage
):
    """A disk that refuses one attachment (the storage edge) poisons one message, not the sync."""
    dovecot.append(imap_user.username, "INBOX", email(1, attachments=[("poison.bin", POISON, "application/pdf")]))
    dovecot.append(imap_user.username, "INBOX", email(2))
    account = connect_account(cast, imap_user)
    _full_disk(monkeypatch)

    result = sync_account(account)

    assert (result.new, result.failed) == (1, 1)
    failed = ImapMessage.objects.get(state=ImapMessageState.FAILED)
    assert "No space left" in failed.error and failed.raw_path, "kept raw, with the reason"
    assert Message.objects.filter(rfc_message_id="<m2@outside.test>").exists()
    assert not Message.objects.filter(rfc_message_id="<m1@outside.test>").exists(), "nothing half-delivered"


def test_a_failed_delivery_is_tried_again_on_the_next_sync(cast, imap_user, dovecot, monkeypatch, tmp_storage):
    dovecot.append(imap_user.username, "INBOX", email(1, attachments=[("a.bin", POISON, "application/pdf")]))
    account = connect_account(cast, imap_user)
    _full_disk(monkeypatch)
    assert sync_account(account).failed == 1

    monkeypatch.undo()  # the disk has room again
    result = sync_account(account)

    assert (result.new, result.failed) == (1, 0)
    record = ImapMessage.objects.get()
    assert record.state == ImapMessageState.INGESTED and record.message.rfc_message_id == "<m1@outside.test>"


def test_a_delivery_that_keeps_failing_is_tried_three_times_then_left_alone(
    cast, imap_user, dovecot, monkeypatch, tmp_storage
):
    dovecot.append(imap_user.username, "INBOX", email(1, attachments=[("a.bin", POISON, "application/pdf")]))
    account = connect_account(cast, imap_user)
    _full_disk(monkeypatch)

    assert [sync_account(account).failed for _ in range(4)] == [1, 1, 1, 0]
    record = ImapMessage.objects.get()
    assert (record.state, record.attempts) == (ImapMessageState.FAILED, sync.DELIVERY_ATTEMPTS)
    assert "No space left" in record.error and record.raw_path


def test_mail_deleted_on_the_server_stays_in_missive(cast, imap_user, dovecot):
    uid = dovecot.append(imap_user.username, "INBOX", email(1))
    account = connect_account(cast, imap_user)
    sync_account(account)

    dovecot.delete(imap_user.username, "INBOX", uid)
    sync_account(account)

    assert owner_state(cast, "<m1@outside.test>").location == Location.INBOX, "Missive keeps it"
    assert not ImapMessage.objects.exists(), "no longer on the server"


def test_with_qresync_expunged_mail_is_found_without_listing_the_folder(cast, imap_user, dovecot, monkeypatch):
    uids = [dovecot.append(imap_user.username, "INBOX", email(n)) for n in range(3)]
    account = connect_account(cast, imap_user)
    sync_account(account)
    searches = []
    real_search = IMAPClient.search

    def recorded_search(client, criteria="ALL", charset=None):
        searches.append(criteria)
        return real_search(client, criteria, charset)

    monkeypatch.setattr(IMAPClient, "search", recorded_search)
    dovecot.delete(imap_user.username, "INBOX", uids[1])

    sync_account(account)

    assert sorted(ImapMessage.objects.values_list("uid", flat=True)) == [uids[0], uids[2]]
    assert "ALL" not in searches, "the server's VANISHED answer named the expunged message"


def test_spam_and_not_spam_move_the_mail_on_the_server(cast, imap_user, dovecot):
    dovecot.append(imap_user.username, "INBOX", email(1))
    account = connect_account(cast, imap_user)
    sync_account(account)
    conversation = Message.objects.get().conversation
    from conversations.actions import do_mark_not_spam, do_mark_spam

    do_mark_spam(conversation, acting_user=cast.owner)
    assert set(dovecot.fetch_message_ids(imap_user.username, "Junk").values()) == {"<m1@outside.test>"}
    sync_account(account)
    do_mark_not_spam(conversation, acting_user=cast.owner)

    assert set(dovecot.fetch_message_ids(imap_user.username, "INBOX").values()) == {"<m1@outside.test>"}
    assert dovecot.list_uids(imap_user.username, "Junk") == []


def test_auto_replies_bulk_mail_and_trackers_are_recorded_on_the_message(cast, imap_user, dovecot):
    dovecot.append(imap_user.username, "INBOX", email(1, headers={"Auto-Submitted": "auto-replied"}))
    dovecot.append(
        imap_user.username,
        "INBOX",
        email(
            2,
            headers={"List-Unsubscribe": "<mailto:unsubscribe@news.test>", "Precedence": "bulk"},
            html='<p>News</p><img src="https://news.test/open.gif" width="1" height="1">',
        ),
    )
    sync_account(connect_account(cast, imap_user))

    auto_reply = Message.objects.get(rfc_message_id="<m1@outside.test>")
    newsletter = Message.objects.get(rfc_message_id="<m2@outside.test>")
    assert auto_reply.is_auto_reply and not auto_reply.is_bulk
    assert newsletter.is_bulk and newsletter.has_read_trackers and not newsletter.is_auto_reply
