"""The triage endpoints: one conversation or a bulk selection, from the page the user is on."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.actions import do_assign_conversation
from conversations.models import ConversationState, Location, Status
from conversations.snooze import presets, resolve, zone
from tests.conftest import login
from tests.factories import receive

HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "workspace"}


def act(client, conversation, action, return_to="/m/inbox/", **data):
    url = reverse("conversation_action", args=[conversation.id, action])
    return client.post(url, {"return_to": return_to, "open": str(conversation.id), **data}, **HX)


def bulk(client, conversations, action, return_to="/m/inbox/", **data):
    ids = [str(c.id) for c in conversations]
    return client.post(reverse("bulk_action", args=[action]), {"return_to": return_to, "ids": ids, **data}, **HX)


def location(conversation, user):
    return ConversationState.objects.get(conversation=conversation, user=user).location


def test_archiving_from_inbox_opens_the_next_conversation(owner_client, cast):
    now = timezone.now()
    newer = receive(cast.personal_account, subject="Newer", sent_at=now).conversation
    older = receive(cast.personal_account, subject="Older", sent_at=now - timedelta(hours=1)).conversation

    response = act(owner_client, newer, "archive")

    assert response.status_code == 200
    assert location(newer, cast.owner) == Location.ARCHIVED
    events = json.loads(response.headers["HX-Trigger"])["missive"]
    assert events == {
        "counts-changed": True,
        "rows-removed": [str(newer.id)],
        "open-conversation": {"url": f"/m/inbox/{older.id}/"},
    }
    page = response.content.decode()
    assert "<html" not in page and f'id="row-{newer.id}"' not in page
    assert response.headers["HX-Retarget"] == "#conversation-pane"


def test_an_action_that_keeps_the_conversation_in_the_list_updates_its_row_and_pane(owner_client, cast):
    conversation = receive(cast.personal_account, subject="Keep me").conversation

    response = act(owner_client, conversation, "star")

    page = response.content.decode()
    assert f'id="row-{conversation.id}" hx-swap-oob="outerHTML"' in page and "row-star" in page
    assert 'class="conv-subject"' in page and "Keep me" in page
    assert response.headers["HX-Push-Url"] == f"/m/inbox/{conversation.id}/"


def test_archiving_the_last_conversation_leaves_an_empty_pane(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    response = act(owner_client, conversation, "archive")

    assert response.headers["HX-Push-Url"] == reverse("mailbox", args=["inbox"])
    assert "Select a conversation" in response.content.decode()


def test_archive_from_the_team_inbox_page_closes_for_the_team(client, cast):
    conversation = receive(cast.support_account).conversation
    login(client, cast.teammate)

    act(client, conversation, "archive", return_to=reverse("team_mailbox", args=[cast.support.id, "inbox"]))

    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED and not conversation.in_team_inbox


def test_archiving_an_assigned_conversation_asks_first_then_follows_the_choice(owner_client, cast):
    conversation = receive(cast.personal_account).conversation
    do_assign_conversation(conversation, [cast.owner], acting_user=cast.owner)

    prompt = act(owner_client, conversation, "archive")

    assert prompt.headers["HX-Retarget"] == "#modal"
    assert "Archive &amp; close" in prompt.content.decode()
    assert location(conversation, cast.owner) == Location.INBOX

    act(owner_client, conversation, "archive", close="1")
    conversation.refresh_from_db()
    assert location(conversation, cast.owner) == Location.ARCHIVED and conversation.status == Status.CLOSED


def test_assign_close_reopen_and_unassign_through_the_endpoints(owner_client, cast):
    conversation = receive(cast.support_account).conversation

    act(owner_client, conversation, "assign", user_ids=[str(cast.teammate.id)])
    assert list(conversation.assignments.values_list("user", flat=True)) == [cast.teammate.id]
    act(owner_client, conversation, "assign_me", replace="1")
    assert list(conversation.assignments.values_list("user", flat=True)) == [cast.owner.id]
    act(owner_client, conversation, "close")
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED
    act(owner_client, conversation, "reopen")
    act(owner_client, conversation, "unassign", user_id=str(cast.owner.id))
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN and conversation.in_team_inbox


def test_assigning_someone_from_another_organization_is_refused_with_a_message(owner_client, cast):
    conversation = receive(cast.support_account).conversation

    response = act(owner_client, conversation, "assign", user_ids=[str(cast.outsider.id)])

    assert response.headers["HX-Retarget"] == "#toast"
    assert "organization" in response.content.decode()
    assert not conversation.assignments.exists()


def test_moving_to_another_organizations_team_is_refused(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    response = act(owner_client, conversation, "move", team_id=str(cast.outsider_team.id))

    assert response.headers["HX-Retarget"] == "#toast"
    conversation.refresh_from_db()
    assert conversation.team is None


def test_snooze_with_a_preset_and_with_a_custom_time(owner_client, cast):
    first = receive(cast.personal_account).conversation
    second = receive(cast.personal_account).conversation

    act(owner_client, first, "snooze", preset="tomorrow", tz="Europe/Paris")
    custom = (timezone.now() + timedelta(days=3)).astimezone(zone("Europe/Paris")).strftime("%Y-%m-%dT%H:%M")
    act(owner_client, second, "snooze", until=custom, tz="Europe/Paris", leave_in_inbox="1")

    first_state = ConversationState.objects.get(conversation=first, user=cast.owner)
    second_state = ConversationState.objects.get(conversation=second, user=cast.owner)
    assert first_state.location == Location.SNOOZED
    assert first_state.snoozed_until.astimezone(zone("Europe/Paris")).hour == 8
    assert second_state.location == Location.INBOX and second_state.snoozed_until is not None
    cast.owner.refresh_from_db()
    assert cast.owner.snooze_leave_in_inbox


def test_snooze_without_a_time_says_so(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    response = act(owner_client, conversation, "snooze", preset="", until="not a date")

    assert response.headers["HX-Retarget"] == "#toast"
    assert location(conversation, cast.owner) == Location.INBOX


def test_trash_restore_and_delete_forever(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    act(owner_client, conversation, "trash")
    assert location(conversation, cast.owner) == Location.TRASHED
    act(owner_client, conversation, "restore", return_to="/m/trash/")
    assert location(conversation, cast.owner) == Location.INBOX
    act(owner_client, conversation, "trash")
    act(owner_client, conversation, "delete", return_to="/m/trash/")
    assert not ConversationState.objects.filter(conversation_id=conversation.id).exists()


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [("star", "starred", True), ("pin", "pinned", True), ("unread", "unread", True)],
)
def test_personal_flags(owner_client, cast, action, field, value):
    conversation = receive(cast.personal_account).conversation
    ConversationState.objects.filter(conversation=conversation).update(unread=False)

    act(owner_client, conversation, action)

    assert getattr(ConversationState.objects.get(conversation=conversation, user=cast.owner), field) is value


def test_spam_and_not_spam(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    act(owner_client, conversation, "spam")
    assert location(conversation, cast.owner) == Location.SPAM
    act(owner_client, conversation, "not_spam", return_to="/m/spam/")
    assert location(conversation, cast.owner) == Location.INBOX


def test_bulk_archive_gives_each_conversation_the_result_of_one_at_a_time(owner_client, cast):
    conversations = [receive(cast.personal_account, subject=f"n{n}").conversation for n in range(3)]
    single = receive(cast.personal_account, subject="single").conversation

    response = bulk(owner_client, conversations, "archive")
    act(owner_client, single, "archive")

    assert response.status_code == 200
    assert {location(c, cast.owner) for c in conversations} == {location(single, cast.owner)} == {Location.ARCHIVED}


def test_bulk_archive_of_assigned_conversations_prompts_once_for_all(owner_client, cast):
    conversations = [receive(cast.personal_account, subject=f"n{n}").conversation for n in range(2)]
    for conversation in conversations:
        do_assign_conversation(conversation, [cast.owner], acting_user=cast.owner)

    prompt = bulk(owner_client, conversations, "archive")
    assert prompt.headers["HX-Retarget"] == "#modal"
    assert prompt.content.decode().count('name="ids"') == 2

    bulk(owner_client, conversations, "archive", close="1")
    for conversation in conversations:
        conversation.refresh_from_db()
        assert conversation.status == Status.CLOSED


def test_bulk_refuses_more_than_one_hundred(owner_client, cast):
    conversation = receive(cast.personal_account).conversation
    ids = [str(conversation.id)] + [str(__import__("uuid").uuid4()) for _ in range(100)]

    response = owner_client.post(reverse("bulk_action", args=["archive"]), {"ids": ids}, **HX)

    assert response.status_code == 400
    assert location(conversation, cast.owner) == Location.INBOX


def test_bulk_with_another_organizations_conversation_is_a_404_and_changes_nothing(owner_client, cast):
    mine = receive(cast.personal_account).conversation
    theirs = receive(cast.outsider_account).conversation

    response = bulk(owner_client, [mine, theirs], "archive")

    assert response.status_code == 404
    assert location(mine, cast.owner) == Location.INBOX


def test_actions_need_post_and_a_known_action(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    assert owner_client.get(reverse("conversation_action", args=[conversation.id, "archive"])).status_code == 405
    assert act(owner_client, conversation, "explode").status_code == 404


def test_without_htmx_an_action_redirects(owner_client, cast):
    conversation = receive(cast.personal_account).conversation

    response = owner_client.post(
        reverse("conversation_action", args=[conversation.id, "star"]),
        {"return_to": "/m/inbox/", "open": conversation.id},
    )

    assert response.status_code == 302
    assert response.url == reverse("conversation", args=["inbox", conversation.id])


def test_snooze_presets_follow_the_seed():
    sunday_morning = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    by_key = {p.key: p.until for p in presets(sunday_morning, zone("UTC"))}

    assert by_key["later_today"] == sunday_morning + timedelta(hours=3)
    assert by_key["afternoon"].hour == 13 and by_key["evening"].hour == 19
    assert by_key["tomorrow"] == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert by_key["weekend"] == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert by_key["next_week"] == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_presets_already_past_today_are_left_out():
    evening = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    keys = [p.key for p in presets(evening, zone("UTC"))]

    assert "afternoon" not in keys and "evening" not in keys and "later_today" in keys
    assert resolve("afternoon", "", evening, zone("UTC")) is None


def test_unknown_time_zone_falls_back_to_utc():
    assert zone("Not/AZone").key == "UTC"
