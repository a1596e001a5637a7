"""Every non-network action, run by a rule through the conversation actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.actions import do_assign_conversation, do_snooze
from conversations.labels import do_add_label
from conversations.models import (
    Assignment,
    CannedResponse,
    Comment,
    ConversationLabel,
    Draft,
    DraftStatus,
    Label,
    Location,
    Status,
    Subtask,
)
from inboxes.models import Membership
from rules.engine import TriggerEvent, run_rules
from rules.models import Rule, RuleRun, Trigger
from tests.factories import LabelFactory, TeamFactory, receive, state_of
from tests.rules.helpers import make_rule

pytestmark = pytest.mark.django_db

_keys = iter(range(10**6))


def act(message, actions: list[dict], *, owner=None, rule: Rule | None = None) -> RuleRun:
    """Run one rule with these actions on the message's conversation and return its run."""
    rule = rule or make_rule(message.organization, "Act", actions=actions, owner=owner)
    rule.enabled = True
    rule.save(update_fields=["enabled"])
    message.conversation.refresh_from_db()
    event = TriggerEvent(
        kind=rule.trigger,
        conversation=message.conversation,
        message=message,
        account=message.account,
        trigger_key=f"t{next(_keys)}",
    )
    runs = run_rules(event).runs
    # Off again: the next deliveries of the test do not run it by themselves.
    rule.enabled = False
    rule.save(update_fields=["enabled"])
    assert len(runs) == 1
    message.refresh_from_db()
    return runs[0]


@pytest.fixture
def message(cast):
    return receive(cast.support_account, subject="Help")


@pytest.fixture
def private(cast):
    return receive(cast.personal_account, subject="Mine")


def assignees(conversation) -> set:
    return set(Assignment.objects.filter(conversation=conversation).values_list("user_id", flat=True))


def test_assign_me_in_a_personal_rule(cast, private):
    act(private, [{"type": "assign_me"}], owner=cast.owner)
    assert assignees(private.conversation) == {cast.owner.id}


def test_assign_users_all_at_once(cast, message):
    users = [str(cast.owner.id), str(cast.teammate.id)]
    act(message, [{"type": "assign_users", "users": users, "strategy": "all"}])
    assert assignees(message.conversation) == {cast.owner.id, cast.teammate.id}


def test_assign_users_randomly_picks_one(cast, message):
    act(message, [{"type": "assign_users", "users": [str(cast.owner.id), str(cast.teammate.id)], "strategy": "random"}])
    assert len(assignees(message.conversation)) == 1


def test_assign_users_in_turn_round_robins_with_a_cursor(cast):
    users = [str(cast.owner.id), str(cast.teammate.id)]
    rule = make_rule(
        cast.org, "Turn", enabled=False, actions=[{"type": "assign_users", "users": users, "strategy": "in_turn"}]
    )
    picked = []
    for n in range(3):
        message = receive(cast.support_account, subject=f"T{n}")
        act(message, [], rule=rule)
        picked.append(assignees(message.conversation))
    assert picked == [{cast.owner.id}, {cast.teammate.id}, {cast.owner.id}]
    rule.refresh_from_db()
    assert rule.turn_cursors == {"0": 3}


def test_assign_users_least_busy_first(cast):
    busy = receive(cast.support_account, subject="busy")
    do_assign_conversation(busy.conversation, [cast.owner], acting_user=None)
    message = receive(cast.support_account, subject="new")
    users = [str(cast.owner.id), str(cast.teammate.id)]
    act(message, [{"type": "assign_users", "users": users, "strategy": "least_busy"}])
    assert assignees(message.conversation) == {cast.teammate.id}


