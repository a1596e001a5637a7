"""Pytest fixtures around tests/smtp_server.py, registered by tests/conftest.py.

`smtp_server`: one aiosmtpd listener (STARTTLS and implicit TLS, AUTH) for the whole session,
reset for each test that uses it. `trust_smtp`: the app trusts its certificate (through the same
extra CA setting as IMAP; with `trust_dovecot` the file holds both certificates).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.smtp_server import SmtpServer


@pytest.fixture(scope="session")
def smtp_session_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server(smtp_session_server: SmtpServer) -> Iterator[SmtpServer]:
    smtp_session_server.reset()
    yield smtp_session_server
    smtp_session_server.reset()
    smtp_session_server.users.clear()


@pytest.fixture
def trust_smtp(settings, smtp_server: SmtpServer, tmp_path) -> None:
    assert smtp_server.cert_path is not None
    pem = smtp_server.cert_path.read_text()
    if settings.IMAP_EXTRA_CA_FILE:
        with open(settings.IMAP_EXTRA_CA_FILE) as existing:
            pem = existing.read() + pem
    path = tmp_path / "smtp-ca.pem"
    path.write_text(pem)
    settings.IMAP_EXTRA_CA_FILE = str(path)
