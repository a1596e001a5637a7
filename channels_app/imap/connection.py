"""Opening IMAP connections, and turning every way that can fail into a message a person can act on."""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from channels_app.models import ImapConfig, Security

TIMEOUT_SECONDS = 20
# The seed's wording for certificate problems (IMAP FAQ).
CERTIFICATE_ERROR = (
    "Your SSL / TLS certificate is invalid, so Missive can’t establish a secure IMAP connection. "
    "If this is not a concern to you, choose “none” under Encryption."
)


class ConnectionProblem(Exception):
    """Why a mailbox could not be reached: `kind` is auth, unreachable, certificate or protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    security: str
    username: str
    password: str

    @classmethod
    def for_account(cls, config: ImapConfig) -> ServerSettings:
        return cls(
            host=config.imap_host,
            port=config.imap_port,
            security=config.imap_security,
            username=config.imap_username,
            password=config.account.credentials.get("imap_password", ""),
        )


def tls_context() -> ssl.SSLContext:
    """Verifying context; IMAP_EXTRA_CA_FILE adds a private CA (self-signed certificates are refused,
    as in the seed, unless their CA is trusted this way). Built once per CA file and reused: loading
    the system's CA bundle costs tens of milliseconds, more than the rest of an unchanged re-check."""
    return _tls_context(getattr(settings, "IMAP_EXTRA_CA_FILE", ""))


@functools.lru_cache(maxsize=8)
def _tls_context(extra: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if extra:
        context.load_verify_locations(cafile=extra)
    return context


def connect(server: ServerSettings) -> IMAPClient:
    """A logged-in client, or ConnectionProblem saying what went wrong."""
    try:
        context = tls_context() if server.security != Security.NONE else None
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.security == Security.SSL,
            ssl_context=context,
            timeout=TIMEOUT_SECONDS,
        )
        if server.security == Security.STARTTLS:
            client.starttls(ssl_context=context)
        client.login(server.username, server.password)
        return client
    except LoginError as error:
        raise ConnectionProblem("auth", f"The server refused the username or password ({_text(error)}).") from error
    except ssl.SSLCertVerificationError as error:
        raise ConnectionProblem("certificate", CERTIFICATE_ERROR) from error
    except ssl.SSLError as error:
        raise ConnectionProblem("certificate", f"{CERTIFICATE_ERROR} ({_text(error)})") from error
    except (socket.gaierror, ConnectionRefusedError, TimeoutError) as error:
        raise ConnectionProblem(
            "unreachable", f"Could not reach {server.host}:{server.port} ({_text(error)})."
        ) from error
    except OSError as error:
        raise ConnectionProblem(
            "unreachable", f"Could not reach {server.host}:{server.port} ({_text(error)})."
        ) from error
    except IMAPClientError as error:
        raise ConnectionProblem("protocol", f"The IMAP server answered unexpectedly ({_text(error)}).") from error


def verify(server: ServerSettings) -> None:
    """Log in and out once: the check made before an account is saved."""
    logout(connect(server))


def logout(client: IMAPClient) -> None:
    """Say goodbye if the connection still allows it."""
    with contextlib.suppress(IMAPClientError, OSError):
        client.logout()


def _text(error: BaseException) -> str:
    text = str(error).strip()
    # imapclient's LoginError carries the repr of the server's bytes: b'[AUTHENTICATIONFAILED] ...'
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        text = text[2:-1].strip()
    return text or type(error).__name__
