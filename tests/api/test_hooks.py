"""POST /v1/hooks and DELETE /v1/hooks/:id: a rule with a webhook action, delivered as §6.2 says."""

from __future__ import annotations

import json

import pytest

from rules import webhooks
from rules.models import DeliveryState, Rule, RuleRun, Trigger, UserAction, WebhookDelivery
from rules.network import do_run_network_actions
from tests.factories import receive
from tests.fakes.http_receiver import http_receiver


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True


def hook(api, **fields):
    return api.post("/v1/hooks", {"hooks": fields})


def test_an_organization_hook_is_a_rule_whose_deliveries_carry_the_spec_keys(cast, api_as):
    with http_receiver() as receiver:
        response = hook(
            api_as(cast.owner),
            type="incoming_email",
            url=f"{receiver.url}/zap",
            organization=str(cast.org.id),
            content_contains="refund",
        )
        assert response.status_code == 201, response.content
        rule = Rule.objects.get(id=response.json()["hooks"]["id"])
        assert rule.owner is None and rule.organization == cast.org and rule.trigger == Trigger.INCOMING
        assert rule.actions == [{"type": "webhook", "url": f"{receiver.url}/zap"}]

        receive(cast.support_account, subject="Hello", body="Just saying hi")
        assert not RuleRun.objects.filter(rule=rule).exists()
        message = receive(cast.support_account, subject="Order 5", body="I want a refund", sender="c@x.test")
        run = RuleRun.objects.get(rule=rule)
        do_run_network_actions(run.id)
        assert webhooks.attempt(WebhookDelivery.objects.get(run=run).id) == DeliveryState.DELIVERED

    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["rule"]["type"] == "incoming_email" and body["rule"]["id"] == str(rule.id)
    assert body["conversation"]["id"] == str(message.conversation_id)
    assert body["latest_message"] == body["message"]
    assert body["latest_message"]["id"] == str(message.id)


def test_a_hook_without_organization_is_a_personal_rule_with_comment_filters(cast, api_as):
    response = hook(
        api_as(cast.teammate),
        type="new_comment",
        url="https://example.test/hook",
        is_task=True,
        mention=str(cast.teammate.id),
        content_starts_with="TODO",
    )
    assert response.status_code == 201, response.content
    rule = Rule.objects.get(id=response.json()["hooks"]["id"])
    assert rule.owner == cast.teammate and rule.user_action == UserAction.NEW_COMMENT
    fields = {item["field"] for item in rule.conditions["items"]}
    assert fields == {"is_task", "mention", "comment_text"}


def test_hook_validation_errors_name_the_field(cast, api_as):
    api = api_as(cast.owner)
    org = str(cast.org.id)
    bad_type = hook(api, type="incoming_fax", url="https://example.test/h", organization=org)
    assert bad_type.status_code == 400 and bad_type.json()["field"] == "hooks.type"
    no_url = hook(api, type="incoming_email", organization=org)
    assert no_url.status_code == 400 and no_url.json()["field"] == "hooks.url"
    bad_url = hook(api, type="incoming_email", url="ftp://example.test", organization=org)
    assert bad_url.status_code == 400 and bad_url.json()["field"] == "hooks.url"
    wrong = hook(api, type="incoming_sms_message", url="https://example.test/h", organization=org, from_eq="a@b.c")
    assert wrong.status_code == 400 and wrong.json()["field"] == "hooks.from_eq"
    assert not Rule.objects.exists()


def test_organization_hooks_take_an_admin_and_stay_in_their_organization(cast, api_as):
    member = hook(api_as(cast.teammate), type="incoming_email", url="https://e.test/h", organization=str(cast.org.id))
    assert member.status_code == 403
    other = str(cast.other_org.id)
    theirs = hook(api_as(cast.owner), type="incoming_email", url="https://e.test/h", organization=other)
    assert theirs.status_code == 404
    assert not Rule.objects.exists()
    created = hook(api_as(cast.owner), type="incoming_email", url="https://e.test/h", organization=str(cast.org.id))
    hook_id = created.json()["hooks"]["id"]
    assert api_as(cast.outsider).delete(f"/v1/hooks/{hook_id}").status_code == 404
    assert api_as(cast.teammate).delete(f"/v1/hooks/{hook_id}").status_code == 403
    assert api_as(cast.owner).delete(f"/v1/hooks/{hook_id}").status_code == 204
    assert not Rule.objects.exists()
    assert api_as(cast.owner).delete(f"/v1/hooks/{hook_id}").status_code == 404
