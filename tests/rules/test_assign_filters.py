"""The Assign user(s) filters that need presence or delegation: Online, Offline and Delegated."""

from __future__ import annotations

import pytest

from conversations import live
from conversations.models import Assignment
from inboxes.models import AccountAccess, Membership, NewMessages
from rules.engine import run_rules
from rules.models import RuleRun
from tests.factories import AccountFactory, receive
from tests.rules.helpers import incoming_event, make_rule

pytestmark = pytest.mark.django_db


def assign(message, users, filters, *, owner=None) -> RuleRun:
    """Run a rule assigning these users (all at once) through these filters on the message (a
    personal rule of `owner`'s when given)."""
    rule = make_rule(
        message.organization,
        "Route",
        actions=[{"type": "assign_users", "users": [str(u.id) for u in users], "strategy": "all", "filters": filters}],
        owner=owner,
    )
    [run] = run_rules(incoming_event(message, f"filters:{message.id}")).runs
    rule.delete()
    assert run.log[0]["state"] == "done", run.log
    return run


def assignees(message) -> set:
    return set(Assignment.objects.filter(conversation=message.conversation).values_list("user_id", flat=True))


@pytest.fixture
def present(cast):
    """The teammate and the observer have the app open; the observer is out of office."""
    live.mark_online(cast.teammate.id)
    live.mark_online(cast.observer.id)
    Membership.objects.filter(user=cast.observer).update(out_of_office=True)


def test_online_users_are_those_with_the_app_open_and_not_out_of_office(cast, present):
    message = receive(cast.support_account, subject="Chat")

    assign(message, [cast.owner, cast.teammate, cast.observer], ["online"])

    assert assignees(message) == {cast.teammate.id}


def test_offline_users_are_the_other_members(cast, present):
    message = receive(cast.support_account, subject="Later")

    assign(message, [cast.owner, cast.teammate, cast.observer], ["offline"])

    assert assignees(message) == {cast.owner.id, cast.observer.id}


def test_online_with_nobody_online_assigns_nobody(cast):
    message = receive(cast.support_account, subject="Night")

    run = assign(message, [cast.owner, cast.teammate], ["online"])

    assert assignees(message) == set()
    assert run.log[0]["detail"] == "No user to assign."


def test_delegated_users_are_whom_the_receiving_account_is_shared_with_but_its_owner(cast):
    shared = AccountFactory(organization=cast.org, owner=cast.owner, address="sales@acme.test", is_shared=True)
    AccountAccess.objects.create(
        organization=cast.org, account=shared, user=cast.teammate, new_messages=NewMessages.INBOX
    )
    AccountAccess.objects.create(organization=cast.org, account=shared, user=cast.owner)
    message = receive(shared, subject="Quote")

    assign(message, [cast.owner, cast.teammate, cast.observer], ["delegated"])

    assert assignees(message) == {cast.teammate.id}


def test_delegated_users_of_a_team_inbox_account_are_the_teams_members(cast):
    message = receive(cast.support_account, subject="Help")

    assign(message, [cast.owner, cast.teammate, cast.observer, cast.guest], ["delegated"])

    assert assignees(message) == {cast.teammate.id, cast.observer.id}


def test_a_personal_account_has_no_delegated_users(cast):
    message = receive(cast.personal_account, subject="Mine")

    assign(message, [cast.owner, cast.teammate], ["delegated"], owner=cast.owner)

    assert assignees(message) == set()
