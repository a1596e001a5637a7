"""Every condition field and operator, evaluated on real conversations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from conversations.actions import do_assign_conversation, do_close, do_move_to_team, do_set_watching
from conversations.labels import do_add_label
from conversations.models import Direction, Message
from rules.conditions import FIELDS, Facts, e164, group_matches, item_matches, without_quote
from rules.engine import TriggerEvent
from rules.models import Rule, Trigger
from tests.factories import LabelFactory, TeamFactory, receive

pytestmark = pytest.mark.django_db


def facts_for(message, account=None, **kwargs) -> Facts:
    event = TriggerEvent(
        kind=kwargs.pop("kind", Trigger.INCOMING),
        conversation=message.conversation,
        message=message,
        account=account or message.account,
        trigger_key="test",
        **kwargs,
    )
    rule = Rule(organization_id=message.organization_id, description="t", trigger=event.kind)
    return Facts(event, rule=rule)


def check(facts: Facts, field: str, op: str, value=None, **extra) -> bool:
    return item_matches(facts, {"field": field, "op": op, "value": value, **extra})


@pytest.fixture
def message(cast):
    return receive(
        cast.support_account,
        subject="Invoice overdue",
        body="Please pay.\n\nOn Mon, Bob wrote:\n> old text",
        sender="Billing@Vendor.test",
        from_name="Vendor Billing",
        cc=[{"name": "Carl", "address": "carl@partner.test"}],
    )


TEXT_CASES = [
    ("is", "invoice overdue", True),
    ("is", "invoice", False),
    ("is_not", "invoice", True),
    ("is_not", "INVOICE OVERDUE", False),
    ("contains", "OVERDUE", True),
    ("contains", "paid", False),
    ("does_not_contain", "paid", True),
    ("does_not_contain", "voice", False),
    ("starts_with", "invoice", True),
    ("starts_with", "overdue", False),
    ("does_not_start_with", "overdue", True),
    ("does_not_start_with", "Invoice", False),
    ("ends_with", "overdue", True),
    ("ends_with", "invoice", False),
    ("does_not_end_with", "invoice", True),
    ("does_not_end_with", "due", False),
]


@pytest.mark.parametrize(("op", "value", "expected"), TEXT_CASES)
def test_text_operators_on_the_subject(message, op, value, expected):
    assert check(facts_for(message), "subject", op, value) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("is", "billing@vendor.test", True),
        ("is", "vendor billing", True),  # the display name counts too
        ("contains", "@vendor", True),
        ("ends_with", ".test", True),
        ("is_not", "billing@vendor.test", False),
        ("is_not", "someone@else.test", True),
        ("does_not_contain", "vendor", False),
        ("does_not_start_with", "x", True),
        ("does_not_end_with", "billing", False),
        ("starts_with", "billing@", True),
    ],
)
def test_from_matches_address_or_display_name(message, op, value, expected):
    assert check(facts_for(message), "from", op, value) is expected


def test_multi_valued_fields_any_for_positive_none_for_negative(cast):
    message = receive(cast.support_account)
    message.to = [{"name": "", "address": "a@x.test"}, {"name": "", "address": "b@y.test"}]
    facts = facts_for(message)
    assert check(facts, "to", "is", "b@y.test")
    assert check(facts, "to", "is_not", "c@z.test")
    assert not check(facts, "to", "is_not", "a@x.test")  # one value matches the positive
    assert not check(facts, "to", "does_not_end_with", ".test")
    assert check(facts, "any_recipient", "contains", "y.test")
    assert not check(facts, "bcc", "contains", "@")  # empty: positives fail
    assert check(facts, "bcc", "does_not_contain", "@")  # ...and negatives match


def test_cc_reply_to_and_any_recipient(cast, message):
    facts = facts_for(message)
    assert check(facts, "cc", "is", "carl@partner.test")
    assert check(facts, "any_recipient", "is", "carl@partner.test")
    reply = receive(cast.support_account, reply_to=[{"name": "", "address": "desk@vendor.test"}])
    assert check(facts_for(reply), "reply_to", "starts_with", "desk@")
    assert not check(facts_for(reply), "reply_to", "is", "billing@vendor.test")


def test_past_recipient_operators(cast, message):
    facts = facts_for(message)
    assert check(facts, "from", "is_not_past_recipient")
    Message.objects.create(
        organization=cast.org,
        conversation=message.conversation,
        direction=Direction.OUTBOUND,
        to=[{"name": "", "address": "billing@vendor.test"}],
    )
    facts = facts_for(message)
    assert check(facts, "from", "is_past_recipient")
    assert not check(facts, "from", "is_not_past_recipient")
    assert check(facts, "cc", "is_not_past_recipient")


def test_phone_fields_compare_e164(cast, message):
    message.from_address = "+1 (514) 555-1234"
    message.to = [{"name": "", "address": "0033 1 23 45 67 89"}]
    facts = facts_for(message)
    assert e164("0015145551234") == "+15145551234"
    assert check(facts, "from_phone", "is", "+1 514-555-1234")
    assert check(facts, "from_phone", "starts_with", "+1514")
    assert check(facts, "to_phone", "is", "+33123456789")
    assert check(facts, "to_phone", "does_not_start_with", "+1")


def test_content_fields(cast, tmp_storage):
    from conversations.incoming import IncomingAttachment

    message = receive(
        cast.support_account,
        subject="Report",
        body="See attached.\n\nOn Tuesday, Ann wrote:\n> secret words",
        attachments=[IncomingAttachment("Q3-report.PDF", "application/pdf", b"%PDF")],
        raw=b"From: a@b.test\r\nX-Campaign: spring\r\nSubject: Report\r\n\r\nbody",
    )
    facts = facts_for(message)
    assert check(facts, "body", "contains", "secret words")
    assert not check(facts, "body_without_quote", "contains", "secret words")
    assert check(facts, "body_without_quote", "ends_with", "see attached.")
    assert check(facts, "content", "contains", "customer@outside.test")
    assert check(facts, "content", "contains", "report")
    assert check(facts, "attachment_name", "ends_with", ".pdf")
    assert check(facts, "headers", "contains", "x-campaign: spring")
    assert without_quote("Hi\n> quoted") == "Hi"


def test_body_of_an_html_only_message_is_its_text(cast):
    message = receive(cast.support_account, body="", body_html="<p>Hello <b>there</b></p>")
    assert check(facts_for(message), "body", "contains", "hello there")


@pytest.mark.parametrize(
    ("flags", "raw", "expected"),
    [
        ({}, None, False),
        ({"is_bulk": True}, None, True),
        ({"is_auto_reply": True}, None, True),
        ({}, b"Auto-Submitted: auto-generated\r\n\r\nx", True),
        ({}, b"Auto-Submitted: no\r\n\r\nx", False),
        ({}, b"Precedence: list\r\n\r\nx", True),
        ({}, b"List-Id: <news.x.test>\r\n\r\nx", True),
        ({}, b"X-Autoreply: yes\r\n\r\nx", True),
    ],
)
def test_automated(cast, tmp_storage, flags, raw, expected):
    message = receive(cast.support_account, raw=raw, **flags)
    facts = facts_for(message)
    assert check(facts, "automated", "is", True) is expected
    assert check(facts, "automated", "is_not", True) is not expected


def test_automated_mailer_daemon(cast):
    message = receive(cast.support_account, sender="MAILER-DAEMON@mx.test")
    assert check(facts_for(message), "automated", "is", "yes")


def test_read_trackers_flag_and_detector(cast):
    flagged = receive(cast.support_account, has_read_trackers=True)
    assert check(facts_for(flagged), "read_trackers", "is", True)
    html = receive(cast.support_account, body_html='<p>x</p><img src="https://mailtrack.io/trace/1.png">')
    assert check(facts_for(html), "read_trackers", "is", True)
    plain = receive(cast.support_account, body_html='<img src="https://cdn.test/logo.png" width="200">')
    assert check(facts_for(plain), "read_trackers", "is_not", True)


def test_spam(cast):
    from conversations.delivery import do_receive_message
    from conversations.incoming import IncomingMessage
    from conversations.models import Location

    clean = receive(cast.personal_account)
    assert check(facts_for(clean), "spam", "is", False)
    spam = do_receive_message(
        cast.personal_account, IncomingMessage("x@spam.test", "Win", "prize"), placement=Location.SPAM
    )
    assert check(facts_for(spam), "spam", "is", True)
    assert check(facts_for(spam), "spam", "is_not", False)


def test_value_operators_on_conversation_fields(cast, message):
    conversation = message.conversation
    facts = facts_for(message)
    owner = str(cast.owner.id)
    for field in ("assignee",):
        assert check(facts, field, "is_blank")
        assert not check(facts, field, "is_present")
        assert check(facts, field, "is_not", owner)
    do_assign_conversation(conversation, [cast.owner], acting_user=None)
    facts.forget()
    assert check(facts, "assignee", "is", owner)
    assert check(facts, "assignee", "is_present")
    assert not check(facts, "assignee", "is_not", owner)
    assert check(facts, "watching_user", "is", owner)
    assert check(facts, "watching_user", "is_present")
    assert check(facts, "watching_user", "is_not", str(cast.teammate.id))
    assert check(facts, "team", "is", str(cast.support.id))
    assert check(facts, "team", "is_present")
    assert not check(facts, "team", "is_blank")
    label = LabelFactory(organization=cast.org, name="VIP")
    assert check(facts, "label", "is_blank")
    do_add_label(conversation, label, acting_user=None)
    facts.forget()
    assert check(facts, "label", "is", str(label.id))
    assert check(facts, "label", "is_present")
    assert check(facts, "label", "is_not", str(LabelFactory(organization=cast.org).id))
    assert check(facts, "email_account", "is", str(cast.support_account.id))
    assert check(facts, "email_account", "is_not", str(cast.personal_account.id))
    assert check(facts, "account", "is", str(cast.support_account.id))


def test_watching_user_blank(cast):
    message = receive(cast.personal_account)
    facts = facts_for(message)
    assert check(facts, "watching_user", "is_blank")
    do_set_watching(message.conversation, acting_user=cast.owner, watching=True)
    facts.forget()
    assert check(facts, "watching_user", "is_present")


def test_out_of_office_user(cast, message):
    from inboxes.models import Membership

    facts = facts_for(message)
    assert check(facts, "out_of_office_user", "is_blank")
    Membership.objects.filter(user=cast.teammate, organization=cast.org).update(out_of_office=True)
    facts.forget()
    assert check(facts, "out_of_office_user", "is", str(cast.teammate.id))
    assert check(facts, "out_of_office_user", "is_present")
    assert check(facts, "out_of_office_user", "is_not", str(cast.owner.id))


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("is", 2, True),
        ("is", 3, False),
        ("is_not", 3, True),
        ("is_not", 2, False),
        ("is_lower_than", 3, True),
        ("is_lower_than", 2, False),
        ("is_greater_than", 1, True),
        ("is_greater_than", 2, False),
    ],
)
def test_message_count(cast, op, value, expected):
    first = receive(cast.support_account, rfc_message_id="<a@x>")
    second = receive(cast.support_account, rfc_message_id="<b@x>", in_reply_to="<a@x>")
    assert second.conversation_id == first.conversation_id
    assert check(facts_for(second), "message_count", op, value) is expected


def test_state(cast, message):
    facts = facts_for(message)
    assert check(facts, "state", "is", "team_inbox")
    assert check(facts, "state", "is_not", "assigned")
    assert check(facts, "state", "is_not", "closed")
    do_assign_conversation(message.conversation, [cast.teammate], acting_user=None)
    do_close(message.conversation, acting_user=None)
    facts.forget()
    assert check(facts, "state", "is", "assigned")
    assert check(facts, "state", "is", "closed")
    assert check(facts, "state", "is_not", "team_inbox")


WEEKDAYS = {
    "time_zone": "America/Toronto",
    "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


@pytest.mark.parametrize(
    ("at", "op", "value", "expected"),
    [
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "is_within", WEEKDAYS, True),  # Mon 10:00 Toronto
        (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), "is_within", WEEKDAYS, False),  # Mon 08:00 Toronto
        (datetime(2026, 11, 22, 15, 0, tzinfo=UTC), "is_not_within", WEEKDAYS, True),  # Sunday
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "is_not_within", WEEKDAYS, False),
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "is_before", "2026-11-23T16:00:00+00:00", True),
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "is_before", "2026-11-23T14:00:00+00:00", False),
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "is_after", "2026-11-23T14:00:00Z", True),
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "is_after", "2026-11-23T16:00:00Z", False),
    ],
)
def test_time_operators(cast, message, at, op, value, expected):
    message.created_at = at
    assert check(facts_for(message), "reception_time", op, value) is expected
    user_facts = facts_for(message, kind=Trigger.USER_ACTION, at=at)
    assert check(user_facts, "trigger_time", op, value) is expected


def test_sender_of_outgoing_message(cast, message):
    message.author = cast.teammate
    facts = facts_for(message, kind=Trigger.OUTGOING)
    assert check(facts, "sender", "is", str(cast.teammate.id))
    assert check(facts, "sender", "is_not", str(cast.owner.id))


def test_user_action_fields(cast, message):
    parent = LabelFactory(organization=cast.org, name="Billing")
    child = LabelFactory(organization=cast.org, name="Refunds", parent=parent)
    team = TeamFactory(organization=cast.org, name="Sales")
    facts = facts_for(
        message,
        kind=Trigger.USER_ACTION,
        acting_user=cast.owner,
        data={
            "label_id": str(child.id),
            "added": True,
            "added_assignees": [str(cast.teammate.id)],
            "removed_assignees": [str(cast.observer.id)],
            "new_team": str(team.id),
            "previous_team": str(cast.support.id),
            "is_task": True,
            "mentions": [str(cast.guest.id)],
            "comment_text": "Please add #feedback here",
        },
    )
    assert check(facts, "initiator", "is", str(cast.owner.id))
    assert check(facts, "initiator", "is_not", str(cast.teammate.id))
    assert check(facts, "added_label", "is", "refunds")
    assert not check(facts, "added_label", "is", "billing")
    assert check(facts, "added_label_or_parent", "is", "billing")
    assert check(facts, "removed_label", "does_not_contain", "refunds")  # nothing removed
    assert not check(facts, "removed_label_or_parent", "is", "billing")
    assert check(facts, "added_assignee", "is", str(cast.teammate.id))
    assert check(facts, "removed_assignee", "is", str(cast.observer.id))
    assert check(facts, "removed_assignee", "is_not", str(cast.teammate.id))
    assert check(facts, "new_team", "is", str(team.id))
    assert check(facts, "previous_team", "is", str(cast.support.id))
    assert check(facts, "previous_team", "is_not", str(team.id))
    assert check(facts, "is_task", "is", True)
    assert check(facts, "is_task", "is_not", False)
    assert check(facts, "mention", "is", str(cast.guest.id))
    assert check(facts, "comment_text", "contains", "#FEEDBACK")
    removed = facts_for(
        message, kind=Trigger.USER_ACTION, acting_user=cast.owner, data={"label_id": str(child.id), "added": False}
    )
    assert check(removed, "removed_label", "is", "refunds")
    assert check(removed, "removed_label_or_parent", "is", "billing")


def test_groups_all_any_none_nested_and_empty(message):
    facts = facts_for(message)
    yes = {"field": "subject", "op": "contains", "value": "invoice"}
    no = {"field": "subject", "op": "contains", "value": "zebra"}
    assert group_matches(facts, {})
    assert group_matches(facts, {"mode": "all", "items": []})
    assert group_matches(facts, {"mode": "all", "items": [yes, yes]})
    assert not group_matches(facts, {"mode": "all", "items": [yes, no]})
    assert group_matches(facts, {"mode": "any", "items": [no, yes]})
    assert not group_matches(facts, {"mode": "any", "items": [no]})
    assert group_matches(facts, {"mode": "none", "items": [no]})
    assert not group_matches(facts, {"mode": "none", "items": [no, yes]})
    nested = {"mode": "all", "items": [yes, {"mode": "any", "items": [no, {"mode": "none", "items": [no]}]}]}
    assert group_matches(facts, nested)


def test_every_catalog_field_has_an_evaluator():
    from rules.catalog import CONDITIONS, DELAY_FIELDS, SLA_FIELDS

    assert set(CONDITIONS) - DELAY_FIELDS - SLA_FIELDS == set(FIELDS)


def test_move_to_team_changes_team_condition(cast, message):
    sales = TeamFactory(organization=cast.org, name="Sales")
    facts = facts_for(message)
    do_move_to_team(message.conversation, sales, acting_user=None)
    facts.forget()
    assert check(facts, "team", "is", str(sales.id))
    assert timezone.now() - message.created_at < timedelta(minutes=5)
