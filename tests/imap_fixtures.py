"""Pytest fixtures around tests/imap_server.py, registered by tests/conftest.py.

`dovecot`: one Dovecot for the whole test session, on loopback.
`imap_user`: a fresh user with a random name and password (and the special-use folders), so
tests never see each other's mail; its mail is deleted afterwards.
`imap_user_factory`: more users in one test, e.g. imap_user_factory(special_folders=False).
`trust_dovecot`: the app trusts Dovecot's certificate, and Celery tasks run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.imap_server import DovecotServer, ImapUser


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def trust_dovecot(settings, dovecot: DovecotServer, tmp_path) -> None:
    path = tmp_path / "dovecot-ca.pem"
    path.write_text(dovecot.cert_pem)
    settings.IMAP_EXTRA_CA_FILE = str(path)
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def imap_user_factory(dovecot: DovecotServer) -> Iterator[Callable[..., ImapUser]]:
    created: list[ImapUser] = []

    def make(*, special_folders: bool = True) -> ImapUser:
        user = dovecot.add_random_user(special_folders=special_folders)
        created.append(user)
        return user

    yield make
    if dovecot.running:
        for user in created:
            dovecot.remove_user(user.username)


@pytest.fixture
def imap_user(imap_user_factory: Callable[..., ImapUser]) -> ImapUser:
    return imap_user_factory()
