"""The outbox dispatcher against a real SMTP listener on loopback (STARTTLS / TLS, AUTH): what is
sent, how failures are recorded and retried, the reaper, and the retry view."""

import email
import email.policy
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.models import ImapConfig
from channels_app.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    UNCERTAIN_REASON,
    DispatchResult,
    RetryRefused,
    _send_for_account,
    backoff,
    claim_due,
    dispatch_due,
    do_retry_outbox,
    reap_expired,
)
from conversations.models import OutboxMessage, OutboxStatus
from inboxes.models import AccountStatus
from tests.conftest import login
from tests.outbox_factory import outgoing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tmp_storage", "trust_smtp")]


def can_send(account, server, *, security="starttls", password="smtp-secret", username=None):  # noqa: S107
    """Give the account SMTP settings pointing at the listener, with a login it accepts."""
    username = username or f"user-{account.id.hex[:8]}"
    server.users[username] = password
    ImapConfig.objects.create(
        organization=account.organization,
        account=account,
        imap_host="127.0.0.1",
        imap_username=username,
        smtp_host=server.host,
        smtp_port=server.ssl_port if security == "ssl" else server.port,
        smtp_security=security,
        smtp_username=username,
    )
    account.credentials = {"imap_password": "unused", "smtp_password": password}
    account.save()
    return account


def row(message) -> OutboxMessage:
    return OutboxMessage.objects.get(message=message)


# Sending ------------------------------------------------------------------------------------------


