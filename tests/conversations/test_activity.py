"""The Activity feed: what records an item and for whom, the bell and the badge, the panel's read
semantics, filters and settings, following an item, isolation, and 30-day retention."""

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations import activity, tasks
from conversations.actions import (
    do_assign_conversation,
    do_post_comment,
    do_remove_access,
    do_snooze,
    do_toggle_reaction,
    do_wake_due_snoozes,
)
from conversations.activity import record_activity
from conversations.counts import compute_counts, sidebar_counts
from conversations.models import ActivityItem, ActivityKind, ConversationState, Location
from conversations.templatetags.activity_feed import reaction_summary
from inboxes.models import Membership
from tests.conftest import login
from tests.factories import MembershipFactory, UserFactory, receive

pytestmark = pytest.mark.django_db


def _team_conversation(cast, subject="Printer jam"):
    """In Support's inbox: owner, teammate (active) and observer have access."""
    return receive(cast.support_account, subject=subject).conversation


def _items(user):
    return list(ActivityItem.objects.filter(recipient=user).order_by("created_at"))


def _open(client, **data):
    return client.post(reverse("activity_open"), data, headers={"HX-Request": "true"})


def _listed(page):
    """The feed's items as (unread, text) in the order shown, without avatars and times."""
    found = re.findall(r'<li class="activity-item kind-\S+?( unread)?">(.*?)</li>', page, re.S)
    return [(bool(unread), _text(body)) for unread, body in found]


def _text(html):
    html = re.sub(r'<time [^>]*>.*?</time>|<span class="avatar[^"]*"[^>]*>.*?</span>', " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# Recording ----------------------------------------------------------------------------------------


def test_a_mention_puts_the_comment_in_the_mentioned_persons_feed_only(cast):
    conversation = _team_conversation(cast)

    comment = do_post_comment(conversation, author=cast.owner, body="@teammate can you   look\nat this?")

    [item] = ActivityItem.objects.all()
    assert (item.recipient, item.actor, item.kind) == (cast.teammate, cast.owner, ActivityKind.MENTION)
    assert (item.conversation, item.comment, item.organization) == (conversation, comment, cast.org)
    assert item.data == {"excerpt": "@teammate can you look at this?"} and item.read_at is None


def test_mentioning_a_team_or_all_notifies_each_member_once(cast):
    conversation = receive(cast.personal_account, subject="Escalation").conversation
    do_post_comment(conversation, author=cast.owner, body="@support please help")
    assert {i.recipient_id for i in ActivityItem.objects.all()} == {cast.teammate.id}, "active members, not me"

    ActivityItem.objects.all().delete()
    team_conversation = _team_conversation(cast)
    do_post_comment(team_conversation, author=cast.owner, body="@all and @teammate, heads up")

    items = {i.recipient_id: i.data.get("everyone", False) for i in ActivityItem.objects.all()}
    assert items == {cast.teammate.id: False, cast.observer.id: True}, "everyone with access, each once"


def test_mentioning_someone_without_access_shares_it_and_notifies_them(cast):
    conversation = receive(cast.personal_account, subject="Contract").conversation

    do_post_comment(conversation, author=cast.owner, body="@gina what do you think?")

    assert [(i.recipient, i.kind) for i in ActivityItem.objects.all()] == [(cast.guest, ActivityKind.MENTION)]


def test_reactions_from_several_people_to_one_comment_make_one_item_that_returns_unread(cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="Shipped the fix")

    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="🎉")
    ActivityItem.objects.update(read_at=timezone.now())
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.observer, emoji="👍")
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.teammate, emoji="👍")  # my own: nothing

    [item] = _items(cast.teammate)
    assert (item.kind, item.comment, item.actor, item.read_at) == (ActivityKind.REACTION, comment, cast.observer, None)
    reactions = [(r["name"], r["emoji"]) for r in item.data["reactions"]]
    assert reactions == [("Olivia Owner", "🎉"), ("Oscar Observer", "👍")]
    assert item.data["excerpt"] == "Shipped the fix"
    assert not _items(cast.owner) and not _items(cast.observer)


