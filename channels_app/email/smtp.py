"""One SMTP session to an account's outgoing server (aiosmtplib), driven from synchronous code.

The dispatcher writes to the database between SMTP commands (a row is TRANSMITTING, committed,
before DATA), and Django's ORM refuses to run inside an event loop: so the session owns a private
loop and runs one command at a time on it. Every failure becomes an SmtpProblem that says whether
it is permanent (5xx, refused login, bad certificate), temporary (4xx, unreachable, dropped
before DATA), or uncertain (the connection was lost during DATA: the message may have gone).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import aiosmtplib

from channels_app.imap.connection import ServerSettings, tls_context
from channels_app.models import ImapConfig, Security
from channels_app.transports import SendProblem

TIMEOUT_SECONDS = 30
# The seed's wording for certificate problems, said of SMTP.
CERTIFICATE_ERROR = (
    "The SMTP server's SSL / TLS certificate is invalid, so Missive can’t establish a secure connection. "
    "If this is not a concern to you, choose “none” under Encryption."
)

_T = TypeVar("_T")


class SmtpProblem(SendProblem):
    """A SendProblem met over SMTP."""


def smtp_server(config: ImapConfig) -> ServerSettings:
    """The account's outgoing server; without a password of its own, it logs in with the IMAP one."""
    credentials = config.account.credentials
    return ServerSettings(
        host=config.smtp_host,
        port=config.smtp_port,
        security=config.smtp_security,
        username=config.smtp_username,
        password=credentials.get("smtp_password") or credentials.get("imap_password", ""),
    )


def _reply(error: aiosmtplib.SMTPResponseException) -> str:
    text = " ".join(str(error.message).split())
    return f"{error.code} {text}".strip()


def _problem(error: BaseException, server: ServerSettings, *, during_data: bool = False) -> SmtpProblem:
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return SmtpProblem(f"The SMTP server refused the username or password ({_reply(error)}).", permanent=True)
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        return SmtpProblem(
            f"The server refused the recipient {error.recipient} ({_reply(error)}).", permanent=error.code >= 500
        )
    if isinstance(error, aiosmtplib.SMTPSenderRefused):
        return SmtpProblem(
            f"The server refused the sender {error.sender} ({_reply(error)}).", permanent=error.code >= 500
        )
    if isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 400:
        # The server answered: whatever the command, it did not take the message.
        return SmtpProblem(f"The SMTP server answered: {_reply(error)}.", permanent=error.code >= 500)
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        return SmtpProblem(f"The SMTP server does not allow this ({_text(error)}).", permanent=True)
    if isinstance(error, ssl.SSLCertVerificationError) or (
        isinstance(error, aiosmtplib.SMTPConnectError) and isinstance(error.__cause__, ssl.SSLCertVerificationError)
    ):
        return SmtpProblem(CERTIFICATE_ERROR, permanent=True)
    if during_data:
        return SmtpProblem(f"The connection was lost while sending ({_text(error)}).", permanent=False, uncertain=True)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPResponseException):
        return SmtpProblem(
            f"The SMTP server closed the connection ({_text(error)}).", permanent=False, connection_lost=True
        )
    return SmtpProblem(
        f"Could not reach {server.host}:{server.port} ({_text(error)}).", permanent=False, connection_lost=True
    )


def _text(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class SmtpSession:
    """connect() once, then envelope() and data() per message, reset() after a refused one."""

    def __init__(self, server: ServerSettings) -> None:
        self.server = server
        # The session's own loop, on a thread of its own: the caller's thread may already run an
        # event loop (an ASGI worker thread, Playwright's in the tests), where another cannot run.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-session", daemon=True)
        self._thread.start()
        self._client: aiosmtplib.SMTP | None = None

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def connect(self) -> None:
        server = self.server
        if not server.host:
            raise SmtpProblem("This account has no outgoing (SMTP) server set up.", permanent=True)
        context = tls_context() if server.security != Security.NONE else None
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.security == Security.SSL,
            start_tls=False,
            tls_context=context,
            timeout=TIMEOUT_SECONDS,
            local_hostname=socket.getfqdn() or "localhost",
        )
        self._client = client
        try:
            self._run(client.connect())
            self._run(client.ehlo())
            if server.security == Security.STARTTLS:
                self._run(client.starttls(tls_context=context))
            if server.username:
                self._run(client.login(server.username, server.password))
        except (aiosmtplib.SMTPException, OSError) as error:
            self.close()
            raise _problem(error, server) from error

    def envelope(self, sender: str, recipients: Sequence[str]) -> None:
        """MAIL FROM and RCPT TO for every recipient; any refusal refuses the message."""
        assert self._client is not None
        try:
            self._run(self._client.mail(sender))
            for recipient in recipients:
                self._run(self._client.rcpt(recipient))
        except (aiosmtplib.SMTPException, OSError) as error:
            raise _problem(error, self.server) from error

    def data(self, raw: bytes) -> None:
        assert self._client is not None
        try:
            self._run(self._client.data(raw))
        except (aiosmtplib.SMTPException, OSError) as error:
            raise _problem(error, self.server, during_data=True) from error

    def reset(self) -> None:
        """RSET after a refused message, so the next one starts clean."""
        assert self._client is not None
        try:
            self._run(self._client.rset())
        except (aiosmtplib.SMTPException, OSError) as error:
            raise _problem(error, self.server) from error

    def close(self) -> None:
        if self._loop.is_closed():  # closed already (a failed connect closes it)
            return
        client, self._client = self._client, None
        try:
            if client is not None and client.is_connected:
                try:
                    self._run(client.quit(timeout=5))
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
