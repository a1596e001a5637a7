"""A real Dovecot IMAP server on loopback for the test suite and the benchmark.

Everything lives in one temporary directory: the configuration (no system file is read), a
self-signed certificate, the users (a passwd-file each, plaintext passwords, and a JSON file of
per-user settings), their maildirs, Dovecot's sockets, state and log. The server listens on
127.0.0.1 on two free ports: `port` speaks plain IMAP with STARTTLS (plain LOGIN is allowed
without TLS, for tests), `ssl_port` speaks implicit TLS. Clients trust `cert_pem`/`cert_path`
(`ssl_context()` builds a context that does); the certificate is valid for 127.0.0.1 and
localhost, so hostname checking can stay on.

    server = DovecotServer()
    server.start()
    user = server.add_user("alice", "secret")   # or server.add_random_user()
    uid = server.append("alice", "INBOX", raw_bytes)
    ...
    server.stop()                                # no process left, directory removed

Every user gets the special-use folders Archive, Sent, Trash, Junk and Drafts, unless added with
`special_folders=False` (then INBOX only). `create_folder(user, name, special_use)` gives any
folder a special use for that user alone. Mailbox helpers log in as the user over loopback
(imapclient); the administrative ones (UIDVALIDITY change, kick) run `doveadm` on the same
configuration. Failed logins answer after 0.5 s (Dovecot's fixed failure delay), without the
growing penalty Dovecot normally adds per IP.

Dovecot comes from Debian's `dovecot-core` and `dovecot-imapd` (`make test` and `make bench`
install them). As root, mail belongs to `nobody` (Dovecot refuses uid 0 for mail) and the login
and internal processes run as the packages' `dovenull` and `dovecot` users. Dovecot is stopped if
the thread that started it dies, and at interpreter exit.

This module has no pytest dependency: tests/imap_fixtures.py wraps it in fixtures.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import datetime as dt
import email.parser
import email.policy
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

SPECIAL_FOLDERS = {
    "Archive": "\\Archive",
    "Sent": "\\Sent",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Drafts": "\\Drafts",
}
# Declared in the configuration, so a special use can be given to them per user without reloading
# Dovecot (it takes special uses from its configuration only). Other names cost a reload.
KNOWN_FOLDERS = (
    *SPECIAL_FOLDERS,
    "Spam",
    "Bin",
    "Archives",
    "Sent Items",
    "Sent Messages",
    "Deleted Items",
    "Deleted Messages",
    "Junk E-mail",
    "Junk Email",
    "Bulk Mail",
    "All Mail",
    "Starred",
    "INBOX/Archive",
    "INBOX/Sent",
    "INBOX/Trash",
    "INBOX/Junk",
    "INBOX/Spam",
    "INBOX/Drafts",
    "[Gmail]/All Mail",
    "[Gmail]/Sent Mail",
    "[Gmail]/Spam",
    "[Gmail]/Trash",
    "[Gmail]/Drafts",
    "[Gmail]/Starred",
    "[Gmail]/Important",
)
SPECIAL_USE_FLAGS = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"})
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]")
_COPYUID_RE = re.compile(rb"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]")
_PR_SET_PDEATHSIG = 1
_RELOADED_SERVICES = ("/config", "/auth")
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"])


class DovecotError(RuntimeError):
    pass


def _which(name: str) -> str:
    path = shutil.which(name, path=_SEARCH_PATH)
    if path is None:
        raise DovecotError(f"{name} not found: install Debian's dovecot-core and dovecot-imapd (`make test` does it).")
    return path


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _uid_set(text: bytes) -> list[int]:
    """Expand an IMAP sequence set such as b"4:6,9" into [4, 5, 6, 9]."""
    uids: list[int] = []
    for part in text.split(b","):
        low, _, high = part.partition(b":")
        uids.extend(range(int(low), int(high or low) + 1))
    return uids


def make_certificate(directory: Path, *, subject: str = "localhost", prefix: str = "") -> tuple[Path, Path]:
    """A self-signed EC certificate for 127.0.0.1 and localhost (EC: generated in milliseconds).
    Servers whose certificates share one CA file need different subjects: OpenSSL looks issuers
    up by name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{prefix}cert.pem", directory / f"{prefix}key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _setting_key(folder: str) -> str:
    """A folder name as Dovecot spells it in a setting path (settings_section_escape)."""
    escapes = {"=": "\\e", "/": "\\s", "\\": "\\\\", " ": "\\_", ",": "\\+"}
    return "".join(escapes.get(c, c) for c in folder)


