"""POST /v1/conversations/:id/merge and PATCH /v1/conversations/:ids."""

from __future__ import annotations

from conversations.models import Conversation, ConversationLabel, ConversationRedirect, Message, Status
from tests.factories import LabelFactory, receive


def test_merge_moves_the_messages_into_the_target_and_takes_a_new_subject(cast, api_as):
    source = receive(cast.personal_account, subject="Order").conversation
    target = receive(cast.personal_account, subject="Invoice", sender="other@outside.test").conversation
    api = api_as(cast.owner)
    response = api.post(f"/v1/conversations/{source.id}/merge", {"target": str(target.id), "subject": "Order 12"})
    assert response.status_code == 200, response.content
    [merged] = response.json()["conversations"]
    assert merged["id"] == str(target.id) and merged["subject"] == "Order 12"
    assert Message.objects.filter(conversation=target).count() == 2
    assert not Conversation.objects.filter(id=source.id).exists()
    assert ConversationRedirect.objects.filter(old_id=source.id, conversation=target).exists()
    # The old id keeps resolving for the endpoints that take a conversation.
    assert api.get(f"/v1/conversations/{source.id}/posts").status_code == 200


def test_merge_validation_and_isolation(cast, api_as):
    mine = receive(cast.personal_account).conversation
    theirs = receive(cast.outsider_account).conversation
    api = api_as(cast.owner)
    missing = api.post(f"/v1/conversations/{mine.id}/merge", {"subject": "x"})
    assert missing.status_code == 400 and missing.json()["field"] == "target"
    itself = api.post(f"/v1/conversations/{mine.id}/merge", {"target": str(mine.id)})
    assert itself.status_code == 400 and itself.json()["field"] == "target"
    assert api.post(f"/v1/conversations/{mine.id}/merge", {"target": str(theirs.id)}).status_code == 404
    assert api.post(f"/v1/conversations/{theirs.id}/merge", {"target": str(mine.id)}).status_code == 404
    assert Conversation.objects.filter(id__in=[mine.id, theirs.id]).count() == 2


def test_patch_changes_several_conversations_through_the_actions(cast, api_as):
    one = receive(cast.support_account, subject="One").conversation
    two = receive(cast.support_account, subject="Two", sender="b@outside.test").conversation
    label = LabelFactory(organization=cast.org, name="VIP")
    org = str(cast.org.id)
    response = api_as(cast.owner).patch(
        f"/v1/conversations/{one.id},{two.id}",
        {
            "conversations": [
                {"id": str(one.id), "subject": "Renamed", "color": "#f80", "close": True},
                {
                    "id": str(two.id),
                    "organization": org,
                    "add_assignees": [str(cast.teammate.id)],
                    "add_shared_labels": [str(label.id)],
                },
            ]
        },
    )
    assert response.status_code == 200, response.content
    first, second = response.json()["conversations"]
    assert first["subject"] == "Renamed" and first["color"] == "#ff8800"
    assert [user["closed"] for user in first["users"] if user["id"] == str(cast.owner.id)] == [True]
    assert second["assignees"][0]["id"] == str(cast.teammate.id)
    assert second["shared_labels"] == [{"id": str(label.id), "name": "VIP"}]
    one.refresh_from_db()
    assert one.status == Status.CLOSED and one.subject == "Renamed"
    assert ConversationLabel.objects.filter(conversation=two, label=label).exists()


def test_patch_validation_errors_and_isolation(cast, api_as):
    mine = receive(cast.personal_account).conversation
    theirs = receive(cast.outsider_account).conversation
    api = api_as(cast.owner)
    bad_ids = api.patch("/v1/conversations/nope", {"conversations": [{"id": str(mine.id)}]})
    assert bad_ids.status_code == 400 and bad_ids.json()["field"] == "ids"
    mismatch = api.patch(f"/v1/conversations/{mine.id}", {"conversations": [{"id": str(theirs.id)}]})
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "conversations"
    no_org = api.patch(
        f"/v1/conversations/{mine.id}", {"conversations": [{"id": str(mine.id), "add_users": [str(cast.teammate.id)]}]}
    )
    assert no_org.status_code == 400 and no_org.json()["field"] == "conversations.0.organization"
    color = api.patch(f"/v1/conversations/{mine.id}", {"conversations": [{"id": str(mine.id), "color": "blue"}]})
    assert color.status_code == 400 and color.json()["field"] == "conversations.0.conversation_color"
    closing_theirs = api.patch(
        f"/v1/conversations/{mine.id},{theirs.id}",
        {"conversations": [{"id": str(mine.id), "close": True}, {"id": str(theirs.id), "close": True}]},
    )
    assert closing_theirs.status_code == 404
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == Status.OPEN and theirs.status == Status.OPEN  # all or nothing