def test_reacting_again_after_taking_a_reaction_back_does_not_repeat_the_person(cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="Done")
    for _ in range(3):
        do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="🎉")

    [item] = _items(cast.teammate)
    assert [(r["name"], r["emoji"]) for r in item.data["reactions"]] == [("Olivia Owner", "🎉")]


def test_assigning_someone_notifies_them_but_assigning_myself_does_not(cast):
    conversation = _team_conversation(cast)

    do_assign_conversation(conversation, [cast.owner, cast.teammate], acting_user=cast.owner)

    assert [(i.recipient, i.actor, i.kind) for i in ActivityItem.objects.all()] == [
        (cast.teammate, cast.owner, ActivityKind.ASSIGNED)
    ]


def test_a_snooze_coming_due_is_a_reminder_for_each_snoozed_copy(cast):
    mine = _team_conversation(cast, "Mine")
    everyones = _team_conversation(cast, "Everyone's")
    until = timezone.now() + timedelta(hours=1)
    do_snooze(mine, acting_user=cast.teammate, until=until)
    do_snooze(everyones, acting_user=cast.owner, until=until, for_everyone=True)
    assert do_wake_due_snoozes(now=until - timedelta(minutes=1)) == 0
    assert not ActivityItem.objects.exists()

    do_wake_due_snoozes(now=until + timedelta(seconds=1))

    reminders = {(i.recipient_id, i.conversation_id) for i in ActivityItem.objects.filter(kind="snooze_due")}
    assert reminders == {
        (cast.teammate.id, mine.id),
        (cast.owner.id, everyones.id),
        (cast.teammate.id, everyones.id),
        (cast.observer.id, everyones.id),
    }
    assert all(i.actor is None and i.organization_id == cast.org.id for i in ActivityItem.objects.all())


def test_record_activity_skips_the_actor_and_people_without_access(cast):
    conversation = receive(cast.personal_account, subject="Private").conversation  # only the owner

    n = record_activity(
        recipients=[cast.owner, cast.teammate.id, cast.outsider],
        kind="task_assigned",
        conversation=conversation,
        actor=cast.owner,
        data={"title": "Call back"},
    )

    assert n == 0 and not ActivityItem.objects.exists()
    assert record_activity(recipients=[cast.owner], kind="task_reminder", conversation=conversation, actor=None) == 1
    with pytest.raises(ValueError, match="Unknown activity kind"):
        record_activity(recipients=[cast.owner], kind="party", conversation=conversation, actor=None)


def test_record_activity_runs_in_the_callers_transaction(cast):
    conversation = _team_conversation(cast)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_activity(recipients=[cast.teammate], kind="task_changed", conversation=conversation, actor=cast.owner)
        raise RuntimeError("the caller's action failed")
    assert not ActivityItem.objects.exists()


# The bell and the badge ---------------------------------------------------------------------------


def test_the_bell_counts_unread_activity_blue_and_turns_orange_for_reminders(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.teammate)
    page = client.get(reverse("mailbox", args=["inbox"])).content.decode()
    assert 'id="activity-bell"' in page and "activity-dot" not in page

    do_post_comment(conversation, author=cast.owner, body="@teammate one")
    do_post_comment(conversation, author=cast.owner, body="@teammate two")
    assert sidebar_counts(cast.teammate)["activity"] == {"mentions": 2} == compute_counts(cast.teammate)["activity"]
    bell = client.get(reverse("activity_bell")).content.decode()
    assert 'class="activity-bell tone-blue"' in bell and '<span class="activity-dot">2</span>' in bell

    record_activity(recipients=[cast.teammate], kind="task_reminder", conversation=conversation, actor=None)
    bell = client.get(reverse("activity_bell")).content.decode()
    assert 'class="activity-bell tone-orange"' in bell and '<span class="activity-dot">3</span>' in bell
    assert "Activity, 3 unread" in bell


