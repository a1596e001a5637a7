"""What a rule writes reads "Rule <description> …" in the conversation's timeline, whether it was
written with no person (a note) or through the person a rule acts as (rules.actor)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations.models import ActivityItem, ActivityKind, Comment, ConversationEvent, EventKind, Label
from rules.actor import rule_actor
from rules.engine import run_rules
from rules.models import Rule
from rules.network import do_run_network_actions
from tests.conftest import login
from tests.factories import receive
from tests.fakes.fake_llm import fake_llm
from tests.fakes.rule_runs import make_rule as make_network_rule
from tests.fakes.rule_runs import pending_run
from tests.rules.helpers import incoming_event, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def llm(settings):
    with fake_llm() as server:
        settings.AI_BASE_URL = server.base_url
        settings.AI_API_KEY = server.api_key
        yield server


def run_pass(message) -> None:
    assert run_rules(incoming_event(message, f"msg:{message.id}")).runs


def timeline(client, user, conversation) -> str:
    login(client, user)
    return client.get(reverse("conversation", args=["all", conversation.id])).content.decode()


def test_a_rule_note_reads_rule_in_the_timeline(cast, client):
    message = receive(cast.support_account, subject="Refund")
    make_rule(cast.org, "Refund triage", actions=[{"type": "add_note", "text": "Check the **invoice** first."}])

    run_pass(message)

    note = Comment.objects.get(conversation=message.conversation)
    assert note.author is None and note.by_rule == "Refund triage"
    page = timeline(client, cast.teammate, message.conversation)
    assert '<span class="sender">Rule Refund triage</span>' in page
    assert '<span class="sender">Missive</span>' not in page
    assert "<strong>invoice</strong>" in page


def test_a_task_added_through_the_rules_person_reads_rule_in_the_timeline(cast, client):
    message = receive(cast.support_account, subject="Onboarding")
    make_rule(
        cast.org,
        "Onboarding tasks",
        actions=[{"type": "add_task", "title": "Send the welcome pack", "assignees": [str(cast.teammate.id)]}],
    )

    run_pass(message)

    [event] = ConversationEvent.objects.filter(conversation=message.conversation, kind=EventKind.TASK_CREATED)
    assert event.actor is None
    assert event.text.startswith("Rule Onboarding tasks created the task")
    page = timeline(client, cast.teammate, message.conversation)
    assert "Rule Onboarding tasks created the task" in page
    assert f"{cast.owner.display_name} created the task" not in page


def test_network_actions_read_rule_in_the_timeline(cast, client, llm):
    billing = Label.objects.create(organization=cast.org, name="Billing")
    message = receive(cast.support_account, body="Cancel my plan and refund the invoice.")
    rule = make_network_rule(
        cast,
        [
            {"type": "ai_labels", "prompt": "Pick from: Billing.", "labels": [str(billing.id)]},
            {"type": "ai_note", "prompt": "Summarize."},
        ],
        description="AI triage",
    )
    llm.answers = ["Billing", "The customer wants to cancel."]

    do_run_network_actions(pending_run(rule, message).id)

    labeled = ConversationEvent.objects.get(conversation=message.conversation, kind=EventKind.LABELED)
    assert labeled.actor is None and labeled.text == "Rule AI triage added the label Billing"
    note = Comment.objects.get(conversation=message.conversation)
    assert note.by_rule == "AI triage"
    page = timeline(client, cast.teammate, message.conversation)
    assert '<span class="sender">Rule AI triage</span>' in page
    assert f'<span class="sender">{cast.owner.display_name}</span>' not in page


def test_the_rules_person_is_the_personal_rules_owner_else_the_creator_else_the_account_owner(cast):
    message = receive(cast.support_account)
    conversation = message.conversation
    personal = make_rule(cast.org, "Mine", owner=cast.teammate)
    assert rule_actor(personal, conversation, account=cast.support_account) == cast.teammate
    created = make_rule(cast.org, "Theirs", created_by=cast.teammate)
    assert rule_actor(created, conversation, account=cast.support_account) == cast.teammate
    nobody = make_rule(cast.org, "Nobody's")
    assert rule_actor(nobody, conversation, account=cast.support_account) == cast.owner
    # Someone without access to the conversation is never used.
    foreign = make_rule(cast.org, "Foreign", created_by=cast.guest)
    assert rule_actor(foreign, conversation) == cast.owner


def test_the_activity_feed_names_the_rule_even_when_it_acts_through_a_person(cast, client):
    """A rule's assignment and its task (made through the rule's person) reach the people's
    Activity feed as the rule's doing; the person it acted through is not left out."""
    make_rule(
        cast.org,
        "Billing triage",
        actions=[
            {"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "all"},
            {"type": "add_task", "title": "Check the invoice", "assignees": [str(cast.owner.id)]},
        ],
    )
    message = receive(cast.support_account, subject="Invoice")
    assert rule_actor(Rule.objects.get(description="Billing triage"), message.conversation) == cast.owner

    for user, kind in ((cast.teammate, ActivityKind.ASSIGNED), (cast.owner, ActivityKind.TASK_ASSIGNED)):
        item = ActivityItem.objects.get(recipient=user, kind=kind)
        assert (item.actor, item.data["rule"]) == (None, "Billing triage")
    page = login(client, cast.teammate).post(reverse("activity_open"), headers={"HX-Request": "true"})
    assert "Rule Billing triage" in page.content.decode()
    assert "Someone" not in page.content.decode()
