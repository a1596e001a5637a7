"""Status and Out of office (inboxes/status.py): setting and clearing, who may edit whose, the
schedule beat follows, and a reply to an away assignee's team conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations.actions import do_assign_conversation
from conversations.models import Assignment, ConversationEvent, EventKind
from inboxes.models import Alias, AutoResponderAlias, Membership
from inboxes.status import (
    AutoResponder,
    do_apply_out_of_office_schedules,
    do_clear_status,
    do_set_status,
    statuses_seen_by,
)
from tests.conftest import login
from tests.factories import AccountFactory, receive, state_of


def _membership(cast, user) -> Membership:
    return Membership.objects.get(organization=cast.org, user=user)


def test_a_member_sets_and_clears_their_status(cast):
    me = _membership(cast, cast.teammate)

    do_set_status(me, acting=me, emoji="🌴", message="On vacation, back Tuesday", out_of_office=True)

    me.refresh_from_db()
    assert (me.status_emoji, me.status_message, me.out_of_office) == ("🌴", "On vacation, back Tuesday", True)
    seen = statuses_seen_by(cast.owner.id)[cast.teammate.id]
    assert seen.text == "🌴 Out of office · On vacation, back Tuesday"

    do_clear_status(me, acting=me)

    me.refresh_from_db()
    assert (me.status_emoji, me.status_message, me.out_of_office) == ("", "", False)
    assert cast.teammate.id not in statuses_seen_by(cast.owner.id)


def test_statuses_are_seen_only_inside_the_organization(cast):
    me = _membership(cast, cast.teammate)
    do_set_status(me, acting=me, emoji="🤒", message="", out_of_office=False)

    assert cast.teammate.id in statuses_seen_by(cast.observer.id)
    assert cast.teammate.id not in statuses_seen_by(cast.outsider.id)


def test_an_admin_edits_a_coworkers_status_but_a_member_cannot(cast):
    owner, teammate, observer = (_membership(cast, u) for u in (cast.owner, cast.teammate, cast.observer))

    do_set_status(teammate, acting=owner, emoji="", message="At the dentist", out_of_office=False)
    teammate.refresh_from_db()
    assert teammate.status_message == "At the dentist"

    with pytest.raises(PermissionDenied):
        do_set_status(teammate, acting=observer, emoji="", message="Gone", out_of_office=True)
    with pytest.raises(PermissionDenied):
        do_clear_status(teammate, acting=observer)
    teammate.refresh_from_db()
    assert teammate.status_message == "At the dentist"


def test_an_admin_cannot_set_a_coworkers_auto_responder(cast):
    owner, teammate = _membership(cast, cast.owner), _membership(cast, cast.teammate)
    responder = AutoResponder(enabled=True, subject="", body="Away", alias_ids=frozenset())

    with pytest.raises(PermissionDenied):
        do_set_status(teammate, acting=owner, emoji="", message="", out_of_office=True, auto_responder=responder)


def test_the_auto_responder_answers_only_on_own_personal_aliases(cast):
    owner = _membership(cast, cast.owner)
    personal = Alias.objects.get(account=cast.personal_account)
    shared = Alias.objects.get(account=cast.support_account)

    with pytest.raises(ValidationError):
        do_set_status(
            owner,
            acting=owner,
            emoji="",
            message="",
            out_of_office=True,
            auto_responder=AutoResponder(True, "", "Away", frozenset({shared.id})),
        )
    do_set_status(
        owner,
        acting=owner,
        emoji="",
        message="",
        out_of_office=True,
        auto_responder=AutoResponder(True, "Away", "Back soon", frozenset({personal.id})),
    )

    owner.refresh_from_db()
    assert owner.auto_responder_enabled and owner.auto_responder_subject == "Away"
    assert list(AutoResponderAlias.objects.filter(user=cast.owner).values_list("alias_id", flat=True)) == [personal.id]

    do_set_status(
        owner,
        acting=owner,
        emoji="",
        message="",
        out_of_office=True,
        auto_responder=AutoResponder(False, "", "", frozenset()),
    )
    assert not AutoResponderAlias.objects.filter(user=cast.owner).exists()


def test_an_end_before_the_start_is_refused(cast):
    me = _membership(cast, cast.teammate)
    now = timezone.now()

    with pytest.raises(ValidationError):
        do_set_status(
            me,
            acting=me,
            emoji="",
            message="",
            out_of_office=True,
            starts_at=now + timedelta(days=2),
            ends_at=now + timedelta(days=1),
        )


def test_a_scheduled_out_of_office_turns_on_at_its_start_and_clears_at_its_end(cast):
    me = _membership(cast, cast.teammate)
    now = timezone.now()
    starts, ends = now + timedelta(hours=1), now + timedelta(hours=5)
    do_set_status(me, acting=me, emoji="✈️", message="Flying", out_of_office=True, starts_at=starts, ends_at=ends)
    me.refresh_from_db()
    assert not me.out_of_office and me.out_of_office_starts_at == starts

    assert do_apply_out_of_office_schedules(now=now + timedelta(minutes=30)) == 0
    assert do_apply_out_of_office_schedules(now=starts + timedelta(seconds=1)) == 1
    me.refresh_from_db()
    assert me.out_of_office
    assert do_apply_out_of_office_schedules(now=starts + timedelta(seconds=2)) == 0  # idempotent

    assert do_apply_out_of_office_schedules(now=ends) == 1
    me.refresh_from_db()
    assert (me.out_of_office, me.status_emoji, me.status_message) == (False, "", "")
    assert me.out_of_office_starts_at is None and me.out_of_office_ends_at is None
    assert do_apply_out_of_office_schedules(now=ends + timedelta(minutes=1)) == 0


def test_the_schedule_runs_set_based_for_everyone_due(cast, django_assert_max_num_queries):
    now = timezone.now()
    for user in (cast.owner, cast.teammate, cast.observer):
        Membership.objects.filter(organization=cast.org, user=user).update(
            out_of_office_starts_at=now - timedelta(minutes=1)
        )

    with django_assert_max_num_queries(4):
        assert do_apply_out_of_office_schedules(now=now) == 3
    assert Membership.objects.filter(out_of_office=True).count() == 3


# --- A reply while the assignee is away -----------------------------------------------------------


def _away(cast, user) -> None:
    me = _membership(cast, user)
    do_set_status(me, acting=me, emoji="🌴", message="", out_of_office=True)


def test_a_reply_to_an_away_assignees_team_conversation_goes_back_to_the_team_inbox(cast):
    first = receive(cast.support_account, subject="Broken widget", rfc_message_id="<w1@client.test>")
    conversation = first.conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    conversation.refresh_from_db()
    assert not conversation.in_team_inbox
    _away(cast, cast.teammate)

    receive(cast.support_account, subject="Re: Broken widget", in_reply_to="<w1@client.test>")

    conversation.refresh_from_db()
    assert conversation.in_team_inbox and not conversation.assigned
    assert not Assignment.objects.filter(conversation=conversation).exists()
    assert not state_of(conversation, cast.teammate).assigned
    event = ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.UNASSIGNED).get()
    assert event.text == "Missive unassigned Tom Teammate (out of office)"


def test_a_present_co_assignee_keeps_the_conversation(cast):
    first = receive(cast.support_account, subject="Broken widget", rfc_message_id="<w1@client.test>")
    conversation = first.conversation
    do_assign_conversation(conversation, [cast.teammate, cast.owner], acting_user=cast.owner)
    _away(cast, cast.teammate)

    receive(cast.support_account, subject="Re: Broken widget", in_reply_to="<w1@client.test>")

    conversation.refresh_from_db()
    assert list(Assignment.objects.filter(conversation=conversation).values_list("user_id", flat=True)) == [
        cast.owner.id
    ]
    assert conversation.assigned and not conversation.in_team_inbox


def test_a_reply_when_the_assignee_is_present_or_the_conversation_personal_changes_nothing(cast):
    first = receive(cast.support_account, subject="Broken widget", rfc_message_id="<w1@client.test>")
    do_assign_conversation(first.conversation, [cast.teammate], acting_user=cast.owner)
    receive(cast.support_account, subject="Re: Broken widget", in_reply_to="<w1@client.test>")
    assert Assignment.objects.filter(conversation=first.conversation, user=cast.teammate).exists()

    mine = AccountFactory(organization=cast.org, owner=cast.teammate, address="tom@acme.test")
    personal = receive(mine, subject="Hi Tom", rfc_message_id="<p1@client.test>")
    do_assign_conversation(personal.conversation, [cast.teammate], acting_user=cast.teammate)
    _away(cast, cast.teammate)
    receive(mine, subject="Re: Hi Tom", in_reply_to="<p1@client.test>")
    assert Assignment.objects.filter(conversation=personal.conversation, user=cast.teammate).exists()


# --- Views ----------------------------------------------------------------------------------------


def test_the_status_dialog_offers_only_personal_addresses_for_the_auto_responder(owner_client, cast):
    page = owner_client.get(reverse("my_status", args=[cast.org.id])).content.decode()

    assert "Set a status" in page and 'name="out_of_office"' in page
    assert "olivia@acme.test" in page and "support@acme.test" not in page


def test_saving_a_status_from_the_dialog_reloads_the_page(owner_client, cast):
    alias = Alias.objects.get(account=cast.personal_account)
    response = owner_client.post(
        reverse("my_status", args=[cast.org.id]),
        {
            "emoji": "🌴",
            "message": "Back on Tuesday",
            "out_of_office": "on",
            "out_of_office_ends_at": (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "tz": "Europe/Paris",
            "auto_responder_enabled": "on",
            "auto_responder_aliases": [str(alias.id)],
            "auto_responder_body": "I am away.",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.headers["HX-Refresh"] == "true"
    me = _membership(cast, cast.owner)
    assert (me.status_emoji, me.status_message, me.out_of_office, me.auto_responder_enabled) == (
        "🌴",
        "Back on Tuesday",
        True,
        True,
    )
    assert str(me.out_of_office_ends_at.tzinfo) in ("UTC", "Europe/Paris")
    assert AutoResponderAlias.objects.filter(user=cast.owner, alias=alias).exists()


def test_an_invalid_dialog_shows_its_errors_and_saves_nothing(owner_client, cast):
    response = owner_client.post(
        reverse("my_status", args=[cast.org.id]),
        {"emoji": "🌴", "out_of_office": "on", "auto_responder_enabled": "on", "out_of_office_ends_at": "soon"},
        HTTP_HX_REQUEST="true",
    )

    page = response.content.decode()
    assert response.status_code == 200 and "status-modal" in page
    assert "Choose at least one address that answers." in page and "Enter a date and time." in page
    assert _membership(cast, cast.owner).status_emoji == ""


def test_clear_status_from_the_menu(owner_client, cast):
    me = _membership(cast, cast.owner)
    do_set_status(me, acting=me, emoji="🤒", message="Out sick", out_of_office=True)

    response = owner_client.post(reverse("my_status_clear", args=[cast.org.id]), HTTP_HX_REQUEST="true")

    assert response.headers["HX-Refresh"] == "true"
    me.refresh_from_db()
    assert (me.status_emoji, me.status_message, me.out_of_office) == ("", "", False)


def test_an_admin_edits_a_coworkers_status_in_settings_without_auto_responder(owner_client, cast):
    url = reverse("settings_member_status", args=[cast.org.id, cast.teammate.id])
    page = owner_client.get(url).content.decode()
    assert "Edit status" in page and "auto_responder" not in page

    response = owner_client.post(url, {"emoji": "🏠", "message": "Remote today", "auto_responder_enabled": "on"})

    assert response.status_code == 302
    teammate = _membership(cast, cast.teammate)
    assert (teammate.status_emoji, teammate.status_message, teammate.auto_responder_enabled) == (
        "🏠",
        "Remote today",
        False,
    )
    member_page = owner_client.get(reverse("settings_member", args=[cast.org.id, cast.teammate.id])).content.decode()
    assert "Remote today" in member_page and url in member_page

    owner_client.post(url, {"clear": "1"})
    assert _membership(cast, cast.teammate).status_message == ""


def test_members_cannot_edit_a_coworkers_status_and_outsiders_cannot_see_it(client, cast):
    url = reverse("settings_member_status", args=[cast.org.id, cast.owner.id])
    login(client, cast.teammate)
    assert client.get(url).status_code == 403
    assert client.post(url, {"message": "Hacked"}).status_code == 403
    assert _membership(cast, cast.owner).status_message == ""
    client.logout()
    login(client, cast.outsider)
    assert client.get(url).status_code == 404
    assert client.post(reverse("my_status", args=[cast.org.id]), {"message": "x"}).status_code == 404


def test_teammates_see_the_status_on_the_avatar_escaped(client, cast):
    teammate = _membership(cast, cast.teammate)
    do_set_status(teammate, acting=teammate, emoji="🌴", message="<b>Away</b>", out_of_office=True)
    conversation = receive(cast.support_account, subject="Broken widget").conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    login(client, cast.owner)

    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()

    title = 'title="Tom Teammate — 🌴 Out of office · &lt;b&gt;Away&lt;/b&gt;"'
    assert title in page and "<b>Away</b>" not in page
    assert '<span class="avatar-status" aria-hidden="true">🌴</span>' in page
    suggestions = client.get(reverse("mention_suggestions", args=[conversation.id]), {"q": "tom"}).content.decode()
    assert title in suggestions


def test_statuses_cost_no_query_once_cached(client, cast):
    teammate = _membership(cast, cast.teammate)
    do_set_status(teammate, acting=teammate, emoji="🌴", message="", out_of_office=False)
    login(client, cast.owner)
    url = reverse("mailbox", args=["inbox"])
    client.get(url)

    with CaptureQueriesContext(connection) as captured:
        client.get(url)

    status_reads = [q for q in captured.captured_queries if '"status_emoji" = ' in q["sql"]]
    assert captured.captured_queries and status_reads == []


def test_statuses_show_again_after_the_cache_is_lost(cast):
    from django.core.cache import cache

    teammate = _membership(cast, cast.teammate)
    do_set_status(teammate, acting=teammate, emoji="🌴", message="", out_of_office=False)
    cache.clear()
    assert statuses_seen_by(cast.owner.id) == {}

    do_apply_out_of_office_schedules()

    assert statuses_seen_by(cast.owner.id)[cast.teammate.id].emoji == "🌴"