def test_only_unread_reminders_add_to_the_badge_and_by_one_whatever_their_number(cast):
    conversation = _team_conversation(cast)
    ConversationState.objects.update(unread=False)
    cache.clear()
    do_post_comment(conversation, author=cast.owner, body="@teammate look")
    ConversationState.objects.update(unread=False)
    cache.clear()
    assert sidebar_counts(cast.teammate)["badge"] == 0, "mentions never add to the badge"

    for _ in range(3):
        record_activity(recipients=[cast.teammate], kind="task_reminder", conversation=conversation, actor=None)
    assert sidebar_counts(cast.teammate)["badge"] == 1

    activity.do_set_activity_preferences(cast.teammate, displayed=["reminders"], counted=["mentions"])
    assert sidebar_counts(cast.teammate)["badge"] == 0, "reminders not counted as unread: no badge either"
    assert sidebar_counts(cast.teammate)["activity"] == {"mentions": 1}


# Opening, reading, filtering ----------------------------------------------------------------------


def test_opening_the_feed_reads_everything_but_shows_what_was_unread_until_it_closes(client, cast):
    conversation = _team_conversation(cast)
    do_post_comment(conversation, author=cast.owner, body="@teammate first")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    ActivityItem.objects.update(read_at=an_hour_ago, created_at=an_hour_ago)
    do_post_comment(conversation, author=cast.owner, body="@teammate second")
    login(client, cast.teammate)

    response = _open(client)

    page = response.content.decode()
    assert _listed(page) == [
        (True, "Olivia Owner mentioned you Printer jam @teammate second"),
        (False, "Olivia Owner mentioned you Printer jam @teammate first"),
    ]
    assert "counts-changed" in json.loads(response.headers["HX-Trigger"])
    assert not ActivityItem.objects.filter(read_at__isnull=True).exists()
    assert sidebar_counts(cast.teammate)["activity"] == {}, "the bell clears at once"
    opened = re.search(r'id="activity-opened" name="opened" value="([^"]+)"', page).group(1)

    # Switching filters while it is open keeps the styling; opening it again shows nothing new.
    again = client.get(reverse("activity_list"), {"filter": "mentions", "opened": opened}).content.decode()
    assert [unread for unread, _ in _listed(again)] == [True, False]
    unread = client.get(reverse("activity_list"), {"filter": "unread", "opened": opened}).content.decode()
    assert [text.endswith("second") for _, text in _listed(unread)] == [True]
    reopened = _open(client).content.decode()
    assert [unread for unread, _ in _listed(reopened)] == [False, False]


def test_the_filters_list_each_type_newest_first(client, cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="my note @owner")
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.observer, emoji="👍")
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="🎉")
    record_activity(
        recipients=[cast.teammate],
        kind="task_reminder",
        conversation=conversation,
        actor=None,
        data={"title": "Send the quote", "due_at": (timezone.now() + timedelta(minutes=10, seconds=30)).isoformat()},
    )
    login(client, cast.teammate)

    def shown(feed_filter):
        page = client.get(reverse("activity_list"), {"filter": feed_filter}).content.decode()
        return [text for _, text in _listed(page)]

    assert shown("all") == [
        "Task reminder · due in 10 minutes Printer jam ☐ Send the quote",
        "Olivia Owner and Oscar Observer reacted 🎉👍 to your comment Printer jam my note @owner",
        "Olivia Owner assigned you Printer jam",
    ]
    assert shown("reactions") == [shown("all")[1]]
    assert shown("assignments") == [shown("all")[2]]
    assert shown("reminders") == [shown("all")[0]]
    assert shown("mentions") == []
    assert shown("nonsense") == shown("all")
    login(client, cast.owner)
    assert [text.split(" Printer")[0] for text in shown("mentions")] == ["Tom Teammate mentioned you"]


def test_task_items_from_the_tasks_contract_render(client, cast):
    conversation = _team_conversation(cast)
    for kind in ("task_assigned", "task_changed"):
        record_activity(
            recipients=[cast.teammate], kind=kind, conversation=conversation, actor=cast.owner, data={"title": "Refund"}
        )
    record_activity(
        recipients=[cast.teammate],
        kind="task_reminder",
        conversation=conversation,
        actor=None,
        data={"title": "Refund", "due_at": (timezone.now() - timedelta(hours=2)).isoformat()},
    )
    login(client, cast.teammate)

    page = client.get(reverse("activity_list"), {"filter": "assignments"}).content.decode()
    assert [text for _, text in _listed(page)] == [
        "Olivia Owner changed a task Printer jam ☐ Refund",
        "Olivia Owner assigned you a task Printer jam ☐ Refund",
    ]
    reminders = client.get(reverse("activity_list"), {"filter": "reminders"}).content.decode()
    assert "Task reminder · was due 2 hours ago" in _listed(reminders)[0][1]


