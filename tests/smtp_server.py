"""A real SMTP listener (aiosmtpd) on loopback for the test suite and the sending benchmark.

Two ports in one object: `port` speaks plain SMTP and offers STARTTLS (AUTH is refused until TLS
is on, as real submission servers do), `ssl_port` speaks implicit TLS. Both check AUTH PLAIN /
LOGIN against `users` ({username: password}). The throw-away certificate is self-signed for
127.0.0.1 and localhost; clients trust `cert_path`.

    server = SmtpServer(users={"alice": "secret"})
    server.start()
    ... send ...
    server.received          # [Received(mail_from, rcpt_tos, data), ...] in arrival order
    server.stop()

Misbehaviour for the failure tests, changeable while running:
- `stall_on = {"RCPT"}` or `{"DATA"}`: the command is answered only after `release()` (for DATA
  the bytes are recorded first, as an MTA that took them but never said so).
- `replies = {"RCPT": "450 4.2.0 Mailbox busy"}`: answer that command with this instead.
- `deliver`: a callable given each Received, e.g. an IMAP APPEND into the recipient's INBOX, so
  the listener acts as the recipient's mail server.

This module has no pytest dependency: tests/smtp_fixtures.py wraps it in fixtures.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.imap_server import _free_ports, make_certificate

# aiosmtpd logs every command at INFO: a failing test's output would be mostly that.
logging.getLogger("mail.log").setLevel(logging.WARNING)
# Said of the implicit-TLS port, where every session is encrypted though aiosmtpd cannot tell.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    username: str
    # (host, port) of the client: messages sent over one connection share it.
    peer: tuple[str, int]
    # time.perf_counter() when the data had arrived.
    arrived_at: float = 0.0


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def _wait(self, command: str) -> None:
        while command in self.server.stall_on and not self.server._released.is_set():
            await asyncio.sleep(0.02)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        await self._wait("RCPT")
        reply = self.server.replies.get("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        reply = self.server.replies.get("DATA")
        if reply:
            return reply
        username = session.auth_data if isinstance(session.auth_data, str) else ""
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            username=username,
            peer=tuple(session.peer[:2]) if session.peer else ("", 0),
            arrived_at=time.perf_counter(),
        )
        with self.server._lock:
            self.server.received.append(received)
        self.server._arrived.set()
        await self._wait("DATA")
        if self.server.deliver is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.server.deliver, received)
        return "250 2.0.0 Queued"


class SmtpServer:
    host = "127.0.0.1"

    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.users: dict[str, str] = dict(users or {})
        self.received: list[Received] = []
        self.stall_on: set[str] = set()
        self.replies: dict[str, str] = {}
        self.deliver: Callable[[Received], None] | None = None
        self.port = 0
        self.ssl_port = 0
        self.directory: Path | None = None
        self.cert_path: Path | None = None
        self._controllers: list[Controller] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._arrived = threading.Event()

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode()
        expected = self.users.get(username)
        ok = expected is not None and expected == auth_data.password.decode()
        # handled=False: aiosmtpd itself answers a failure with 535.
        return AuthResult(success=ok, handled=ok, auth_data=username if ok else None)

    def start(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="missive-smtp-"))
        self.cert_path, key_path = make_certificate(self.directory, subject="Missive test SMTP", prefix="smtp-")
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(self.cert_path, key_path)
        self.port, self.ssl_port = _free_ports(2)
        common: dict[str, Any] = {
            "authenticator": self._authenticate,
            "auth_required": True,
            "hostname": self.host,
            "server_hostname": "smtp.test",
            "data_size_limit": 50 * 1024 * 1024,
        }
        starttls = Controller(
            _Handler(self), port=self.port, tls_context=server_context, auth_require_tls=True, **common
        )
        # aiosmtpd knows TLS only from STARTTLS: on the implicit-TLS port every session is encrypted.
        implicit = Controller(
            _Handler(self), port=self.ssl_port, ssl_context=server_context, auth_require_tls=False, **common
        )
        for controller in (starttls, implicit):
            controller.start()
            self._controllers.append(controller)

    def stop(self) -> None:
        self.release()
        for controller in self._controllers:
            controller.stop()
        self._controllers.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def release(self) -> None:
        """Answer the stalled commands, and every later one, at once."""
        self.stall_on = set()
        self._released.set()

    def stall(self, *commands: str) -> None:
        self._released.clear()
        self.stall_on = set(commands)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
        self.replies.clear()
        self.deliver = None
        self.release()
        self._arrived.clear()

    def wait_for_data(self, timeout: float = 10.0) -> bool:
        """Block until some message's bytes arrived (used with stall_on={"DATA"})."""
        return self._arrived.wait(timeout)

    def ssl_context(self) -> ssl.SSLContext:
        assert self.cert_path is not None, "start() the server first"
        return ssl.create_default_context(cafile=str(self.cert_path))

    def closed_port(self) -> int:
        """A loopback port nothing listens on (connection refused)."""
        with socket.socket() as sock:
            sock.bind((self.host, 0))
            return int(sock.getsockname()[1])
