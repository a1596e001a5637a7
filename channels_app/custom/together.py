"""Group commit for incoming custom-channel messages: concurrent `POST /v1/messages` requests to
one channel are delivered in one transaction.

Why: delivery is set-wise (conversations.delivery), so a transaction delivering sixteen messages
costs about what one costs (the same ~17 statements and one commit), while each request delivering
its own message pays all of it. Under uvicorn every request runs its view in a thread of its own,
so the requests that arrive while a delivery is under way can wait for the next one, together.

How: the first request for a channel leads: it delivers its own message and every one queued
meanwhile, then wakes the others and hands the lead to the first that arrived during its delivery.
So no request waits for more than the delivery under way and its own, and a lone request (every
request in the tests, and on a quiet server) is delivered at once by its own thread, with its own
database connection, exactly as before.

A message that fails fails alone: when the shared transaction raises, each message of the group is
delivered again in a transaction of its own, and the error reaches the request that sent it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from conversations.delivery import Delivery, do_receive_messages
from inboxes.models import Account
from missive.middleware import live_tab

logger = logging.getLogger(__name__)

# What a request does, in the delivering transaction, with its delivered message (the API's
# conversation options): an error there fails only that request.
Then = Callable[[Delivery], None]


@dataclass(eq=False)
class _Ticket:
    delivery: Delivery
    then: Then
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    error: BaseException | None = None


@dataclass(eq=False)
class _Queue:
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: list[_Ticket] = field(default_factory=list)
    delivering: bool = False


_queues: dict[Any, _Queue] = {}
_queues_lock = threading.Lock()


def _queue_for(account: Account) -> _Queue:
    with _queues_lock:
        return _queues.setdefault(account.id, _Queue())


def deliver_together(account: Account, delivery: Delivery, *, then: Then) -> Delivery:
    """Deliver `delivery` to the account, with whatever other requests of this process deliver to
    it at the same moment, and run `then` on it in the same transaction. Returns the delivery
    (its message and created filled in), or raises the error its own delivery or `then` raised."""
    queue = _queue_for(account)
    ticket = _Ticket(delivery, then)
    with queue.lock:
        queue.waiting.append(ticket)
        ticket.leads = not queue.delivering
        queue.delivering = True
    if not ticket.leads:
        ticket.woken.wait()
    if ticket.leads:  # first in, or handed the lead while waiting
        _lead(account, queue)
    if ticket.error is not None:
        raise ticket.error
    return ticket.delivery


def _lead(account: Account, queue: _Queue) -> None:
    """Deliver everything waiting (this request's message among it), then pass the lead on."""
    with queue.lock:
        group, queue.waiting = queue.waiting, []
    # The group's live notices are no browser tab's doing: not the leading request's X-Live-Tab.
    no_tab = live_tab.set("")
    try:
        _deliver(account, group)
    finally:
        live_tab.reset(no_tab)
        with queue.lock:
            if queue.waiting:
                queue.waiting[0].leads = True
                queue.waiting[0].woken.set()
            else:
                queue.delivering = False
        for ticket in group:
            ticket.woken.set()


def _deliver(account: Account, group: list[_Ticket]) -> None:
    if len(group) > 1:
        try:
            with transaction.atomic():
                do_receive_messages(account, [ticket.delivery for ticket in group])
                for ticket in group:
                    ticket.then(ticket.delivery)
            return
        except Exception:  # one message's error must not fail the others: each again, alone
            logger.info("Delivering %s messages together failed; delivering each alone", len(group), exc_info=True)
            for ticket in group:
                ticket.delivery = Delivery(ticket.delivery.incoming, seen=ticket.delivery.seen)
    for ticket in group:
        try:
            with transaction.atomic():
                do_receive_messages(account, [ticket.delivery])
                ticket.then(ticket.delivery)
        except Exception as error:
            ticket.error = error
