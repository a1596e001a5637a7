"""The Dovecot the IMAP tests and the benchmark run against (tests/imap_server.py), and its helpers."""

import ssl
import time
from datetime import UTC, datetime

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, LoginError

from tests.imap_server import SPECIAL_FOLDERS, SPECIAL_USE_FLAGS, DovecotServer, _members
from tests.mail_factory import make_email, varied_corpus

CAPABILITIES = {b"IDLE", b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE", b"UIDPLUS", b"MOVE"}


# A fixed Date header, so the same message built twice is the same bytes.
FIXED_DATE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def message(n: int, **extra) -> bytes:
    return make_email(
        subject=f"Message {n}",
        sender=("Zoë Sender", "sender@example.com"),
        to="support@example.org",
        body=f"Body {n}, café €.",
        message_id=f"<m{n}@example.com>",
        **{"date": FIXED_DATE, **extra},
    )


def test_starttls_login_and_capabilities(dovecot, imap_user):
    client = IMAPClient(imap_user.host, imap_user.port, ssl=False, timeout=10)
    assert b"STARTTLS" in client.capabilities()
    client.starttls(dovecot.ssl_context())
    client.login(imap_user.username, imap_user.password)
    assert set(client.capabilities()) >= CAPABILITIES
    client.logout()


def test_implicit_tls_trusts_the_generated_certificate_only(dovecot, imap_user):
    assert dovecot.cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    context = ssl.create_default_context(cadata=dovecot.cert_pem)
    client = IMAPClient(imap_user.host, imap_user.ssl_port, ssl=True, ssl_context=context, timeout=10)
    client.login(imap_user.username, imap_user.password)
    assert set(client.capabilities()) >= CAPABILITIES
    client.logout()

    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(imap_user.host, imap_user.ssl_port, ssl=True, ssl_context=ssl.create_default_context())


def test_wrong_password_and_unknown_user_are_refused(dovecot, imap_user):
    for username, password in ((imap_user.username, "wrong"), ("nobody-here", imap_user.password)):
        client = IMAPClient(imap_user.host, imap_user.port, ssl=False, timeout=10)
        with pytest.raises(LoginError):
            client.login(username, password)
        client.shutdown()


def test_special_use_folders(dovecot, imap_user, imap_user_factory):
    folders = dovecot.list_folders(imap_user.username)
    assert set(folders) == {"INBOX", *SPECIAL_FOLDERS}
    for name, flag in SPECIAL_FOLDERS.items():
        assert flag in folders[name]

    bare = imap_user_factory(special_folders=False)
    assert set(dovecot.list_folders(bare.username)) == {"INBOX"}

    # A special use is the user's own: another user's folder of that name is a plain one.
    dovecot.create_folder(bare.username, "Spam", "\\Junk")
    dovecot.create_folder(bare.username, "Sent Items", "\\Sent")
    dovecot.create_folder(bare.username, "Junk")
    dovecot.create_folder(imap_user.username, "Spam")
    bare_folders = dovecot.list_folders(bare.username)
    assert "\\Junk" in bare_folders["Spam"] and "\\Sent" in bare_folders["Sent Items"]
    assert not SPECIAL_USE_FLAGS & set(bare_folders["Junk"])
    assert not SPECIAL_USE_FLAGS & set(dovecot.list_folders(imap_user.username)["Spam"])

    # A name the configuration does not know yet costs a reload; logged-in sessions survive it.
    with dovecot.connect(imap_user.username) as client:
        dovecot.create_folder(imap_user.username, "Zz Custom/Nested", "\\Archive")
        assert "\\Archive" in dovecot.list_folders(imap_user.username)["Zz Custom/Nested"]
        assert client.noop()

    dovecot.delete_folder(imap_user.username, "Spam")
    assert "Spam" not in dovecot.list_folders(imap_user.username)


def test_append_move_flags_delete(dovecot, imap_user):
    user = imap_user.username
    date = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    first = dovecot.append(user, "INBOX", message(1), flags=["\\Seen"], date=date)
    second = dovecot.append(user, "INBOX", message(2))
    assert (first, second) == (1, 2)
    assert dovecot.fetch_message_ids(user, "INBOX") == {1: "<m1@example.com>", 2: "<m2@example.com>"}
    assert dovecot.get_flags(user, "INBOX")[1] == ("\\Seen",)
    assert dovecot.fetch_raw(user, "INBOX", 1) == message(1)
    with dovecot.connect(user) as client:
        client.select_folder("INBOX", readonly=True)
        assert client.fetch([1], ["INTERNALDATE"])[1][b"INTERNALDATE"].astimezone(UTC) == date

    assert dovecot.move(user, 1, "INBOX", "Archive") == 1
    assert dovecot.list_uids(user, "INBOX") == [2]
    assert dovecot.fetch_message_ids(user, "Archive") == {1: "<m1@example.com>"}

    dovecot.set_flags(user, "INBOX", 2, ["\\Flagged", "$Important"])
    assert set(dovecot.get_flags(user, "INBOX")[2]) == {"\\Flagged", "$Important"}
    dovecot.remove_flags(user, "INBOX", 2, ["\\Flagged"])
    assert dovecot.get_flags(user, "INBOX")[2] == ("$Important",)

    dovecot.delete(user, "INBOX", 2)
    assert dovecot.list_uids(user, "INBOX") == []
    assert dovecot.append(user, "INBOX", message(3)) == 3


def test_append_many_and_the_corpus(dovecot, imap_user):
    corpus = list(varied_corpus(60, seed=3))
    assert corpus == list(varied_corpus(60, seed=3))
    uids = dovecot.append_many(imap_user.username, "INBOX", corpus, batch_size=25)
    assert uids == list(range(1, 61))
    assert dovecot.status(imap_user.username, "INBOX")["messages"] == 60
    assert dovecot.fetch_raw(imap_user.username, "INBOX", 60) == corpus[-1]


def test_uidvalidity_change(dovecot, imap_user):
    user = imap_user.username
    for n in range(3):
        dovecot.append(user, "INBOX", message(n))
    dovecot.delete(user, "INBOX", 1)
    dovecot.add_flags(user, "INBOX", 3, ["\\Seen"])
    before = dovecot.uidvalidity(user, "INBOX")

    assert dovecot.change_uidvalidity(user, "INBOX") == before + 1
    assert dovecot.uidvalidity(user, "INBOX") == before + 1
    assert dovecot.list_uids(user, "INBOX") == [2, 3]

    assert dovecot.change_uidvalidity(user, "INBOX", renumber=True) == before + 2
    assert dovecot.uidvalidity(user, "INBOX") == before + 2
    assert dovecot.fetch_message_ids(user, "INBOX") == {1: "<m1@example.com>", 2: "<m2@example.com>"}
    assert "\\Seen" in dovecot.get_flags(user, "INBOX")[2]
    assert dovecot.status(user, "INBOX")["uidnext"] == 3


def test_condstore_and_idle(dovecot, imap_user):
    user = imap_user.username
    dovecot.append(user, "INBOX", message(1))
    with dovecot.connect(user) as client:
        client.enable("QRESYNC")
        modseq = client.select_folder("INBOX")[b"HIGHESTMODSEQ"]
        dovecot.add_flags(user, "INBOX", 1, ["\\Seen"])
        client.noop()
        changed = client.fetch([1], ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
        assert b"\\Seen" in changed[1][b"FLAGS"] and changed[1][b"MODSEQ"][0] > modseq

        client.idle()
        started = time.monotonic()
        dovecot.append(user, "INBOX", message(2))
        responses = client.idle_check(timeout=5)
        client.idle_done()
        assert (2, b"EXISTS") in responses
        assert time.monotonic() - started < 2


def test_kill_connections_drops_sessions(dovecot, imap_user):
    user = imap_user.username
    with dovecot.connect(user) as client:
        client.select_folder("INBOX")
        assert dovecot.connections(user) == 1
        dovecot.kill_connections(user)
        assert dovecot.connections(user) == 0
        with pytest.raises((IMAPClientAbortError, OSError)):
            client.noop()
    with dovecot.connect(user) as client:
        assert client.noop()


def test_stop_leaves_no_process_and_restart_keeps_mail():
    server = DovecotServer()
    server.start()
    try:
        user = server.add_random_user()
        server.append(user.username, "INBOX", message(1))
        pid, port, directory = server._process.pid, server.port, server.directory
        assert len(_members(pid)) > 3

        server.stop(remove_data=False)
        assert _members(pid) == [] and not server.running
        with pytest.raises(OSError):
            IMAPClient(server.host, port, ssl=False, timeout=2)

        server.start()
        assert server.port == port
        assert server.fetch_message_ids(user.username, "INBOX") == {1: "<m1@example.com>"}
        pid = server._process.pid
    finally:
        server.stop()
    assert _members(pid) == []
    assert not directory.exists()
