"""The "Silence notifications" action: the chosen people get no Activity feed item (the app's
notifications, and the desktop notification it raises) about the conversation, but for a mention
of them by name; everyone else is notified as before."""

from __future__ import annotations

import pytest

from conversations.actions import do_assign_conversation, do_post_comment
from conversations.activity import do_set_silenced
from conversations.models import ActivityItem, ActivityKind, Location
from rules.engine import run_rules
from tests.factories import receive, state_of
from tests.rules.helpers import incoming_event, make_rule

pytestmark = pytest.mark.django_db


def run_pass(message, key: str = "k") -> None:
    [run] = run_rules(incoming_event(message, key)).runs
    assert [entry["state"] for entry in run.log] == ["done"], run.log


def notified(user, conversation, kind: str) -> bool:
    return ActivityItem.objects.filter(recipient=user, conversation=conversation, kind=kind).exists()


@pytest.fixture
def silenced(cast):
    """A support conversation whose rule silenced the teammate."""
    rule = make_rule(cast.org, "Quiet", actions=[{"type": "silence", "users": [str(cast.teammate.id)]}])
    message = receive(cast.support_account, subject="Newsletter")
    run_pass(message)
    rule.enabled = False  # later deliveries of the test are not silenced
    rule.save(update_fields=["enabled"])
    return message.conversation


def test_a_silenced_user_is_not_notified_of_a_comment_to_everyone_but_the_others_are(cast, silenced):
    assert state_of(silenced, cast.teammate).silenced
    assert not state_of(silenced, cast.observer).silenced

    do_post_comment(silenced, author=cast.owner, body="@all the invoice is attached")

    assert not notified(cast.teammate, silenced, ActivityKind.MENTION)
    assert notified(cast.observer, silenced, ActivityKind.MENTION)
    # Silence is not unwatching: the comment still shows, unread, where it always would.
    assert state_of(silenced, cast.teammate).unread


def test_a_silenced_user_is_not_notified_of_an_assignment_but_the_others_are(cast, silenced):
    do_assign_conversation(silenced, [cast.teammate, cast.observer], acting_user=cast.owner)

    assert not notified(cast.teammate, silenced, ActivityKind.ASSIGNED)
    assert notified(cast.observer, silenced, ActivityKind.ASSIGNED)
    assert state_of(silenced, cast.teammate).location == Location.INBOX


def test_a_mention_by_name_still_reaches_a_silenced_user(cast, silenced):
    do_post_comment(silenced, author=cast.owner, body="@teammate can you take this one?")

    assert notified(cast.teammate, silenced, ActivityKind.MENTION)


def test_unsilenced_the_user_is_notified_again(cast, silenced):
    do_set_silenced(silenced, acting_user=cast.teammate, silenced=False)

    do_post_comment(silenced, author=cast.owner, body="@all heads up")

    assert notified(cast.teammate, silenced, ActivityKind.MENTION)


def test_other_conversations_are_not_silenced(cast, silenced):
    other = receive(cast.support_account, subject="Order question").conversation

    do_post_comment(other, author=cast.owner, body="@all heads up")

    assert notified(cast.teammate, other, ActivityKind.MENTION)


def test_a_personal_rule_with_no_users_silences_its_owner(cast):
    make_rule(cast.org, "Silence my account", owner=cast.owner, actions=[{"type": "silence"}])
    message = receive(cast.personal_account, subject="Promo")

    run_pass(message, key="personal")

    assert state_of(message.conversation, cast.owner).silenced


def test_users_without_access_or_of_another_organization_are_left_alone(cast):
    users = [str(cast.guest.id), str(cast.outsider.id)]
    make_rule(cast.org, "Quiet", actions=[{"type": "silence", "users": users}])
    message = receive(cast.support_account, subject="Newsletter")

    run_pass(message)

    assert state_of(message.conversation, cast.guest) is None
    assert state_of(message.conversation, cast.outsider) is None
    do_set_silenced(message.conversation, acting_user=cast.outsider, silenced=True)
    assert state_of(message.conversation, cast.outsider) is None
