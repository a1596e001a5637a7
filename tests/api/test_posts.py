"""POST /v1/posts, DELETE /v1/posts/:id, GET /v1/conversations/:id/posts, and the conversation
options they share with drafts (channels_app/api/conversation_ops.py)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from conversations.models import Conversation, ConversationLabel, Post, Status
from tests.factories import LabelFactory, receive, state_of


def post(api, **fields):
    return api.post("/v1/posts", {"posts": fields})


def test_a_post_with_references_starts_a_conversation_and_the_next_one_joins_it(cast, api_as):
    api = api_as(cast.owner)
    first = post(api, references=["<build-42@ci>"], text="Build started", conversation_subject="CI: main")
    assert first.status_code == 201, first.content
    conversation_id = first.json()["posts"]["conversation"]
    conversation = Conversation.objects.get(id=conversation_id)
    assert conversation.subject == "CI: main" and conversation.organization == cast.org
    assert state_of(conversation, cast.owner) is not None

    second = post(api, references=["build-42@ci"], markdown="**Build passed**")
    assert second.status_code == 201
    assert second.json()["posts"]["conversation"] == conversation_id
    assert Post.objects.filter(conversation=conversation).count() == 2


def test_a_post_threads_by_an_emails_message_id_and_applies_the_options(cast, api_as):
    message = receive(cast.personal_account, rfc_message_id="<order-1@shop.test>")
    label = LabelFactory(organization=cast.org, name="Orders")
    response = post(
        api_as(cast.owner),
        references=["order-1@shop.test"],
        text="Paid",
        username="Stripe",
        notification={"title": "Payment", "body": "Paid $10"},
        organization=str(cast.org.id),
        add_assignees=[str(cast.teammate.id)],
        add_shared_labels=[str(label.id)],
        conversation_color="good",
        close=True,
        attachments=[{"title": "Invoice", "fields": [{"title": "Amount", "value": "$10", "short": True}]}],
    )
    assert response.status_code == 201, response.content
    conversation = message.conversation
    assert response.json()["posts"]["conversation"] == str(conversation.id)
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED and conversation.color == "#2eb67d"
    assert list(conversation.assignments.values_list("user_id", flat=True)) == [cast.teammate.id]
    assert ConversationLabel.objects.filter(conversation=conversation, label=label).exists()
    stored = Post.objects.get(id=response.json()["posts"]["id"])
    assert stored.username == "Stripe" and stored.notification_title == "Payment"
    assert stored.attachments == [{"title": "Invoice", "fields": [{"title": "Amount", "value": "$10", "short": True}]}]


def test_reopen_reopens_and_close_wins_over_it(cast, api_as):
    conversation = receive(cast.personal_account).conversation
    api = api_as(cast.owner)
    assert post(api, conversation=str(conversation.id), text="a", close=True, reopen=True).status_code == 201
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED
    assert post(api, conversation=str(conversation.id), text="b").status_code == 201
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED
    assert post(api, conversation=str(conversation.id), text="c", reopen=True).status_code == 201
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN


def test_post_validation_errors_name_the_field(cast, api_as):
    api = api_as(cast.owner)
    empty = post(api, references=["x"])
    assert empty.status_code == 400 and empty.json()["field"] == "posts.text"
    no_org = post(api, text="hi", add_users=[str(cast.teammate.id)])
    assert no_org.status_code == 400 and no_org.json()["field"] == "posts.organization"
    assert "'organization'" in no_org.json()["errors"]
    bad_color = post(api, text="hi", conversation_color="pink")
    assert bad_color.status_code == 400 and bad_color.json()["field"] == "posts.conversation_color"
    team_inbox = post(api, text="hi", add_to_team_inbox=True)
    assert team_inbox.status_code == 400 and team_inbox.json()["field"] == "posts.team"
    wrong_type = post(api, text="hi", close="sometimes")
    assert wrong_type.status_code == 400 and wrong_type.json()["field"] == "posts.close"
    assert not Post.objects.exists()


def test_another_organizations_conversation_team_or_user_is_a_404(cast, api_as):
    theirs = receive(cast.outsider_account).conversation
    mine = receive(cast.personal_account).conversation
    api = api_as(cast.owner)
    assert post(api, conversation=str(theirs.id), text="hi").status_code == 404
    assert post(api, conversation=str(mine.id), text="hi", team=str(cast.outsider_team.id)).status_code == 404
    assert (
        post(
            api, conversation=str(mine.id), text="hi", organization=str(cast.org.id), add_users=[str(cast.outsider.id)]
        ).status_code
        == 404
    )
    assert post(api, text="hi", organization=str(cast.other_org.id)).status_code == 404
    assert not Post.objects.exists()
    # A reference held by another organization's conversation does not match: a new one starts.
    receive(cast.outsider_account, rfc_message_id="<secret@globex.test>")
    response = post(api, references=["<secret@globex.test>"], text="hi")
    assert response.status_code == 201
    assert Conversation.objects.get(id=response.json()["posts"]["conversation"]).organization == cast.org


def test_posts_are_listed_newest_first_and_isolated(cast, api_as):
    conversation = receive(cast.personal_account).conversation
    api = api_as(cast.owner)
    for minutes, text in enumerate(("one", "two", "three")):
        created = post(api, conversation=str(conversation.id), text=text).json()["posts"]
        Post.objects.filter(id=created["id"]).update(created_at=timezone.now() + timedelta(minutes=minutes))
    listed = api.get(f"/v1/conversations/{conversation.id}/posts", {"limit": 2}).json()["posts"]
    assert [p["text"] for p in listed] == ["three", "two"]
    older = api.get(f"/v1/conversations/{conversation.id}/posts", {"until": listed[-1]["created_at"] - 1}).json()
    assert [p["text"] for p in older["posts"]] == ["one"]
    assert set(listed[0]) >= {"id", "created_at", "username", "username_icon", "notification", "attachments"}
    too_many = api.get(f"/v1/conversations/{conversation.id}/posts", {"limit": 11})
    assert too_many.status_code == 400 and too_many.json()["field"] == "limit"
    assert api_as(cast.outsider).get(f"/v1/conversations/{conversation.id}/posts").status_code == 404


def test_deleting_a_post_in_a_shared_conversation_takes_an_admin(cast, api_as):
    conversation = receive(cast.support_account).conversation  # the team's: shared
    created = post(api_as(cast.teammate), conversation=str(conversation.id), text="hi").json()["posts"]
    assert api_as(cast.outsider).delete(f"/v1/posts/{created['id']}").status_code == 404
    refused = api_as(cast.teammate).delete(f"/v1/posts/{created['id']}")
    assert refused.status_code == 403
    assert api_as(cast.owner).delete(f"/v1/posts/{created['id']}").status_code == 204
    assert not Post.objects.exists()
    assert api_as(cast.owner).delete(f"/v1/posts/{created['id']}").status_code == 404