def _die_with_parent() -> None:
    """Runs in the child before exec: Dovecot gets SIGTERM if the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class ImapUser:
    """A mailbox on a DovecotServer, with the settings a client needs to reach it."""

    username: str
    password: str
    server: DovecotServer

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def ssl_port(self) -> int:
        return self.server.ssl_port

    def connect(self, **kwargs: object) -> contextlib.AbstractContextManager[IMAPClient]:
        return self.server.connect(self.username, **kwargs)  # type: ignore[arg-type]


class DovecotServer:
    """A Dovecot 2.3 instance of its own, run as a child process in a temporary directory."""

    host = "127.0.0.1"

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._given_directory = Path(directory) if directory is not None else None
        self.directory: Path | None = None
        self.port = 0
        self.ssl_port = 0
        self.cert_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._users: dict[str, str] = {}
        # Per-user settings (userdb fields), e.g. a folder's special use.
        self._user_fields: dict[str, dict[str, str]] = {}
        # Folders declared in the configuration besides KNOWN_FOLDERS (see create_folder).
        self._declared_folders: set[str] = set()
        self._dovecot = ""
        self._doveadm = ""
        self._mail_uid = 0
        self._mail_gid = 0
        self._log_position = 0

    # Life cycle -----------------------------------------------------------------------------

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def cert_pem(self) -> str:
        assert self.cert_path is not None, "start() the server first"
        return self.cert_path.read_text()

    @property
    def log_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "dovecot.log"

    @property
    def config_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "dovecot.conf"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and checks the host name)."""
        assert self.cert_path is not None, "start() the server first"
        return ssl.create_default_context(cafile=str(self.cert_path))

    def start(self, timeout: float = 10.0) -> None:
        """Start Dovecot (again, after stop(), with the same ports and mail if the data was kept)."""
        if self.running:
            return
        self._dovecot = _which("dovecot")
        self._doveadm = _which("doveadm")
        if self.directory is None:
            if self._given_directory is not None:
                self._given_directory.mkdir(parents=True, exist_ok=True)
                self.directory = self._given_directory
            else:
                self.directory = Path(tempfile.mkdtemp(prefix="missive-dovecot-"))
            # Mail processes run as the mail user, which must reach its maildir.
            self.directory.chmod(0o755)
            for name in ("run", "state", "mail", "users", "userdb"):
                (self.directory / name).mkdir(exist_ok=True)
            self._mail_uid, self._mail_gid = self._choose_mail_user()
            os.chown(self.directory / "mail", self._mail_uid, self._mail_gid)
            self.cert_path, _ = make_certificate(self.directory)
        attempts = 3 if not self.port else 1
        for attempt in range(attempts):
            if not self.port or attempt:
                self.port, self.ssl_port = _free_ports(2)
            self._write_config()
            try:
                self._launch(timeout)
                break
            except DovecotError:
                if attempt == attempts - 1:
                    raise
        atexit.register(self.stop)

    def _choose_mail_user(self) -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.getuid(), os.getgid()
        # Dovecot refuses to access mail as root: a system user of its own would need useradd,
        # so mail belongs to nobody, which only ever owns this temporary directory's maildirs.
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid

    def _launch(self, timeout: float) -> None:
        assert self.directory is not None
        self._log_position = self.log_path.stat().st_size if self.log_path.exists() else 0
        output = open(self.directory / "dovecot.out", "ab")  # noqa: SIM115 - owned by the child
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
                [self._dovecot, "-c", str(self.config_path), "-F"],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
                env={"PATH": _SEARCH_PATH},
            )
        finally:
            output.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise DovecotError(f"Dovecot exited at start:\n{self.log_tail()}")
            if self._greets(self.port) and self._listens(self.ssl_port):
                return
            time.sleep(0.02)
        self.stop(remove_data=False)
        raise DovecotError(f"Dovecot did not listen within {timeout} s:\n{self.log_tail()}")

    def _greets(self, port: int) -> bool:
        """The login process answers (the greeting waits until authentication is ready)."""
        try:
            with socket.create_connection((self.host, port), timeout=2) as sock:
                return sock.recv(4096).startswith(b"* OK")
        except OSError:
            return False

    def _listens(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=2):
                return True
        except OSError:
            return False

    def stop(self, *, remove_data: bool = True, timeout: float = 10.0) -> None:
        """Stop Dovecot and every process it started; remove its directory unless told not to."""
        process, self._process = self._process, None
        if process is not None:
            _terminate(process, timeout)
        atexit.unregister(self.stop)
        if remove_data and self.directory is not None:
            if self._given_directory is None:
                shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
            self.port = self.ssl_port = 0
            self.cert_path = None
            self._users.clear()
            self._user_fields.clear()
            self._declared_folders.clear()

    def log_tail(self, lines: int = 40) -> str:
        """The end of what Dovecot logged since the last start()."""
        if self.directory is None:
            return ""
        text = ""
        if self.log_path.exists():
            with open(self.log_path, "rb") as log:
                log.seek(self._log_position)
                text = log.read().decode(errors="replace")
        out = self.directory / "dovecot.out"
        if out.exists():
            text += out.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # Configuration --------------------------------------------------------------------------

    def _write_config(self) -> None:
        assert self.directory is not None and self.cert_path is not None
        d = self.directory
        if os.geteuid() == 0:
            login_user, internal_user = "dovenull", "dovecot"
        else:
            login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        # Nothing is auto-created and no folder has a special use but through the user's settings.
        names = [*KNOWN_FOLDERS, *sorted(self._declared_folders - set(KNOWN_FOLDERS))]
        mailbox_text = "\n".join(f'  mailbox "{name}" {{\n    auto = no\n  }}' for name in names)
        (d / "userdb.conf").write_text(f"uri = fs:posix:prefix={d}/userdb/\nuser_key = %u\niterate_disable = yes\n")
        config = f"""# Written by tests/imap_server.py: a throwaway Dovecot on loopback for tests.
base_dir = {d}/run
state_dir = {d}/state
instance_name = missive-test-{self.port}
protocols = imap
listen = {self.host}
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{self.cert_path}
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {min(self._mail_uid, 500)}
mail_uid = {self._mail_uid}
mail_gid = {self._mail_gid}
mail_location = maildir:{d}/mail/%u
mail_fsync = never
mailbox_idle_check_interval = 1 secs
default_process_limit = 500
default_client_limit = 2000

# One passwd-file per user: Dovecot re-reads a changed passwd-file at most once a second, but
# reads a new one at once. The user's settings are a JSON file, read at every login.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users/%u
}}
userdb {{
  driver = dict
  args = {d}/userdb.conf
  default_fields = home={d}/mail/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
{mailbox_text}
}}

protocol imap {{
  mail_max_userip_connections = 500
}}

service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.ssl_port}
    ssl = yes
  }}
}}

# No growing delay after failed logins from 127.0.0.1: tests try wrong passwords on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(config)
        tmp.replace(self.config_path)

    def _reload(self) -> None:
        """Rewrite the configuration and make Dovecot re-read it. Logged-in sessions keep going;
        a client still before LOGIN may be dropped (after a few seconds)."""
        self._write_config()
        if not self.running:
            return
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)
        time.sleep(0.05)
        deadline = time.monotonic() + 10
        while not self._greets(self.port):
            if time.monotonic() > deadline:
                raise DovecotError(f"Dovecot does not answer after reloading:\n{self.log_tail()}")
            time.sleep(0.02)

    def _write_user(self, username: str) -> None:
        assert self.directory is not None
        files = (self.directory / "users" / username, self.directory / "userdb" / username)
        if username not in self._users:
            for path in files:
                path.unlink(missing_ok=True)
            return
        passwd = f"{username}:{{PLAIN}}{self._users[username]}::::::\n"
        for path, text in zip(files, (passwd, json.dumps(self._user_fields[username])), strict=True):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o644)
            tmp.replace(path)

    # Users ------------------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, special_folders: bool = True) -> ImapUser:
        """Add a user who logs in with this password. Without special_folders, the user has
        only INBOX at first (no Archive, Sent, Trash, Junk or Drafts)."""
        assert self.directory is not None, "start() the server first"
        if not _USERNAME_RE.match(username):
            raise ValueError(f"Unsupported user name for the test server: {username!r}")
        if not password or any(c in password for c in ":\n\r\0") or password != password.strip():
            raise ValueError("Test passwords cannot contain ':', line breaks or surrounding spaces")
        self._users[username] = password
        fields = self._user_fields[username] = {}
        if special_folders:
            for name, flag in SPECIAL_FOLDERS.items():
                fields[f"namespace/inbox/mailbox/{_setting_key(name)}/auto"] = "subscribe"
                fields[f"namespace/inbox/mailbox/{_setting_key(name)}/special_use"] = flag
        self._write_user(username)
        return ImapUser(username, password, self)

    def add_random_user(self, *, special_folders: bool = True) -> ImapUser:
        return self.add_user(f"user-{secrets.token_hex(6)}", secrets.token_urlsafe(12), special_folders=special_folders)

    def remove_user(self, username: str) -> None:
        """Forget the user, drop their connections and delete their mail."""
        assert self.directory is not None
        self._users.pop(username, None)
        self._user_fields.pop(username, None)
        self._write_user(username)
        if self.running:
            self.doveadm("kick", username, check=False)
        shutil.rmtree(self.directory / "mail" / username, ignore_errors=True)

    def password(self, username: str) -> str:
        return self._users[username]

    # Clients ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, username: str, *, security: str = "plain", timeout: float = 10.0) -> Iterator[IMAPClient]:
        """A logged-in imapclient session: security is "plain", "starttls" or "ssl"."""
        if security == "ssl":
            client = IMAPClient(self.host, self.ssl_port, ssl=True, ssl_context=self.ssl_context(), timeout=timeout)
        else:
            client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
            if security == "starttls":
                client.starttls(self.ssl_context())
            elif security != "plain":
                raise ValueError(f"Unknown security {security!r}")
        try:
            client.login(username, self._users[username])
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    # Mailbox helpers ------------------------------------------------------------------------

    def append(
        self,
        user: str,
        folder: str,
        raw: bytes,
        flags: Sequence[str] = (),
        date: dt.datetime | None = None,
    ) -> int:
        """APPEND one message; returns its UID."""
        with self.connect(user) as client:
            response = client.append(folder, raw, flags=tuple(flags), msg_time=date)
        match = _APPENDUID_RE.search(response)
        if match is None:
            raise DovecotError(f"No APPENDUID in {response!r}")
        return _uid_set(match.group(2))[0]

    def append_many(
        self,
        user: str,
        folder: str,
        messages: Iterable[bytes | tuple[bytes, Sequence[str], dt.datetime | None]],
        *,
        batch_size: int = 200,
        batch_bytes: int = 8 * 1024 * 1024,
    ) -> list[int]:
        """APPEND many messages over one connection (MULTIAPPEND batches); returns their UIDs in
        order. Items are raw bytes or (raw, flags, date) tuples. Meant for filling a mailbox with
        thousands of messages for the benchmark without holding them all in memory."""
        uids: list[int] = []
        with self.connect(user) as client:
            batch: list[dict[str, object]] = []
            size = 0

            def flush() -> None:
                nonlocal size
                if not batch:
                    return
                typ, data = client.multiappend(folder, batch)
                match = _APPENDUID_RE.search(b" ".join(d for d in data if isinstance(d, bytes)))
                if match is None:
                    raise DovecotError(f"No APPENDUID in {typ!r} {data!r}")
                uids.extend(_uid_set(match.group(2)))
                batch.clear()
                size = 0

            for item in messages:
                if isinstance(item, bytes):
                    entry: dict[str, object] = {"msg": item}
                else:
                    raw, flags, date = item
                    entry = {"msg": raw, "flags": tuple(flags)}
                    if date is not None:
                        entry["date"] = date
                batch.append(entry)
                size += len(entry["msg"])  # type: ignore[arg-type]
                if len(batch) >= batch_size or size >= batch_bytes:
                    flush()
            flush()
        return uids

    def move(self, user: str, uid: int, from_folder: str, to_folder: str) -> int | None:
        """UID MOVE one message; returns its UID in the destination folder."""
        with self.connect(user) as client:
            client.select_folder(from_folder)
            client._imap.untagged_responses.pop("OK", None)
            client.move([uid], to_folder)
            responses = client._imap.untagged_responses.pop("OK", [])
        for response in responses:
            match = _COPYUID_RE.search(b"[" + response if not response.startswith(b"[") else response)
            if match:
                return _uid_set(match.group(3))[0]
        return None

    def delete(self, user: str, folder: str, uid: int | Sequence[int]) -> None:
        """Flag \\Deleted and UID EXPUNGE exactly these messages."""
        uids = [uid] if isinstance(uid, int) else list(uid)
        with self.connect(user) as client:
            client.select_folder(folder)
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            client.uid_expunge(uids)

    def set_flags(self, user: str, folder: str, uid: int | Sequence[int], flags: Sequence[str]) -> None:
        """Replace the flags of these messages."""
        self._store(user, folder, uid, flags, "set_flags")

    def add_flags(self, user: str, folder: str, uid: int | Sequence[int], flags: Sequence[str]) -> None:
        self._store(user, folder, uid, flags, "add_flags")

    def remove_flags(self, user: str, folder: str, uid: int | Sequence[int], flags: Sequence[str]) -> None:
        self._store(user, folder, uid, flags, "remove_flags")

    def _store(self, user: str, folder: str, uid: int | Sequence[int], flags: Sequence[str], method: str) -> None:
        uids = [uid] if isinstance(uid, int) else list(uid)
        with self.connect(user) as client:
            client.select_folder(folder)
            getattr(client, method)(uids, [f.encode() for f in flags], silent=True)

    def get_flags(self, user: str, folder: str) -> dict[int, tuple[str, ...]]:
        """{uid: flags}, without the session flag \\Recent."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            found = client.get_flags(uids) if uids else {}
        return {uid: tuple(f.decode() for f in flags if f != b"\\Recent") for uid, flags in found.items()}

    def list_uids(self, user: str, folder: str) -> list[int]:
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def fetch_message_ids(self, user: str, folder: str) -> dict[int, str]:
        """{uid: Message-ID header (angle brackets included, "" when missing)}."""
        key = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            found = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        result = {}
        for uid, data in found.items():
            value = parser.parsebytes(data.get(key, b""))["Message-ID"]
            result[uid] = " ".join(str(value).split()) if value is not None else ""
        return result

    def fetch_raw(self, user: str, folder: str, uid: int) -> bytes:
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            return client.fetch([uid], [b"BODY.PEEK[]"])[uid][b"BODY[]"]

    def status(self, user: str, folder: str) -> dict[str, int]:
        """MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN and HIGHESTMODSEQ, lower-cased keys."""
        with self.connect(user) as client:
            found = client.folder_status(folder, ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"])
        return {key.decode().lower(): int(value) for key, value in found.items()}

    def uidvalidity(self, user: str, folder: str) -> int:
        return self.status(user, folder)["uidvalidity"]

    def change_uidvalidity(
        self, user: str, folder: str, uidvalidity: int | None = None, *, renumber: bool = False
    ) -> int:
        """Give the folder a new UIDVALIDITY (by default the current one plus one); returns it.

        `doveadm mailbox update --uid-validity` changes only the number: messages keep their
        UIDs. With renumber=True the folder's UID list and indexes are first thrown away, as when
        a server's mail store is rebuilt: the same messages are numbered from 1 again (their
        flags survive: maildir keeps them in the file names). Sessions of the user are dropped."""
        old = self.uidvalidity(user, folder)
        if renumber:
            self.kill_connections(user)
            paths = {
                Path(self.doveadm("mailbox", "path", *kind, "-u", user, folder).stdout.strip())
                for kind in ((), ("-t", "index"), ("-t", "control"))
            }
            for directory in paths:
                for name in os.listdir(directory):
                    if name == "dovecot-uidlist" or name.startswith("dovecot.index"):
                        os.unlink(directory / name)
            self.doveadm("force-resync", "-u", user, folder)
        new = uidvalidity if uidvalidity is not None else old + 1
        self.doveadm("mailbox", "update", "--uid-validity", str(new), "-u", user, folder)
        return new

    def create_folder(self, user: str, name: str, special_use: str | None = None) -> None:
        """CREATE a folder; with special_use (e.g. "\\Junk") LIST shows that attribute on it,
        for this user only. Dovecot takes special uses from its configuration: a name outside
        KNOWN_FOLDERS is added to it first, and that reload drops clients still before LOGIN."""
        if special_use is not None and special_use not in SPECIAL_USE_FLAGS:
            raise ValueError(f"Not a special-use attribute: {special_use!r}")
        if special_use is not None:
            if name not in KNOWN_FOLDERS and name not in self._declared_folders:
                self._declared_folders.add(name)
                self._reload()
            self._user_fields[user][f"namespace/inbox/mailbox/{_setting_key(name)}/special_use"] = special_use
            self._write_user(user)
        with self.connect(user) as client:
            client.create_folder(name)
        if special_use is not None:
            self._wait_for_special_use(user, name, special_use)

    def _wait_for_special_use(self, user: str, name: str, special_use: str, timeout: float = 5.0) -> None:
        """A reloaded configuration reaches new sessions a moment after SIGHUP."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(IMAPClientError, OSError), self.connect(user) as client:
                for flags, _, folder in client.list_folders():
                    if folder == name and special_use.encode() in flags:
                        return
            if time.monotonic() > deadline:
                raise DovecotError(f"{name} did not get {special_use}:\n{self.log_tail()}")
            time.sleep(0.05)

    def delete_folder(self, user: str, name: str) -> None:
        with self.connect(user) as client:
            client.delete_folder(name)

    def list_folders(self, user: str) -> dict[str, tuple[str, ...]]:
        """{folder name: LIST attributes}, e.g. {"Archive": ("\\HasNoChildren", "\\Archive")}."""
        with self.connect(user) as client:
            return {name: tuple(f.decode() for f in flags) for flags, _, name in client.list_folders()}

    def connections(self, user: str) -> int:
        """How many IMAP sessions the user has open (doveadm who)."""
        count = 0
        for line in self.doveadm("who", "-1", user, check=False).stdout.splitlines():
            if line.split()[:1] == [user]:
                count += 1
        return count

    def kill_connections(self, user: str, timeout: float = 5.0) -> None:
        """Drop every IMAP session of the user (doveadm kick), as a network failure would: the
        client's next read sees the connection closed. Waits until the sessions are gone."""
        self.doveadm("kick", user, check=False)
        deadline = time.monotonic() + timeout
        while self.connections(user) and time.monotonic() < deadline:
            time.sleep(0.02)

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run doveadm against this server's configuration."""
        result = subprocess.run(  # noqa: S603 - fixed binary, our own config
            [self._doveadm or _which("doveadm"), "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": _SEARCH_PATH},
        )
        if check and result.returncode != 0:
            raise DovecotError(f"doveadm {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM Dovecot's master and wait until every process of its group is gone."""
    pgid = process.pid  # started in a session of its own: the process group holds all of Dovecot
    if process.poll() is None:
        process.terminate()
    deadline = time.monotonic() + timeout
    alone_since = None
    while process.poll() is None or _group_alive(pgid):
        others = [(pid, title) for pid, title in _members(pgid) if pid != process.pid]
        if process.poll() is None and others and all(title.endswith("/log") for _, title in others):
            # The master keeps its log process a second longer for late messages: the others
            # are gone, so there are none.
            for pid, _ in others:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        if process.poll() is None and not others:
            # After a kick the master lingers a second with no process left to wait for.
            alone_since = alone_since or time.monotonic()
            if time.monotonic() - alone_since > 0.1:
                process.kill()
        else:
            alone_since = None
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.01)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies count as alive to kill(); a group of zombies only waits for its reaper.
    return bool(_members(pgid))


def _members(pgid: int) -> list[tuple[int, str]]:
    """(pid, process title) of the live (not zombie) processes of a process group."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            title = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append((int(name), title))
    return members