def test_what_teammates_write_is_escaped_in_the_feed(client, cast):
    conversation = _team_conversation(cast, subject="<img src=x onerror=alert(1)>")
    do_post_comment(conversation, author=cast.owner, body="@teammate <script>alert(1)</script>")
    login(client, cast.teammate)

    page = _open(client).content.decode()

    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_feed_reads_a_fixed_number_of_queries(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.teammate)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("activity_list")).status_code == 200
        return len(captured)

    do_post_comment(conversation, author=cast.owner, body="@teammate one")
    few = queries()
    for n in range(10):
        comment = do_post_comment(conversation, author=cast.owner, body=f"@teammate {n}")
        do_toggle_reaction(conversation, str(comment.id), acting_user=cast.observer, emoji="👍")
    assert queries() == few


# Settings -----------------------------------------------------------------------------------------


def test_a_type_hidden_from_all_is_still_listed_by_its_own_filter(client, cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="note")
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="👍")
    do_post_comment(conversation, author=cast.owner, body="@teammate see")
    login(client, cast.teammate)
    form = client.get(reverse("activity_settings")).content.decode()
    assert form.count("checked") == 8, "every type displayed and counted by default"

    response = client.post(
        reverse("activity_settings"),
        {"displayed": ["mentions", "assignments", "reminders"], "counted": ["mentions"], "filter": "all"},
        headers={"HX-Request": "true"},
    )

    cast.teammate.refresh_from_db()
    assert cast.teammate.activity_preferences == {
        "hidden": ["reactions"],
        "not_counted": ["reactions", "assignments", "reminders"],
    }
    assert "counts-changed" in json.loads(response.headers["HX-Trigger"])
    assert [text.split(" ")[2] for _, text in _listed(response.content.decode())] == ["mentioned"]
    page = client.get(reverse("activity_list"), {"filter": "reactions"}).content.decode()
    assert len(_listed(page)) == 1
    assert sidebar_counts(cast.teammate)["activity"] == {"mentions": 1}, "reactions no longer light the bell"
    form = client.get(reverse("activity_settings")).content.decode()
    assert 'value="reactions" aria-label="Display Reactions">' in form
    assert 'value="mentions" aria-label="Display Mentions" checked>' in form


