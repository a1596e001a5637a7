"""GET /v1/conversations per mailbox, one conversation, and its messages, comments and drafts."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.actions import do_assign_conversation, do_close, do_post_comment, do_trash
from conversations.drafts import do_start_draft
from conversations.labels import do_add_label, do_create_label
from conversations.merge import do_merge_conversations
from conversations.models import DraftKind
from conversations.task_actions import do_create_subtask
from tests.factories import receive


def _support(cast, subject="Question", **kwargs):
    return receive(cast.support_account, subject=subject, **kwargs).conversation


def test_a_mailbox_is_required(cast, api_as):
    response = api_as(cast.owner).get("/v1/conversations")
    assert response.status_code == 400
    assert response.json()["message"] == "You need to paginate at least one mailbox"


def test_limit_bounds(cast, api_as):
    api = api_as(cast.owner)
    low = api.get("/v1/conversations", {"all": "true", "limit": 1})
    assert low.status_code == 400 and low.json()["message"] == "min 'limit' value is 2"
    assert api.get("/v1/conversations", {"all": "true", "limit": 51}).status_code == 400
    bad = api.get("/v1/conversations", {"team_inbox": "nope"})
    assert bad.status_code == 400 and bad.json()["field"] == "team_inbox"


def test_team_inbox_lists_the_conversation_with_every_key(cast, api_as):
    conversation = _support(cast, subject="Broken login")
    label = do_create_label(cast.org, acting_user=cast.owner, name="Billing")
    do_add_label(conversation, label, acting_user=cast.owner)
    body = api_as(cast.teammate).get("/v1/conversations", {"team_inbox": str(cast.support.id)}).json()
    [item] = body["conversations"]
    assert item["id"] == str(conversation.id)
    assert item["latest_message_subject"] == "Broken login"
    assert item["subject"] is None
    assert item["team"] == {"id": str(cast.support.id), "name": "Support", "organization": str(cast.org.id)}
    assert item["organization"] == {"id": str(cast.org.id), "name": "Acme"}
    assert item["shared_labels"] == [{"id": str(label.id), "name": "Billing"}]
    assert item["shared_label_names"] == "Billing"
    assert item["messages_count"] == 1 and item["assignees"] == [] and item["assignee_names"] == ""
    assert item["authors"] == [{"name": "A Customer", "address": "customer@outside.test"}]
    assert item["web_url"].endswith(f"/m/all/{conversation.id}/")
    emails = {user["email"] for user in item["users"]}
    assert "teammate@acme.test" in emails
    expected_keys = {
        "id", "created_at", "subject", "latest_message_subject", "organization", "team", "color", "assignees",
        "users", "attachments_count", "messages_count", "authors", "drafts_count", "send_later_messages_count",
        "tasks_count", "completed_tasks_count", "shared_labels", "assignee_names", "assignee_emails",
        "shared_label_names", "last_activity_at", "web_url", "app_url",
    }  # fmt: skip
    assert set(item) == expected_keys


def test_assigned_closed_and_trashed_mailboxes(cast, api_as):
    assigned = _support(cast, subject="Assigned")
    do_assign_conversation(assigned, [cast.teammate], acting_user=cast.owner)
    closed = _support(cast, subject="Closed", sender="other@outside.test")
    do_close(closed, acting_user=cast.owner)
    trashed = _support(cast, subject="Trashed", sender="third@outside.test")
    do_trash(trashed, acting_user=cast.teammate)
    api = api_as(cast.teammate)

    def ids(**params):
        return [c["id"] for c in api.get("/v1/conversations", params).json()["conversations"]]

    assert ids(assigned="true") == [str(assigned.id)]
    assert ids(closed="true") == [str(closed.id)]
    assert ids(trashed="true") == [str(trashed.id)]
    assert ids(team_closed=str(cast.support.id)) == [str(closed.id)]
    [item] = api.get("/v1/conversations", {"assigned": "1"}).json()["conversations"]
    assert item["assignee_emails"] == "teammate@acme.test"
    assert item["assignees"][0]["assigned"] is True and item["assignees"][0]["unassigned"] is False


def test_until_cursor_pages_newest_first(cast, api_as):
    now = timezone.now()
    made = [
        _support(cast, subject=f"S{i}", sender=f"c{i}@outside.test", sent_at=now - timedelta(hours=i)) for i in range(5)
    ]
    api = api_as(cast.owner)
    first = api.get("/v1/conversations", {"all": "true", "limit": 2}).json()["conversations"]
    assert [c["id"] for c in first] == [str(made[0].id), str(made[1].id)]
    oldest = first[-1]["last_activity_at"]
    second = api.get("/v1/conversations", {"all": "true", "limit": 2, "until": oldest - 1}).json()["conversations"]
    assert [c["id"] for c in second] == [str(made[2].id), str(made[3].id)]


def test_a_page_costs_a_fixed_number_of_queries(cast, api_as):
    api = api_as(cast.owner)
    api.get("/v1/users")  # the token's first use is recorded once
    for i in range(3):
        _support(cast, subject=f"S{i}", sender=f"c{i}@outside.test")
    with CaptureQueriesContext(connection) as few:
        api.get("/v1/conversations", {"all": "true"})
    for i in range(3, 12):
        _support(cast, subject=f"S{i}", sender=f"c{i}@outside.test")
    with CaptureQueriesContext(connection) as many:
        assert len(api.get("/v1/conversations", {"all": "true"}).json()["conversations"]) == 12
    assert len(many) == len(few)


def test_another_organizations_team_and_label_are_404(cast, api_as):
    api = api_as(cast.outsider)
    assert api.get("/v1/conversations", {"team_inbox": str(cast.support.id)}).status_code == 404
    label = do_create_label(cast.org, acting_user=cast.owner, name="Secret")
    assert api.get("/v1/conversations", {"shared_label": str(label.id)}).status_code == 404
    _support(cast)
    assert api.get("/v1/conversations", {"all": "true"}).json() == {"conversations": []}
    assert api.get("/v1/conversations", {"all": "true", "organization": str(cast.org.id)}).status_code == 404


def test_a_guest_gets_the_reduced_form(cast, api_as):
    conversation = _support(cast)
    do_post_comment(conversation, author=cast.owner, body="@gina-guest have a look")
    body = api_as(cast.guest).get(f"/v1/conversations/{conversation.id}").json()
    [item] = body["conversations"]
    assert item == {"id": str(conversation.id), "last_activity_at": int(conversation.last_activity_at.timestamp())}


def test_one_conversation_and_a_merged_away_id(cast, api_as):
    source = _support(cast, subject="Source")
    target = _support(cast, subject="Target", sender="other@outside.test")
    api = api_as(cast.owner)
    body = api.get(f"/v1/conversations/{source.id}").json()
    assert [c["id"] for c in body["conversations"]] == [str(source.id)]
    do_merge_conversations(source, target, acting_user=cast.owner)
    body = api.get(f"/v1/conversations/{source.id}").json()
    assert [c["id"] for c in body["conversations"]] == [str(target.id)]
    assert api_as(cast.outsider).get(f"/v1/conversations/{target.id}").status_code == 404
    assert api.get("/v1/conversations/not-a-uuid").status_code == 400


def test_messages_comments_and_drafts_of_a_conversation(cast, api_as):
    message = receive(cast.support_account, subject="Hello", body="Hi there")
    conversation = message.conversation
    comment = do_post_comment(conversation, author=cast.owner, body="Ping @tom-teammate")
    do_create_subtask(conversation, acting_user=cast.owner, title="Call back", comment=comment)
    do_start_draft(conversation, acting_user=cast.teammate, kind=DraftKind.REPLY, message_id=message.id)
    api = api_as(cast.owner)
    [item] = api.get(f"/v1/conversations/{conversation.id}/messages").json()["messages"]
    assert item["id"] == str(message.id) and item["type"] == "email" and item["draft"] is False
    assert item["preview"] == "Hi there" and "body" not in item
    assert item["from_field"] == {"name": "A Customer", "address": "customer@outside.test"}
    [note] = api.get(f"/v1/conversations/{conversation.id}/comments").json()["comments"]
    assert note["body"] == "Ping @tom-teammate"
    assert note["mentions"] == [{"id": str(cast.teammate.id), "index": 5, "length": 13}]
    assert note["author"]["email"] == "owner@acme.test"
    assert note["task"]["state"] == "todo"
    [draft] = api.get(f"/v1/conversations/{conversation.id}/drafts").json()["drafts"]
    assert draft["draft"] is True and draft["delivered_at"] is None
    assert draft["author"]["id"] == str(cast.teammate.id)
    too_many = api.get(f"/v1/conversations/{conversation.id}/messages", {"limit": 11})
    assert too_many.status_code == 400 and too_many.json()["field"] == "limit"
    outsider = api_as(cast.outsider)
    for part in ("messages", "comments", "drafts"):
        assert outsider.get(f"/v1/conversations/{conversation.id}/{part}").status_code == 404


def test_out_of_range_cursors_and_offsets_are_400s(cast, api_as):
    api = api_as(cast.owner)
    for value in (10**15, -1):
        response = api.get("/v1/conversations", {"all": "true", "until": value})
        assert response.status_code == 400 and response.json()["field"] == "until"
    response = api.get("/v1/teams", {"offset": 10**19})
    assert response.status_code == 400 and response.json()["field"] == "offset"


def test_a_page_of_messages_costs_a_fixed_number_of_queries(cast, api_as):
    api = api_as(cast.owner)
    api.get("/v1/users")
    first = receive(cast.support_account, subject="Thread", rfc_message_id="t0@outside.test")
    conversation = first.conversation

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            api.get(f"/v1/conversations/{conversation.id}/messages")
        return len(queries)

    one = page_queries()
    for i in range(1, 8):
        receive(
            cast.support_account,
            subject="Re: Thread",
            rfc_message_id=f"t{i}@outside.test",
            in_reply_to="t0@outside.test",
        )
    assert conversation.messages.count() == 8
    assert page_queries() == one