def test_assign_users_filters_narrow_the_candidates(cast, message):
    users = [str(cast.owner.id), str(cast.teammate.id), str(cast.observer.id)]
    Membership.objects.filter(user=cast.teammate).update(out_of_office=True)
    act(message, [{"type": "assign_users", "users": users, "strategy": "all", "filters": ["out_of_office"]}])
    assert assignees(message.conversation) == {cast.teammate.id}
    other = receive(cast.support_account, subject="x")
    act(
        other,
        [
            {
                "type": "assign_users",
                "users": users,
                "strategy": "all",
                "filters": [{"type": "team_active", "team": str(cast.support.id)}, "not_assigned"],
            }
        ],
    )
    assert assignees(other.conversation) == {cast.owner.id, cast.teammate.id}


def test_assign_users_with_no_candidate_assigns_nobody(cast, message):
    run = act(message, [{"type": "assign_users", "users": [str(cast.owner.id)], "filters": ["snoozed"]}])
    assert run.log[0]["state"] == "done"
    assert assignees(message.conversation) == set()


def test_assign_users_with_an_unknown_filter_fails(cast, message):
    run = act(message, [{"type": "assign_users", "users": [str(cast.owner.id)], "filters": ["nearby"]}])
    assert run.log[0]["state"] == "failed"
    assert assignees(message.conversation) == set()


def test_assign_users_never_assigns_another_organizations_user(cast, message):
    act(message, [{"type": "assign_users", "users": [str(cast.outsider.id)], "strategy": "all"}])
    assert assignees(message.conversation) == set()


def test_assign_sender_on_outgoing_and_nothing_on_incoming(cast, message):
    run = act(message, [{"type": "assign_sender"}])
    assert assignees(message.conversation) == set()
    assert run.log[0]["detail"] == "The sender is not a user."
    message.author = cast.teammate
    act(message, [{"type": "assign_sender"}])
    assert assignees(message.conversation) == {cast.teammate.id}


def test_unassign_given_users_or_everyone(cast, message):
    do_assign_conversation(message.conversation, [cast.owner, cast.teammate], acting_user=None)
    act(message, [{"type": "unassign_users", "users": [str(cast.owner.id)]}])
    assert assignees(message.conversation) == {cast.teammate.id}
    act(message, [{"type": "unassign_users", "users": "all"}])
    assert assignees(message.conversation) == set()


def test_move_to_team_and_unassign_team(cast, message):
    sales = TeamFactory(organization=cast.org, name="Sales")
    act(message, [{"type": "move_to_team", "team": str(sales.id)}])
    assert message.conversation.team_id == sales.id
    act(message, [{"type": "unassign_team"}])
    assert message.conversation.team_id is None
    assert not message.conversation.in_team_inbox


def test_add_to_inbox(cast, message):
    act(message, [{"type": "add_to_inbox", "users": [str(cast.teammate.id), str(cast.guest.id)]}])
    assert state_of(message.conversation, cast.teammate).location == Location.INBOX
    assert state_of(message.conversation, cast.guest).location == Location.INBOX


def test_add_task(cast, message):
    act(
        message,
        [
            {
                "type": "add_task",
                "title": "Call back",
                "assignees": [str(cast.teammate.id)],
                "due_in": 86400,
                "team": str(cast.support.id),
            }
        ],
    )
    task = Subtask.objects.get(conversation=message.conversation)
    assert task.title == "Call back"
    assert list(task.assignees.all()) == [cast.teammate]
    assert task.due_date == (timezone.now() + timedelta(days=1)).date()
    assert task.team == cast.support


def test_add_labels_creates_missing_ones_and_remove_labels(cast, message):
    bug = LabelFactory(organization=cast.org, name="Bug")
    act(message, [{"type": "add_labels", "labels": [str(bug.id), "Urgent"]}])
    names = set(
        ConversationLabel.objects.filter(conversation=message.conversation).values_list("label__name", flat=True)
    )
    assert names == {"Bug", "Urgent"}
    assert Label.objects.get(name="Urgent").organization == cast.org
    act(message, [{"type": "remove_labels", "labels": [str(bug.id)]}])
    assert list(message.conversation.labels.values_list("name", flat=True)) == ["Urgent"]
    act(message, [{"type": "remove_labels", "labels": "all"}])
    assert not message.conversation.labels.exists()


