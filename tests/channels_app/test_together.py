"""Group commit of incoming custom-channel messages: what arrives while a delivery is under way is
delivered next, together, in one transaction; a message that fails fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from channels_app.custom import together
from channels_app.custom.accounts import do_create_custom_channel
from conversations.delivery import Delivery
from conversations.incoming import IncomingMessage
from conversations.models import Message
from missive.middleware import live_tab

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def channel(cast):
    return do_create_custom_channel(
        cast.org, owner=cast.owner, name="Chat bridge", message_type="text", team=cast.support, shared=True
    )


def _delivery(external_id: str, chat: str = "chat-1") -> Delivery:
    return Delivery(
        IncomingMessage(
            from_address="@ann",
            from_name="Ann",
            subject="",
            body_text=f"Message {external_id}",
            external_id=external_id,
            thread_keys=[chat],
        )
    )


def _transaction_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return cursor.fetchone()[0]


class Sender(threading.Thread):
    """One request's thread: delivers its message and keeps what came back."""

    def __init__(self, account, delivery: Delivery, then: Callable[[Delivery], None]) -> None:
        super().__init__()
        self.account, self.delivery, self.then = account, delivery, then
        self.result: Delivery | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = together.deliver_together(self.account, self.delivery, then=self.then)
        except BaseException as error:  # surfaced by the test
            self.error = error
        finally:
            connection.close()


def _waiting(account, count: int) -> None:
    """Until `count` requests wait for the delivery under way."""
    deadline = time.monotonic() + 10
    while len(together._queue_for(account).waiting) < count:
        assert time.monotonic() < deadline, "the requests never queued"
        time.sleep(0.01)


def _while_a_delivery_is_under_way(account, then_for_others: dict[str, Callable[[Delivery], None]]) -> dict:
    """A first request whose delivery is held open until the others have queued behind it; then
    everything finishes. Returns each request's thread and the transaction its `then` ran in."""
    transactions: dict[str, int] = {}
    inside, release = threading.Event(), threading.Event()

    def first_then(delivery: Delivery) -> None:
        transactions["first"] = _transaction_id()
        inside.set()
        assert release.wait(10)

    def recording(name: str, more: Callable[[Delivery], None]) -> Callable[[Delivery], None]:
        def then(delivery: Delivery) -> None:
            transactions[name] = _transaction_id()
            more(delivery)

        return then

    first = Sender(account, _delivery("first"), first_then)
    first.start()
    assert inside.wait(10)
    others = {
        name: Sender(account, _delivery(name, chat=f"chat-{name}"), recording(name, more))
        for name, more in then_for_others.items()
    }
    for sender in others.values():
        sender.start()
    _waiting(account, len(others))
    release.set()
    for sender in [first, *others.values()]:
        sender.join(10)
        assert not sender.is_alive()
    return {"first": first, **others, "transactions": transactions}


def _nothing(delivery: Delivery) -> None:
    pass


def test_messages_arriving_during_a_delivery_are_delivered_next_in_one_transaction(channel):
    run = _while_a_delivery_is_under_way(channel, {"second": _nothing, "third": _nothing})
    transactions = run["transactions"]
    assert transactions["second"] == transactions["third"] != transactions["first"]
    for name in ("first", "second", "third"):
        sender = run[name]
        assert sender.error is None
        assert sender.result.created
        assert sender.result.message.external_id == name
    stored = Message.objects.filter(account=channel)
    assert sorted(stored.values_list("external_id", flat=True)) == ["first", "second", "third"]
    # Each went to its own chat's conversation.
    assert stored.values("conversation_id").distinct().count() == 3


def test_a_message_that_fails_fails_alone_and_the_others_of_its_group_are_delivered(channel):
    def refuse(delivery: Delivery) -> None:
        raise ValueError("not this one")

    run = _while_a_delivery_is_under_way(channel, {"second": _nothing, "refused": refuse, "fourth": _nothing})
    assert isinstance(run["refused"].error, ValueError)
    assert run["second"].error is None and run["fourth"].error is None
    # Each was delivered again alone: a transaction of its own.
    transactions = run["transactions"]
    assert transactions["second"] != transactions["fourth"]
    stored = set(Message.objects.filter(account=channel).values_list("external_id", flat=True))
    assert stored == {"first", "second", "fourth"}


def test_the_same_external_id_twice_in_one_group_is_stored_once(channel):
    transactions: dict[str, int] = {}
    inside, release = threading.Event(), threading.Event()

    def hold(delivery: Delivery) -> None:
        inside.set()
        assert release.wait(10)

    def record(name: str) -> Callable[[Delivery], None]:
        def then(delivery: Delivery) -> None:
            transactions[name] = _transaction_id()

        return then

    first = Sender(channel, _delivery("first"), hold)
    first.start()
    assert inside.wait(10)
    retries = [Sender(channel, _delivery("retried"), record(str(n))) for n in range(2)]
    for sender in retries:
        sender.start()
    _waiting(channel, 2)
    release.set()
    for sender in [first, *retries]:
        sender.join(10)
    assert transactions["0"] == transactions["1"]
    assert [sender.error for sender in retries] == [None, None]
    assert sorted(sender.result.created for sender in retries) == [False, True]
    assert retries[0].result.message.id == retries[1].result.message.id
    assert Message.objects.filter(account=channel, external_id="retried").count() == 1


def test_a_lone_message_is_delivered_by_its_own_request_at_once(channel):
    seen: list[int] = []
    delivered = together.deliver_together(channel, _delivery("alone"), then=lambda d: seen.append(_transaction_id()))
    assert delivered.created and delivered.message.external_id == "alone"
    assert len(seen) == 1
    assert together._queue_for(channel).delivering is False


def test_a_groups_live_notices_are_not_the_leading_requests_browser_tab(channel):
    """Its X-Live-Tab would keep that tab from refreshing for other requests' messages."""
    tabs: list[str] = []
    token = live_tab.set("tab-of-the-first-request")
    try:
        together.deliver_together(channel, _delivery("tabbed"), then=lambda d: tabs.append(live_tab.get()))
    finally:
        live_tab.reset(token)
    assert tabs == [""]
