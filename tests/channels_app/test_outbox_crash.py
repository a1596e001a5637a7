"""A dispatcher killed with SIGKILL mid-send, in a real separate process: the reaper and the next
dispatch never send a message twice. The listener counts what it really received."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from channels_app.outbox import LEASE, UNCERTAIN_REASON, dispatch_due, reap_expired
from conversations.models import OutboxMessage, OutboxStatus
from tests.channels_app.test_outbox import can_send
from tests.outbox_factory import outgoing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("tmp_storage", "trust_smtp")]
BASE_DIR = Path(__file__).resolve().parents[2]


def start_dispatcher(tmp_path) -> subprocess.Popen[bytes]:
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "REDIS_URL": settings.REDIS_URL,
        "IMAP_EXTRA_CA_FILE": settings.IMAP_EXTRA_CA_FILE,
        "FILE_STORAGE_ROOT": str(tmp_path),
    }
    command = [sys.executable, str(BASE_DIR / "manage.py"), "send_outbox"]
    return subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def status_of(message) -> str:
    return OutboxMessage.objects.get(message=message).status


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL


def test_killed_before_data_the_message_is_sent_exactly_once(cast, smtp_server, tmp_path):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    smtp_server.stall("RCPT")
    process = start_dispatcher(tmp_path)
    wait_for(lambda: status_of(message) == OutboxStatus.SENDING)
    time.sleep(0.3)  # it is now waiting for the answer to RCPT TO

    kill(process)
    smtp_server.release()
    assert dispatch_due().sent == 0, "the dead dispatcher's lease still holds the row"
    requeued, uncertain = reap_expired(now=timezone.now() + LEASE + timedelta(seconds=1))
    result = dispatch_due()

    assert (requeued, uncertain) == (1, 0)
    assert result.sent == 1 and status_of(message) == OutboxStatus.SENT
    assert len(smtp_server.received) == 1


def test_killed_during_data_the_message_is_failed_and_never_sent_again(cast, smtp_server, tmp_path):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    smtp_server.stall("DATA")
    process = start_dispatcher(tmp_path)
    assert smtp_server.wait_for_data(timeout=30), "the data arrived, the answer is held back"
    assert status_of(message) == OutboxStatus.TRANSMITTING

    kill(process)
    smtp_server.release()
    requeued, uncertain = reap_expired(now=timezone.now() + LEASE + timedelta(seconds=1))
    result = dispatch_due()

    assert (requeued, uncertain) == (0, 1)
    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.FAILED and outbox.last_error == UNCERTAIN_REASON
    assert result.sent == 0
    assert len(smtp_server.received) <= 1
    message.refresh_from_db()
    assert message.rfc_message_id, "kept, so the sender can look for the message"
