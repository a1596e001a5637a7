"""Triggers: incoming deliveries, outgoing sends and user actions run the rules."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from conversations.actions import (
    do_assign_conversation,
    do_close,
    do_move_to_team,
    do_post_comment,
    do_reopen,
    do_unassign,
)
from conversations.delivery import do_receive_message
from conversations.incoming import IncomingMessage
from conversations.labels import do_add_label
from conversations.models import (
    Alias,
    Draft,
    DraftKind,
    Location,
    Message,
    OutboxMessage,
    OutboxStatus,
    Status,
)
from conversations.sending import do_send_draft
from rules import triggers
from rules.models import RuleRun, Trigger
from tests.factories import AccountFactory, LabelFactory, TeamFactory, receive, state_of
from tests.rules.helpers import make_rule, subject_is

pytestmark = pytest.mark.django_db


def test_incoming_rules_act_before_the_message_is_placed(cast):
    make_rule(
        cast.org,
        "archive newsletters",
        owner=cast.owner,
        conditions=subject_is("news"),
        actions=[{"type": "archive", "users": []}],
    )
    message = receive(cast.personal_account, subject="News")
    assert state_of(message.conversation, cast.owner).location == Location.ARCHIVED
    run = RuleRun.objects.get()
    assert run.trigger_key == f"msg:{message.id}:acct:{cast.personal_account.id}"


def test_incoming_rules_run_once_per_receiving_account(cast):
    other = AccountFactory(organization=cast.org, owner=cast.owner, address="sales@acme.test", is_shared=True)
    make_rule(cast.org, "note", actions=[{"type": "add_note", "text": "seen"}])
    incoming = dict(from_address="c@x.test", subject="Hi", body_text="x", rfc_message_id="<same@x.test>")
    first = do_receive_message(cast.support_account, IncomingMessage(**incoming))
    again = do_receive_message(cast.support_account, IncomingMessage(**incoming))  # a retried sync
    second = do_receive_message(other, IncomingMessage(**incoming))
    assert first.id == again.id == second.id
    assert RuleRun.objects.count() == 2
    assert first.conversation.comments.count() == 2


def test_a_failing_rule_never_breaks_delivery(cast):
    make_rule(
        cast.org, "bad", conditions={"mode": "all", "items": [{"field": "message_count", "op": "is", "value": "x"}]}
    )
    message = receive(cast.support_account, subject="Still delivered")
    assert message.pk


def test_mail_filed_in_archive_by_the_server_runs_no_rules(cast):
    make_rule(cast.org, "note", actions=[{"type": "add_note", "text": "x"}])
    do_receive_message(cast.support_account, IncomingMessage("c@x.test", "Old", "x"), placement=Location.ARCHIVED)
    assert not RuleRun.objects.exists()


def _send(cast, inbound, **fields):
    draft = Draft.objects.create(
        organization=cast.org,
        conversation=inbound.conversation,
        kind=DraftKind.REPLY,
        replying_to=inbound,
        creator=cast.teammate,
        account=cast.support_account,
        alias=Alias.objects.get(account=cast.support_account, is_default=True),
        to=[{"name": "", "address": "customer@outside.test"}],
        subject="Re: x",
        body_html="<p>Thanks</p>",
        **fields,
    )
    return do_send_draft(draft, acting_user=cast.teammate)


def test_outgoing_prevent_delivery_keeps_the_message_marked_not_delivered(cast):
    inbound = receive(cast.support_account, subject="Q")
    make_rule(
        cast.org,
        "block",
        trigger=Trigger.OUTGOING,
        conditions={"mode": "all", "items": [{"field": "to", "op": "ends_with", "value": "outside.test"}]},
        actions=[{"type": "prevent_delivery"}],
    )
    message = _send(cast, inbound)
    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.CANCELLED
    assert outbox.last_error == "Not delivered (blocked by rule block)"
    assert message.conversation.messages.filter(id=message.id).exists()
    shown = render_to_string("conversations/_outbox_status.html", {"item": message})
    assert "Not delivered (blocked by rule block)" in shown


def test_outgoing_add_recipients_and_sender_condition(cast):
    inbound = receive(cast.support_account, subject="Q")
    make_rule(
        cast.org,
        "bcc archive",
        trigger=Trigger.OUTGOING,
        conditions={"mode": "all", "items": [{"field": "sender", "op": "is", "value": str(cast.teammate.id)}]},
        actions=[{"type": "add_recipients", "field": "bcc", "addresses": "archive@acme.test, audit@acme.test"}],
    )
    message = _send(cast, inbound)
    message.refresh_from_db()
    assert [entry["address"] for entry in message.bcc] == ["archive@acme.test", "audit@acme.test"]
    assert OutboxMessage.objects.get(message=message).status == OutboxStatus.PENDING


def _user_rule(cast, event: str, note: str, **kwargs):
    return make_rule(
        cast.org,
        note,
        trigger=Trigger.USER_ACTION,
        user_action=event,
        actions=[{"type": "add_note", "text": note}],
        **kwargs,
    )


def notes(conversation) -> list[str]:
    return list(conversation.comments.filter(author=None).order_by("created_at").values_list("body", flat=True))


def test_user_actions_fire_their_rules_after_commit(cast, django_capture_on_commit_callbacks):
    conversation = receive(cast.support_account).conversation
    for event in ("closed", "reopened", "assignee_changed", "team_changed", "new_comment", "label_change"):
        _user_rule(cast, event, event)
    sales = TeamFactory(organization=cast.org, name="Sales")
    label = LabelFactory(organization=cast.org, name="Bug")
    with django_capture_on_commit_callbacks(execute=True):
        do_close(conversation, acting_user=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        do_reopen(conversation, acting_user=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        do_move_to_team(conversation, sales, acting_user=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        do_post_comment(conversation, author=cast.owner, body="Looks good")
    with django_capture_on_commit_callbacks(execute=True):
        do_add_label(conversation, label, acting_user=cast.owner)
    assert notes(conversation) == [
        "closed",
        "reopened",
        "assignee_changed",
        "team_changed",
        "new_comment",
        "label_change",
    ]


def test_user_action_conditions_read_the_event(cast, django_capture_on_commit_callbacks):
    conversation = receive(cast.support_account).conversation
    make_rule(
        cast.org,
        "feedback",
        trigger=Trigger.USER_ACTION,
        user_action="new_comment",
        conditions={"mode": "all", "items": [{"field": "comment_text", "op": "contains", "value": "#feedback"}]},
        actions=[{"type": "close"}],
    )
    make_rule(
        cast.org,
        "unassigned",
        trigger=Trigger.USER_ACTION,
        user_action="assignee_changed",
        conditions={
            "mode": "all",
            "items": [{"field": "removed_assignee", "op": "is", "value": str(cast.teammate.id)}],
        },
        actions=[{"type": "add_note", "text": "teammate left"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        do_post_comment(conversation, author=cast.owner, body="no tag")
    conversation.refresh_from_db()
    assert conversation.status == "open"
    with django_capture_on_commit_callbacks(execute=True):
        do_post_comment(conversation, author=cast.owner, body="This is #Feedback")
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        do_unassign(conversation, cast.teammate, acting_user=cast.owner)
    assert notes(conversation) == ["teammate left"]


def test_rule_made_changes_announce_nothing(cast, django_capture_on_commit_callbacks):
    conversation = receive(cast.support_account).conversation
    _user_rule(cast, "closed", "closed")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        do_close(conversation, acting_user=None)
    assert notes(conversation) == []
    assert callbacks is not None


def test_delivery_without_rules_costs_no_rule_query_once_known(cast, django_assert_num_queries):
    from rules.engine import enabled_rules

    assert enabled_rules(cast.org.id, Trigger.INCOMING) == []
    with django_assert_num_queries(0):
        assert enabled_rules(cast.org.id, Trigger.INCOMING) == []
    rule = make_rule(cast.org, "new")  # saving a rule forgets the cached absence
    assert enabled_rules(cast.org.id, Trigger.INCOMING) == [rule]


def test_incoming_rules_read_a_conversation_the_message_does_not_carry(cast):
    """Delivery hands its messages over with their conversations; a message read back from the
    database (its conversation not loaded) still gets the rules, on its own conversation."""
    message = receive(cast.support_account, subject="Invoice 12")
    make_rule(cast.org, "close invoices", conditions=subject_is("invoice 12"), actions=[{"type": "close"}])
    loaded = Message.objects.get(id=message.id)
    assert not Message.conversation.is_cached(loaded)
    [result] = triggers.incoming(cast.support_account, [(loaded, False)], None)
    assert [run.conversation_id for run in result.runs] == [message.conversation_id]
    message.conversation.refresh_from_db()
    assert message.conversation.status == Status.CLOSED
