"""The AI provider (rules/ai.py) and the AI actions run by rules/network.py, against a fake
OpenAI-compatible server on loopback that checks each request's wire format."""

from __future__ import annotations

import pytest

from conversations.models import Comment, ConversationLabel, Draft, DraftStatus, Label, Subtask
from rules.ai import answer
from rules.network import do_run_network_actions, task_lines
from tests.factories import receive
from tests.fakes.fake_llm import fake_llm
from tests.fakes.rule_runs import make_rule, pending_run


@pytest.fixture
def llm(settings):
    with fake_llm() as server:
        settings.AI_BASE_URL = server.base_url
        settings.AI_API_KEY = server.api_key
        yield server


def test_answer_posts_the_prompt_and_the_message_and_returns_the_trimmed_answer(cast, llm):
    message = receive(cast.support_account, subject="Broken again", body="This is the third time!", sender="a@b.test")
    rule = make_rule(cast, [], ai_model="small-model")
    llm.answers = ["  YES \n"]

    assert answer(rule, message, "Is this customer upset? Respond with only YES or NO.") == "YES"

    [request] = llm.requests
    assert request["model"] == "small-model"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    question = request["messages"][1]["content"]
    assert question.startswith("Is this customer upset? Respond with only YES or NO.")
    assert "Subject: Broken again" in question and "This is the third time!" in question
    assert "a@b.test" in question


def test_a_provider_error_is_none(cast, llm):
    message = receive(cast.support_account)
    rule = make_rule(cast, [])
    llm.answers = [500]

    assert answer(rule, message, "Anything?") is None


def test_a_wrong_key_or_no_provider_is_none(cast, llm, settings):
    message = receive(cast.support_account)
    rule = make_rule(cast, [])
    settings.AI_API_KEY = "wrong"
    assert answer(rule, message, "Anything?") is None
    settings.AI_BASE_URL = ""
    assert answer(rule, message, "Anything?") is None
    settings.AI_BASE_URL = "http://127.0.0.1:9/v1"
    assert answer(rule, message, "Anything?") is None
    assert llm.requests == []


def test_ai_note_posts_the_answer_as_a_comment_naming_the_rule(cast, llm):
    message = receive(cast.support_account, body="Cancel my plan.")
    rule = make_rule(cast, [{"type": "ai_note", "prompt": "Summarize."}], description="Summaries")
    llm.answers = ["The customer wants to cancel."]
    run = pending_run(rule, message)

    do_run_network_actions(run.id)

    [comment] = Comment.objects.filter(conversation=message.conversation)
    assert comment.body == "The customer wants to cancel.\n\n— Summaries (AI)"
    run.refresh_from_db()
    assert run.log[0]["state"] == "done"


def test_ai_draft_leaves_a_reply_draft_that_is_never_sent(cast, llm):
    message = receive(cast.support_account, subject="Pricing", sender="ann@client.test")
    rule = make_rule(cast, [{"type": "ai_draft", "prompt": "Answer politely."}])
    llm.answers = ["Hello Ann,\n\nour plans start at <b>$10</b>."]

    do_run_network_actions(pending_run(rule, message).id)

    [draft] = Draft.objects.filter(conversation=message.conversation)
    assert draft.status == DraftStatus.EDITING and draft.sent_message is None
    assert draft.to == [{"name": "A Customer", "address": "ann@client.test"}]
    assert draft.subject == "Re: Pricing"
    assert "our plans start at &lt;b&gt;$10&lt;/b&gt;." in draft.body_html


def test_ai_tasks_adds_one_task_per_line_of_the_answer(cast, llm):
    message = receive(cast.support_account)
    rule = make_rule(cast, [{"type": "ai_tasks", "prompt": "List the action items."}])
    llm.answers = ["- Send the invoice\n\n2. Call back Ann\n[ ] Update the address"]

    do_run_network_actions(pending_run(rule, message).id)

    assert list(
        Subtask.objects.filter(conversation=message.conversation).order_by("created_at").values_list("title", flat=True)
    ) == ["Send the invoice", "Call back Ann", "Update the address"]


def test_task_lines_drop_markers_and_blank_lines():
    assert task_lines("1. One\n* Two\n\n  [x] Three  \n") == ["One", "Two", "Three"]


def test_ai_labels_applies_only_labels_of_the_configured_list(cast, llm):
    billing = Label.objects.create(organization=cast.org, name="Billing")
    sales = Label.objects.create(organization=cast.org, name="Sales")
    Label.objects.create(organization=cast.org, name="Spam")
    message = receive(cast.support_account)
    rule = make_rule(
        cast,
        [{"type": "ai_labels", "prompt": "Pick from: Billing, Sales.", "labels": [str(billing.id), str(sales.id)]}],
    )
    llm.answers = ["Billing, Spam, Urgent"]
    run = pending_run(rule, message)

    do_run_network_actions(run.id)

    labels = ConversationLabel.objects.filter(conversation=message.conversation)
    assert [link.label.name for link in labels] == ["Billing"]
    run.refresh_from_db()
    assert run.log[0]["detail"] == "Labels applied: Billing"


def test_an_ai_action_fails_when_the_provider_does_not_answer(cast, llm):
    message = receive(cast.support_account)
    rule = make_rule(cast, [{"type": "ai_note", "prompt": "Summarize."}])
    llm.answers = [503]
    run = pending_run(rule, message)

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0]["state"] == "failed" and run.log[0]["detail"] == "The AI provider did not answer."
    assert not Comment.objects.exists()