def test_labels_of_another_organization_are_never_used(cast, message):
    theirs = LabelFactory(organization=cast.other_org, name="Theirs")
    act(message, [{"type": "add_labels", "labels": [str(theirs.id)]}])
    assert not message.conversation.labels.exists()


def test_set_color(cast, message):
    act(message, [{"type": "set_color", "color": "#FF8800"}])
    assert message.conversation.color == "#ff8800"
    run = act(message, [{"type": "set_color", "color": "orange"}])
    assert run.log[0]["state"] == "failed"


def test_merge_into(cast, message):
    target = receive(cast.support_account, subject="Target")
    act(message, [{"type": "merge_into", "conversation": str(target.conversation_id)}])
    message.refresh_from_db()
    assert message.conversation_id == target.conversation_id


def test_add_note(cast, message):
    act(message, [{"type": "add_note", "text": "**Heads up**: VIP"}])
    note = Comment.objects.get(conversation=message.conversation)
    assert note.author is None
    assert note.body == "**Heads up**: VIP"


def test_create_draft_from_text_and_canned_response(cast, message):
    act(message, [{"type": "create_draft", "text": "Thanks <for> writing"}])
    draft = Draft.objects.get(conversation=message.conversation)
    assert "Thanks &lt;for&gt; writing" in draft.body_html
    response = CannedResponse.objects.create(
        organization=cast.org, scope="organization", title="Hi", body="<p>Hello!</p>"
    )
    other = receive(cast.support_account, subject="Other")
    act(other, [{"type": "create_draft", "canned_response": str(response.id)}])
    assert "Hello!" in Draft.objects.get(conversation=other.conversation).body_html


def test_follow_up_schedules_a_reply_discarded_on_reply(cast, message):
    message.author = cast.teammate
    response = CannedResponse.objects.create(
        organization=cast.org, scope="organization", title="F", body="<p>Any news?</p>"
    )
    act(message, [{"type": "follow_up", "canned_response": str(response.id), "after": 3 * 86400}])
    draft = Draft.objects.get(conversation=message.conversation)
    assert draft.status == DraftStatus.SCHEDULED
    assert draft.discard_if_reply
    assert draft.scheduled_at > timezone.now() + timedelta(days=2)


def test_close(cast, message):
    act(message, [{"type": "close"}])
    assert message.conversation.status == Status.CLOSED


def test_archive_for_given_users_or_everyone(cast, private, message):
    act(private, [{"type": "archive", "users": []}], owner=cast.owner)
    assert state_of(private.conversation, cast.owner).location == Location.ARCHIVED
    do_assign_conversation(message.conversation, [cast.teammate], acting_user=None)
    act(message, [{"type": "archive", "users": [str(cast.teammate.id)]}])
    assert state_of(message.conversation, cast.teammate).location == Location.ARCHIVED
    assert message.conversation.status == Status.OPEN


def test_archive_from_team_inbox(cast, message):
    act(message, [{"type": "archive_team", "team": str(cast.support.id)}])
    assert message.conversation.status == Status.CLOSED
    assert state_of(message.conversation, cast.teammate).location == Location.ARCHIVED


def test_trash_personal_and_organization(cast, private, message):
    act(private, [{"type": "trash"}], owner=cast.owner)
    assert state_of(private.conversation, cast.owner).location == Location.TRASHED
    act(message, [{"type": "trash"}])
    assert state_of(message.conversation, cast.teammate).location == Location.TRASHED
    assert message.conversation.team_id is None


def test_snooze_for_everyone_and_discard_snooze(cast, message):
    act(message, [{"type": "snooze", "until": "3600"}])
    assert message.conversation.snoozed_until is not None
    assert state_of(message.conversation, cast.teammate).snoozed_until is not None
    act(message, [{"type": "discard_snooze", "users": [str(cast.teammate.id)]}])
    assert message.conversation.snoozed_until is None