def test_settings_refuse_unknown_types_inline(client, cast):
    login(client, cast.teammate)
    response = client.post(reverse("activity_settings"), {"displayed": ["gossip"]}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in page and "gossip" in page
    assert response.headers["HX-Retarget"] == "#activity-body"
    cast.teammate.refresh_from_db()
    assert cast.teammate.activity_preferences == {}


# Following an item --------------------------------------------------------------------------------


def test_following_an_item_opens_its_conversation_at_the_comment_and_reads_it(client, cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.owner, body="@teammate here")
    [item] = _items(cast.teammate)
    login(client, cast.teammate)

    response = client.get(reverse("activity_item", args=[item.id]))
    assert response.status_code == 302
    assert response.url == f"/m/all/{conversation.id}/#comment-{comment.id}"
    item.refresh_from_db()
    assert item.read_at is not None

    htmx = client.get(reverse("activity_item", args=[item.id]), headers={"HX-Request": "true"})
    page = htmx.content.decode()
    assert f'id="comment-{comment.id}"' in page and 'id="conversation-list"' in page
    assert htmx.headers["HX-Push-Url"] == f"/m/all/{conversation.id}/"
    assert json.loads(htmx.headers["HX-Trigger-After-Settle"]) == {
        "activity-followed": {"comment": f"comment-{comment.id}"}
    }
    assert not ConversationState.objects.get(conversation=conversation, user=cast.teammate).unread


# Isolation ----------------------------------------------------------------------------------------


def test_a_person_sees_only_their_own_items(client, cast):
    conversation = _team_conversation(cast)
    do_post_comment(conversation, author=cast.owner, body="@teammate private to Tom")
    [item] = _items(cast.teammate)

    for user in (cast.observer, cast.outsider):
        login(client, user)
        assert client.get(reverse("activity_item", args=[item.id])).status_code == 404
        assert _listed(client.get(reverse("activity_list")).content.decode()) == []
        assert _listed(_open(client).content.decode()) == []
    item.refresh_from_db()
    assert item.read_at is None, "nobody else's opening reads it"


def test_items_of_a_conversation_i_lost_access_to_are_hidden(client, cast):
    conversation = _team_conversation(cast)
    other = _team_conversation(cast, subject="Still mine")
    do_post_comment(conversation, author=cast.owner, body="@observer gone soon")
    do_post_comment(other, author=cast.owner, body="@observer stays")
    lost = ActivityItem.objects.get(conversation=conversation)

    do_remove_access(conversation, cast.observer, acting_user=cast.owner)

    login(client, cast.observer)
    assert [text.split(" ")[-1] for _, text in _listed(client.get(reverse("activity_list")).content.decode())] == [
        "stays"
    ]
    assert client.get(reverse("activity_item", args=[lost.id])).status_code == 404
    assert sidebar_counts(cast.observer)["activity"] == {"mentions": 1}
    assert ActivityItem.objects.filter(id=lost.id).exists(), "hidden, not deleted"


def test_items_of_an_organization_i_left_are_hidden(client, cast):
    conversation = _team_conversation(cast)
    do_post_comment(conversation, author=cast.owner, body="@teammate before you go")
    ConversationState.objects.filter(user=cast.teammate).update(location=Location.INBOX)  # access kept by mistake
    Membership.objects.filter(user=cast.teammate, organization=cast.org).delete()
    MembershipFactory(organization=cast.other_org, user=cast.teammate)
    cache.clear()

    login(client, cast.teammate)
    assert _listed(client.get(reverse("activity_list")).content.decode()) == []
    assert sidebar_counts(cast.teammate)["activity"] == {}


def test_the_feed_needs_a_login_and_opening_it_a_post(client, cast):
    assert client.get(reverse("activity_list")).status_code == 302
    assert client.post(reverse("activity_open")).status_code == 302
    login(client, cast.teammate)
    assert client.get(reverse("activity_open")).status_code == 405


# Retention ----------------------------------------------------------------------------------------


def test_items_older_than_thirty_days_are_deleted_by_the_beat_task(cast, monkeypatch):
    conversation = _team_conversation(cast)
    for n in range(5):
        do_post_comment(conversation, author=cast.owner, body=f"@teammate {n}")
    now = timezone.now()
    old = list(ActivityItem.objects.values_list("id", flat=True)[:3])
    ActivityItem.objects.filter(id__in=old).update(created_at=now - timedelta(days=30, minutes=1))
    monkeypatch.setattr(activity, "DELETE_BATCH", 2)

    assert tasks.delete_old_activity() == 3

    assert ActivityItem.objects.count() == 2 and not ActivityItem.objects.filter(id__in=old).exists()
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.delete_old_activity.name)
    assert entry["schedule"] == 3600


def test_a_new_member_has_an_empty_feed(client, cast):
    newcomer = UserFactory()
    MembershipFactory(organization=cast.org, user=newcomer)
    login(client, newcomer)
    page = _open(client).content.decode()
    assert "No activity here yet." in page


def test_a_reaction_group_names_the_latest_two_and_counts_the_others(cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="Done")
    for user in (cast.owner, cast.observer, cast.guest):
        ConversationState.objects.get_or_create(
            conversation=conversation, user=user, defaults={"organization": cast.org, "access_source": "added"}
        )
        do_toggle_reaction(conversation, str(comment.id), acting_user=user, emoji="👍")
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="❤️")

    [item] = _items(cast.teammate)
    assert reaction_summary(item) == {"people": "Olivia Owner, Gina Guest and 1 other", "emoji": "❤️👍"}