def test_a_due_message_is_sent_over_starttls_with_auth_and_recorded(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(
        account,
        from_address="sales@acme.test",
        cc=["Carol <carol@outside.test>"],
        bcc=[{"name": "", "address": "boss@acme.test"}],
    )

    result = dispatch_due()

    assert result.sent == 1
    [received] = smtp_server.received
    assert received.username == f"user-{account.id.hex[:8]}"
    assert received.mail_from == "sales@acme.test"
    assert received.rcpt_tos == ("bob@outside.test", "carol@outside.test", "boss@acme.test")
    outbox = row(message)
    assert outbox.status == OutboxStatus.SENT and outbox.sent_at is not None
    assert outbox.claimed_by == "" and outbox.lease_until is None
    message.refresh_from_db()
    assert message.rfc_message_id.endswith("@acme.test>")
    sent = email.message_from_bytes(received.data, policy=email.policy.default)
    assert sent["Message-ID"] == message.rfc_message_id
    assert sent["Bcc"] is None
    with message.raw_file.open("rb") as stored:
        assert stored.read() == received.data
    assert message.size == len(received.data)


def test_implicit_tls_works(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server, security="ssl")
    message = outgoing(account)

    dispatch_due()

    assert row(message).status == OutboxStatus.SENT
    assert len(smtp_server.received) == 1


def test_rows_of_one_account_share_one_connection(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    messages = [outgoing(account, subject=f"Order {n}") for n in range(5)]

    assert dispatch_due().sent == 5

    assert len({received.peer for received in smtp_server.received}) == 1
    assert all(row(m).status == OutboxStatus.SENT for m in messages)


def test_rows_not_yet_due_and_undone_ones_are_left_alone(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    later = outgoing(account, send_after=timezone.now() + timedelta(minutes=5))
    undone = outgoing(account)
    OutboxMessage.objects.filter(message=undone).update(status=OutboxStatus.CANCELLED)

    assert dispatch_due().sent == 0

    assert smtp_server.received == []
    assert row(later).status == OutboxStatus.PENDING and row(undone).status == OutboxStatus.CANCELLED


# Failures -----------------------------------------------------------------------------------------


def test_a_temporary_refusal_goes_back_to_pending_with_backoff(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    smtp_server.replies["RCPT"] = "450 4.2.1 Mailbox busy, try later"
    before = timezone.now()

    result = dispatch_due()

    outbox = row(message)
    assert result.retrying == 1 and outbox.status == OutboxStatus.PENDING
    assert outbox.attempts == 1 and "450 4.2.1 Mailbox busy" in outbox.last_error
    assert before + backoff(1) <= outbox.send_after <= timezone.now() + backoff(1)
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(20) == timedelta(hours=1)
    assert smtp_server.received == []


def test_temporary_failures_give_up_after_the_last_attempt(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    OutboxMessage.objects.filter(message=message).update(attempts=MAX_ATTEMPTS - 1)
    smtp_server.replies["DATA"] = "451 4.3.0 Local error"

    dispatch_due()

    outbox = row(message)
    assert outbox.status == OutboxStatus.FAILED and outbox.attempts == MAX_ATTEMPTS
    assert "451 4.3.0 Local error" in outbox.last_error and "Gave up" in outbox.last_error


def test_a_permanent_refusal_fails_at_once_with_the_server_reason(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    next_one = outgoing(account)
    smtp_server.replies["RCPT"] = "550 5.1.1 No such user here"

    result = dispatch_due()

    assert result.failed == 2
    outbox = row(message)
    assert outbox.status == OutboxStatus.FAILED
    assert outbox.last_error == "The server refused the recipient bob@outside.test (550 5.1.1 No such user here)."
    assert row(next_one).status == OutboxStatus.FAILED, "the session went on after RSET"


def test_an_unreachable_server_is_retried_later(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    ImapConfig.objects.filter(account=account).update(smtp_port=smtp_server.closed_port())
    message = outgoing(account)

    dispatch_due()

    outbox = row(message)
    assert outbox.status == OutboxStatus.PENDING and outbox.attempts == 1
    assert outbox.last_error.startswith("Could not reach 127.0.0.1:")


def test_an_untrusted_certificate_fails_with_a_clear_reason(cast, smtp_server, settings):
    account = can_send(cast.support_account, smtp_server, security="ssl")
    settings.IMAP_EXTRA_CA_FILE = ""
    message = outgoing(account)

    dispatch_due()

    assert row(message).status == OutboxStatus.FAILED
    assert "certificate is invalid" in row(message).last_error


def test_a_refused_login_marks_the_account_while_another_account_keeps_sending(cast, smtp_server):
    broken = can_send(cast.support_account, smtp_server)
    smtp_server.users[f"user-{broken.id.hex[:8]}"] = "changed-since"
    healthy = can_send(cast.personal_account, smtp_server)
    refused = outgoing(broken)
    fine = outgoing(healthy, subject="Still going")

    dispatch_due()

    outbox = row(refused)
    assert outbox.status == OutboxStatus.FAILED
    assert outbox.last_error.startswith("The SMTP server refused the username or password (535")
    broken.refresh_from_db()
    assert broken.status == AccountStatus.DISCONNECTED
    assert broken.status_reason == f"Sending failed: {outbox.last_error}"
    assert row(fine).status == OutboxStatus.SENT
    assert [r.rcpt_tos for r in smtp_server.received] == [("bob@outside.test",)]


# Crashes: the reaper and lost claims --------------------------------------------------------------


def test_the_reaper_requeues_unsent_claims_and_fails_uncertain_ones(cast):
    account = cast.support_account
    claimed, transmitting, fresh = outgoing(account), outgoing(account), outgoing(account)
    claim_due(worker="dead")
    OutboxMessage.objects.filter(message=transmitting).update(status=OutboxStatus.TRANSMITTING)
    OutboxMessage.objects.filter(message=fresh).update(lease_until=timezone.now() + 2 * LEASE)

    assert reap_expired(now=timezone.now() + LEASE + timedelta(seconds=1)) == (1, 1)

    assert row(claimed).status == OutboxStatus.PENDING and row(claimed).claimed_by == ""
    assert row(transmitting).status == OutboxStatus.FAILED and row(transmitting).last_error == UNCERTAIN_REASON
    assert row(fresh).status == OutboxStatus.SENDING, "a live lease is left alone"


def test_a_dispatcher_whose_claim_was_reaped_does_not_send_the_row_again(cast, smtp_server):
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    stale = claim_due(worker="slow")
    reap_expired(now=timezone.now() + LEASE + timedelta(seconds=1))
    assert dispatch_due(worker="fresh").sent == 1

    late = DispatchResult()
    _send_for_account(account.id, stale, late)

    assert late.skipped == 1 and late.sent == 0
    assert len(smtp_server.received) == 1
    assert row(message).status == OutboxStatus.SENT


# Retrying by hand ---------------------------------------------------------------------------------


def test_retrying_a_failed_message_sends_it(cast, smtp_server, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    OutboxMessage.objects.filter(message=message).update(status=OutboxStatus.FAILED, attempts=3, last_error="550 Nope")

    with pytest.raises(RetryRefused):
        do_retry_outbox(row(outgoing(account)), acting_user=cast.owner)  # pending: nothing to retry
    OutboxMessage.objects.exclude(message=message).delete()
    with django_capture_on_commit_callbacks(execute=True):
        do_retry_outbox(row(message), acting_user=cast.owner)

    outbox = row(message)
    assert outbox.status == OutboxStatus.SENT and outbox.last_error == ""
    assert len(smtp_server.received) == 1


def test_the_retry_view_needs_access_and_a_post(
    cast, client, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = can_send(cast.support_account, smtp_server)
    message = outgoing(account)
    OutboxMessage.objects.filter(message=message).update(status=OutboxStatus.FAILED, last_error="550 Nope")
    url = reverse("outbox_retry", args=[message.id])

    login(client, cast.outsider)
    assert client.post(url).status_code == 404
    assert row(message).status == OutboxStatus.FAILED
    login(client, cast.owner)
    assert client.get(url).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert row(message).status == OutboxStatus.SENT
    assert b"Failed" not in response.content


def test_the_status_partial_shows_sending_failed_or_nothing(cast, client, smtp_server):
    message = outgoing(cast.support_account)
    url = reverse("outbox_status", args=[message.id])
    login(client, cast.owner)

    assert "Sending…" in client.get(url).content.decode()
    OutboxMessage.objects.filter(message=message).update(
        status=OutboxStatus.FAILED, last_error="The server refused <b>you</b>"
    )
    failed = client.get(url).content.decode()
    assert "<strong>Failed:</strong> The server refused &lt;b&gt;you&lt;/b&gt;" in failed
    assert reverse("outbox_retry", args=[message.id]) in failed and "Retry" in failed
    OutboxMessage.objects.filter(message=message).update(status=OutboxStatus.SENT)
    assert client.get(url).content.decode().strip() == ""
    login(client, cast.outsider)
    assert client.get(url).status_code == 404
