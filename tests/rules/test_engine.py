"""The rule pass: order, current state, exactly once, stop, scope, attribution, network actions."""

from __future__ import annotations

import pytest

from conversations.models import Assignment, ConversationEvent, ConversationLabel, EventKind, Message, Status
from rules.engine import enabled_rules, record_event, run_rules
from rules.models import RuleRun, RunStatus, Trigger
from tests.factories import AccountFactory, LabelFactory, receive
from tests.rules.helpers import incoming_event, make_rule, subject_is

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(cast) -> Message:
    # Delivered before any rule exists: the tests run the pass themselves.
    return receive(cast.support_account, subject="Refund please")


def test_later_rules_see_what_earlier_rules_did(cast, message):
    vip = LabelFactory(organization=cast.org, name="VIP")
    make_rule(
        cast.org,
        "2. assign VIPs",
        conditions={"mode": "all", "items": [{"field": "label", "op": "is", "value": str(vip.id)}]},
        actions=[{"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "all"}],
    )
    make_rule(
        cast.org,
        "1. label",
        conditions=subject_is("refund please"),
        actions=[{"type": "add_labels", "labels": [str(vip.id)]}],
    )
    result = run_rules(incoming_event(message))
    assert [run.rule.description for run in result.runs] == ["1. label", "2. assign VIPs"]
    assert Assignment.objects.filter(conversation=message.conversation, user=cast.teammate).exists()


def test_order_is_alphabetical_case_insensitive_by_character(cast, message):
    for name in ("b rule", "10. rule", "A rule", "2. rule"):
        make_rule(cast.org, name, actions=[{"type": "add_note", "text": name}])
    result = run_rules(incoming_event(message))
    assert [run.rule.description for run in result.runs] == ["10. rule", "2. rule", "A rule", "b rule"]


def test_a_trigger_runs_each_rule_once(cast, message):
    make_rule(cast.org, "Note", actions=[{"type": "add_note", "text": "once"}])
    run_rules(incoming_event(message, "same"))
    again = run_rules(incoming_event(message, "same"))
    assert again.runs == []
    assert message.conversation.comments.count() == 1
    assert RuleRun.objects.filter(trigger_key="same").count() == 1
    run_rules(incoming_event(message, "other"))
    assert message.conversation.comments.count() == 2


def test_not_matching_rules_do_nothing_and_leave_no_run(cast, message):
    make_rule(cast.org, "No", conditions=subject_is("something else"), actions=[{"type": "close"}])
    assert run_rules(incoming_event(message)).runs == []
    message.conversation.refresh_from_db()
    assert message.conversation.status == Status.OPEN
    assert not RuleRun.objects.exists()


def test_stop_halts_later_rules_but_not_the_rest_of_its_own_actions(cast, message):
    make_rule(cast.org, "a", actions=[{"type": "stop"}, {"type": "add_note", "text": "still runs"}])
    make_rule(cast.org, "b", actions=[{"type": "close"}])
    result = run_rules(incoming_event(message))
    assert result.stopped
    assert message.conversation.comments.get().body == "still runs"
    message.conversation.refresh_from_db()
    assert message.conversation.status == Status.OPEN


def test_a_retried_pass_still_honours_an_earlier_stop(cast, message):
    make_rule(cast.org, "a", actions=[{"type": "stop"}])
    make_rule(cast.org, "b", actions=[{"type": "close"}])
    run_rules(incoming_event(message, "k"))
    make_rule(cast.org, "c", actions=[{"type": "close"}])
    run_rules(incoming_event(message, "k"))
    message.conversation.refresh_from_db()
    assert message.conversation.status == Status.OPEN


def test_disabled_rules_and_other_types_do_not_run(cast, message):
    make_rule(cast.org, "off", enabled=False, actions=[{"type": "close"}])
    make_rule(cast.org, "outgoing", trigger=Trigger.OUTGOING, actions=[{"type": "close"}])
    make_rule(cast.org, "sms", channel="sms", actions=[{"type": "close"}])
    assert run_rules(incoming_event(message)).runs == []


def test_scope_organization_rules_on_shared_personal_rules_on_private(cast):
    shared = receive(cast.support_account, subject="s")
    private = receive(cast.personal_account, subject="p")
    make_rule(cast.org, "org", actions=[{"type": "add_note", "text": "org"}])
    make_rule(cast.org, "mine", owner=cast.owner, actions=[{"type": "add_note", "text": "mine"}])
    make_rule(cast.org, "teammate's", owner=cast.teammate, actions=[{"type": "add_note", "text": "theirs"}])
    make_rule(cast.other_org, "other org", actions=[{"type": "add_note", "text": "other"}])
    run_rules(incoming_event(shared))
    run_rules(incoming_event(private))
    assert list(shared.conversation.comments.values_list("body", flat=True)) == ["org"]
    assert list(private.conversation.comments.values_list("body", flat=True)) == ["mine"]


def test_one_candidate_list_gives_each_scope_its_own_rules_message_after_message(cast):
    accounts = [cast.support_account, cast.personal_account] * 2
    messages = [receive(account, subject=f"Subject {n}") for n, account in enumerate(accounts)]
    lone = receive(cast.personal_account, subject="lone")
    make_rule(cast.org, "org", actions=[{"type": "add_note", "text": "org"}])
    make_rule(cast.org, "mine", owner=cast.owner, actions=[{"type": "add_note", "text": "mine"}])
    make_rule(cast.org, "teammate's", owner=cast.teammate, actions=[{"type": "add_note", "text": "theirs"}])
    make_rule(cast.org, "sms", channel="sms", actions=[{"type": "add_note", "text": "sms"}])
    candidates = enabled_rules(cast.org.id, Trigger.INCOMING)
    # Alternating scopes through the same list: each message gets its scope's rules, not the last one's.
    for n, message in enumerate(messages):
        run_rules(incoming_event(message, f"k{n}"), candidates)
    for message in messages:
        expected = ["org"] if message.account == cast.support_account else ["mine"]
        assert list(message.conversation.comments.values_list("body", flat=True)) == expected
    # A private conversation reached through no account: no one's personal rules.
    event = incoming_event(lone, "k-lone")
    event.account = None
    assert run_rules(event, candidates).runs == []


def test_a_refused_action_is_logged_and_the_next_one_runs(cast, message):
    rule = make_rule(
        cast.org,
        "r",
        actions=[{"type": "move_to_team", "team": str(cast.outsider_team.id)}, {"type": "add_note", "text": "next"}],
    )
    run = run_rules(incoming_event(message)).runs[0]
    assert run.rule == rule
    assert [entry["state"] for entry in run.log] == ["failed", "done"]
    assert "team" in run.log[0]["detail"]
    message.conversation.refresh_from_db()
    assert message.conversation.team_id == cast.support.id  # another organization's team is never used


def test_events_are_attributed_to_the_rule(cast, message):
    make_rule(cast.org, "Close refunds", actions=[{"type": "close"}])
    run_rules(incoming_event(message))
    event = ConversationEvent.objects.get(conversation=message.conversation, kind=EventKind.CLOSED)
    assert event.actor is None
    assert event.text == "Rule Close refunds closed the conversation"
    written = record_event(message.conversation, EventKind.SHARED, rule=event_rule(cast), target="Ann")
    assert written.text == "Rule Forwarder shared the conversation with Ann"


def test_events_of_actions_taken_through_a_person_name_the_rule(cast, message):
    """Sharing needs a person with access (a stand-in), and a star is one person's own: the
    timeline still says the rule did it, and the star stays private to its person."""
    make_rule(
        cast.org,
        "Loop in Gina",
        actions=[
            {"type": "share", "users": [str(cast.guest.id)]},
            {"type": "star", "users": [str(cast.teammate.id)]},
        ],
    )
    run_rules(incoming_event(message))
    shared = ConversationEvent.objects.get(conversation=message.conversation, kind=EventKind.SHARED)
    assert shared.actor is None
    assert shared.text.startswith("Rule Loop in Gina shared the conversation")
    starred = ConversationEvent.objects.get(conversation=message.conversation, kind=EventKind.STARRED)
    assert (starred.actor, starred.private_to, starred.data["rule"]) == (None, cast.teammate, "Loop in Gina")


def event_rule(cast):
    return make_rule(cast.org, "Forwarder")


def test_network_actions_are_pending_and_queued_after_commit(cast, message, django_capture_on_commit_callbacks):
    make_rule(cast.org, "hook", actions=[{"type": "webhook", "url": "http://127.0.0.1:9/"}, {"type": "close"}])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = run_rules(incoming_event(message)).runs[0]
    assert run.log[0] == {"index": 0, "type": "webhook", "state": "pending"}
    assert run.log[1]["state"] == "done"
    assert any(getattr(cb, "__qualname__", "").endswith("queue") for cb in callbacks)


def test_move_to_new_conversation_switches_the_target_of_later_actions(cast):
    first = receive(cast.support_account, subject="Thread", rfc_message_id="<1@x>")
    second = receive(cast.support_account, subject="Thread", rfc_message_id="<2@x>", in_reply_to="<1@x>")
    assert first.conversation_id == second.conversation_id
    make_rule(cast.org, "split", actions=[{"type": "move_to_new_conversation"}, {"type": "close"}])
    run = run_rules(incoming_event(second)).runs[0]
    second.refresh_from_db()
    assert second.conversation_id != first.conversation_id
    assert run.conversation_id == second.conversation_id
    second.conversation.refresh_from_db()
    first.conversation.refresh_from_db()
    assert second.conversation.status == Status.CLOSED
    assert first.conversation.status == Status.OPEN


def test_contact_conditions_read_the_organizations_contacts(cast, message):
    from contacts.actions import do_create_contact, do_create_contact_book

    make_rule(
        cast.org,
        "contacts",
        conditions={"mode": "all", "items": [{"field": "from", "op": "in_contacts", "value": ""}]},
        actions=[{"type": "close"}],
    )
    assert run_rules(incoming_event(message, "before")).runs == []
    book = do_create_contact_book(cast.org, owner=cast.owner, name="Customers")
    info = {"kind": "email", "label": "work", "value": message.from_address}
    do_create_contact(book, acting_user=None, data={"infos": [info]})
    run = run_rules(incoming_event(message, "after")).runs[0]
    assert run.status == RunStatus.MATCHED
    message.conversation.refresh_from_db()
    assert message.conversation.status == Status.CLOSED


def test_rule_changes_do_not_fire_user_action_rules(cast, message):
    make_rule(cast.org, "labeler", actions=[{"type": "add_labels", "labels": ["Auto"]}, {"type": "close"}])
    make_rule(
        cast.org,
        "on label",
        trigger=Trigger.USER_ACTION,
        user_action="label_change",
        actions=[{"type": "add_note", "text": "label"}],
    )
    make_rule(
        cast.org,
        "on close",
        trigger=Trigger.USER_ACTION,
        user_action="closed",
        actions=[{"type": "add_note", "text": "closed"}],
    )
    run_rules(incoming_event(message))
    assert ConversationLabel.objects.filter(conversation=message.conversation, label__name="Auto").exists()
    assert not message.conversation.comments.exists()


def test_second_receiving_account_is_another_trigger(cast):
    other = AccountFactory(organization=cast.org, owner=cast.teammate, address="sales@acme.test", is_shared=True)
    assert other.id != cast.support_account.id


def test_the_kept_rules_read_their_labels_and_users_again_after_those_change(cast):
    """The engine keeps an organization's rules, with the labels and users their actions name,
    between deliveries: deleting the label or removing the person is seen by the next message."""
    vip = LabelFactory(organization=cast.org, name="VIP")
    make_rule(
        cast.org,
        "Label and assign",
        actions=[
            {"type": "add_labels", "labels": [str(vip.id)]},
            {"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "all"},
        ],
    )
    first = receive(cast.support_account, subject="One")
    assert ConversationLabel.objects.filter(conversation=first.conversation, label=vip).exists()
    assert Assignment.objects.filter(conversation=first.conversation, user=cast.teammate).exists()

    vip.delete()
    cast.teammate.memberships.filter(organization=cast.org).delete()
    second = receive(cast.support_account, subject="Two")
    run = RuleRun.objects.get(conversation=second.conversation)
    assert [entry["state"] for entry in run.log] == ["done", "done"]
    assert not ConversationLabel.objects.filter(conversation=second.conversation).exists()
    assert not Assignment.objects.filter(conversation=second.conversation, user=cast.teammate).exists()