def test_snooze_for_given_users(cast, message):
    until = (timezone.now() + timedelta(hours=2)).isoformat()
    act(message, [{"type": "snooze", "until": until, "users": [str(cast.teammate.id)]}])
    assert state_of(message.conversation, cast.teammate).snoozed_until is not None
    assert state_of(message.conversation, cast.owner).snoozed_until is None


def test_discard_snooze_for_a_user(cast, private):
    do_snooze(private.conversation, acting_user=cast.owner, until=timezone.now() + timedelta(hours=1))
    act(private, [{"type": "discard_snooze", "users": [str(cast.owner.id)]}], owner=cast.owner)
    assert state_of(private.conversation, cast.owner).location == Location.INBOX


@pytest.mark.parametrize(
    ("kind", "field", "expected"),
    [
        ("mark_read", "unread", False),
        ("mark_unread", "unread", True),
        ("star", "starred", True),
        ("watch", "watching", True),
    ],
)
def test_per_user_flags(cast, message, kind, field, expected):
    act(message, [{"type": kind, "users": [str(cast.teammate.id)]}])
    assert getattr(state_of(message.conversation, cast.teammate), field) is expected


def test_unstar_and_stop_watching(cast, message):
    act(
        message,
        [{"type": "star", "users": [str(cast.teammate.id)]}, {"type": "watch", "users": [str(cast.teammate.id)]}],
    )
    act(
        message,
        [
            {"type": "unstar", "users": [str(cast.teammate.id)]},
            {"type": "stop_watching", "users": [str(cast.teammate.id)]},
        ],
    )
    state = state_of(message.conversation, cast.teammate)
    assert not state.starred
    assert not state.watching


def test_silence_runs_and_an_unknown_contact_book_fails(cast, message):
    run = act(
        message, [{"type": "silence", "users": [str(cast.owner.id)]}, {"type": "create_contacts", "contact_book": "x"}]
    )
    assert [entry["state"] for entry in run.log] == ["done", "failed"]
    assert state_of(message.conversation, cast.owner).silenced


def test_share_and_remove_users(cast, message):
    act(message, [{"type": "share", "users": [str(cast.guest.id)]}])
    assert state_of(message.conversation, cast.guest).location == Location.INBOX
    act(message, [{"type": "remove_users", "users": [str(cast.guest.id)]}])
    assert state_of(message.conversation, cast.guest) is None


def test_mark_spam_and_not_spam(cast, message):
    act(message, [{"type": "mark_spam"}])
    assert message.conversation.is_spam
    assert state_of(message.conversation, cast.teammate).location == Location.SPAM
    act(message, [{"type": "mark_not_spam"}])
    assert not message.conversation.is_spam


def test_prevent_delivery_and_add_recipients_need_an_outgoing_message(cast, message):
    run = act(
        message, [{"type": "prevent_delivery"}, {"type": "add_recipients", "field": "cc", "addresses": "a@b.test"}]
    )
    assert [entry["state"] for entry in run.log] == ["failed", "failed"]


def test_personal_labels_of_a_personal_rule(cast, private):
    mine = LabelFactory(organization=cast.org, name="Mine", owner=cast.owner)
    act(private, [{"type": "add_labels", "labels": [str(mine.id)]}], owner=cast.owner)
    assert private.conversation.labels.get() == mine


def test_label_added_by_a_person_then_removed_by_a_rule(cast, message):
    label = LabelFactory(organization=cast.org, name="Temp")
    do_add_label(message.conversation, label, acting_user=cast.owner)
    act(message, [{"type": "remove_labels", "labels": ["Temp"]}])
    assert not message.conversation.labels.exists()


def test_every_catalog_action_has_a_handler_or_is_network():
    from rules.actions import HANDLERS
    from rules.catalog import ACTIONS

    local = {name for name, action in ACTIONS.items() if not action.network and name != "stop"}
    assert local == set(HANDLERS)
    assert Trigger.INCOMING
