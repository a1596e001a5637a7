"""Internal comments: posting, watchers, @mentions, editing and deleting by the seed's rules, the
chat's formatting (escaped), search, and who may do what through the view."""

import re

import pytest
from django.urls import reverse

from conversations import search_index
from conversations.actions import (
    ActionRefused,
    do_archive,
    do_assign_conversation,
    do_delete_comment,
    do_edit_comment,
    do_post_comment,
    do_set_watching,
    do_toggle_reaction,
    mentioned,
)
from conversations.comment_format import format_comment
from conversations.counts import compute_counts, sidebar_counts
from conversations.models import (
    AccessSource,
    ActivityItem,
    ActivityKind,
    Comment,
    ConversationEvent,
    ConversationState,
    EventKind,
    Location,
)
from inboxes.models import Role, TeamRole
from tests.conftest import login
from tests.factories import MembershipFactory, TeamFactory, UserFactory, add_to_team, receive, state_of

pytestmark = pytest.mark.django_db


def _team_conversation(cast):
    """In Support's inbox: owner and teammate (active) and observer have access, none watching."""
    return receive(cast.support_account, subject="Printer jam").conversation


# Posting ------------------------------------------------------------------------------------------


def test_a_comment_makes_its_author_watch_and_is_unread_for_everyone_else(cast):
    conversation = _team_conversation(cast)
    ConversationState.objects.filter(conversation=conversation).update(unread=False)
    sidebar_counts(cast.teammate)

    comment = do_post_comment(conversation, author=cast.owner, body="  Looking into it  ")

    assert comment.body == "Looking into it" and comment.author == cast.owner
    assert state_of(conversation, cast.owner).watching and not state_of(conversation, cast.owner).unread
    assert state_of(conversation, cast.teammate).unread and state_of(conversation, cast.observer).unread
    assert state_of(conversation, cast.teammate).location == Location.NONE, "not watching: stays out of the Inbox"
    conversation.refresh_from_db()
    assert conversation.last_activity_at == state_of(conversation, cast.teammate).last_activity_at
    assert conversation.last_activity_at == comment.created_at
    assert sidebar_counts(cast.teammate) == compute_counts(cast.teammate), "counts invalidated"


def test_watchers_find_a_commented_conversation_back_in_their_inbox(cast):
    conversation = _team_conversation(cast)
    do_post_comment(conversation, author=cast.teammate, body="I'll take it")  # teammate now watches
    do_archive(conversation, acting_user=cast.teammate)
    assert state_of(conversation, cast.teammate).location == Location.ARCHIVED

    do_post_comment(conversation, author=cast.owner, body="Customer called again")

    assert state_of(conversation, cast.teammate).location == Location.INBOX
    assert state_of(conversation, cast.observer).location == Location.NONE


def test_an_empty_comment_is_refused_and_nothing_is_stored(cast):
    conversation = _team_conversation(cast)
    with pytest.raises(ActionRefused):
        do_post_comment(conversation, author=cast.owner, body=" \n ")
    assert not Comment.objects.exists()


def test_nobody_comments_without_access(cast):
    conversation = receive(cast.personal_account, subject="Private").conversation
    with pytest.raises(ActionRefused):
        do_post_comment(conversation, author=cast.teammate, body="hello")
    assert not Comment.objects.exists()


def test_comments_are_searchable_after_posting_editing_and_deleting(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.owner)

    def found(word):
        search_index.index_backlog()
        page = client.get(reverse("mailbox", args=["all"]), {"q": word}).content.decode()
        return "Printer jam" in page

    comment = do_post_comment(conversation, author=cast.owner, body="Ordered a new fuser")
    assert found("fuser")
    do_edit_comment(conversation, str(comment.id), acting_user=cast.owner, body="Ordered a new drum")
    assert found("drum") and not found("fuser")
    do_delete_comment(conversation, str(comment.id), acting_user=cast.owner)
    assert not found("drum")


# Mentions -----------------------------------------------------------------------------------------


def test_mentioning_someone_without_access_shares_the_conversation_into_their_inbox(cast):
    conversation = receive(cast.personal_account, subject="Contract").conversation
    assert not conversation.is_shared

    do_post_comment(conversation, author=cast.owner, body="@teammate can you check the terms?")

    state = state_of(conversation, cast.teammate)
    assert (state.access_source, state.location, state.unread) == (AccessSource.MENTION, Location.INBOX, True)
    conversation.refresh_from_db()
    assert conversation.is_shared
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SHARED)
    assert event.actor == cast.owner and event.data["target"] == "Tom Teammate"
    assert state_of(conversation, cast.observer) is None


def test_mentioning_someone_with_access_brings_it_to_their_inbox_even_when_not_watching(cast):
    conversation = _team_conversation(cast)
    do_post_comment(conversation, author=cast.owner, body="cc @tom-teammate")
    assert state_of(conversation, cast.teammate).location == Location.INBOX
    assert state_of(conversation, cast.observer).location == Location.NONE


def test_handles_are_email_names_hyphenated_names_or_unique_first_names(cast):
    conversation = _team_conversation(cast)
    twin = UserFactory(email="tom.two@acme.test", name="Tom Twin")
    MembershipFactory(organization=cast.org, user=twin, role=Role.MEMBER)

    assert mentioned(conversation, "@teammate").users == {cast.teammate.id}
    assert mentioned(conversation, "@Tom-Twin, @tom.two.").users == {twin.id}
    assert mentioned(conversation, "@tom").users == set(), "two Toms: nobody"
    assert mentioned(conversation, "@oscar").users == {cast.observer.id}
    assert mentioned(conversation, "write to teammate@acme.test").users == set(), "an address is no mention"
    assert mentioned(conversation, "@outsider").users == set(), "another organization's people are unknown"


def test_mentioning_a_team_reaches_its_active_members_or_observers_too_by_its_option(cast):
    conversation = receive(cast.personal_account, subject="Escalation").conversation
    assert mentioned(conversation, "@support").users == {cast.owner.id, cast.teammate.id}

    cast.support.mention_adds_observers = True
    cast.support.save()
    do_post_comment(conversation, author=cast.owner, body="@Support please help")

    assert state_of(conversation, cast.teammate).location == Location.INBOX
    assert state_of(conversation, cast.observer).location == Location.INBOX
    assert state_of(conversation, cast.observer).access_source == AccessSource.MENTION


def test_mention_all_brings_it_to_the_inbox_of_everyone_with_access(cast):
    conversation = _team_conversation(cast)
    newcomer = UserFactory()
    MembershipFactory(organization=cast.org, user=newcomer)
    do_post_comment(conversation, author=cast.owner, body="Heads up @all")

    for user in (cast.teammate, cast.observer):
        assert state_of(conversation, user).location == Location.INBOX
    assert state_of(conversation, newcomer) is None, "@all reaches those with access, it grants none"


def test_a_team_mention_with_several_teams_and_people_at_once(cast):
    other = TeamFactory(organization=cast.org, name="Sales Desk")
    seller = UserFactory(email="sam@acme.test", name="Sam Seller")
    MembershipFactory(organization=cast.org, user=seller)
    add_to_team(other, seller, TeamRole.ACTIVE)
    conversation = receive(cast.personal_account, subject="Deal").conversation

    do_post_comment(conversation, author=cast.owner, body="@sales-desk and @gina, see above")

    assert state_of(conversation, seller).location == Location.INBOX
    assert state_of(conversation, cast.guest).location == Location.INBOX


# Editing and deleting -----------------------------------------------------------------------------


def test_only_the_author_edits_a_comment_and_it_shows_as_edited(cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="first try")

    with pytest.raises(ActionRefused):
        do_edit_comment(conversation, str(comment.id), acting_user=cast.owner, body="hijacked")
    with pytest.raises(ActionRefused):
        do_edit_comment(conversation, str(comment.id), acting_user=cast.teammate, body="   ")
    do_edit_comment(conversation, str(comment.id), acting_user=cast.teammate, body="second try")

    comment.refresh_from_db()
    assert comment.body == "second try" and comment.edited_at is not None


def test_members_delete_their_own_comments_owners_and_admins_anyones(cast):
    conversation = _team_conversation(cast)
    by_teammate = do_post_comment(conversation, author=cast.teammate, body="mine")
    by_owner = do_post_comment(conversation, author=cast.owner, body="the owner's")

    with pytest.raises(ActionRefused):
        do_delete_comment(conversation, str(by_owner.id), acting_user=cast.teammate)
    do_delete_comment(conversation, str(by_teammate.id), acting_user=cast.teammate)
    assert list(Comment.objects.values_list("body", flat=True)) == ["the owner's"]

    again = do_post_comment(conversation, author=cast.teammate, body="again")
    do_delete_comment(conversation, str(again.id), acting_user=cast.owner)
    assert not Comment.objects.filter(id=again.id).exists()


def test_a_comment_is_only_reached_through_its_own_conversation(cast):
    conversation = _team_conversation(cast)
    other = receive(cast.support_account, subject="Other").conversation
    comment = do_post_comment(other, author=cast.owner, body="elsewhere")

    for comment_id in (str(comment.id), "not-a-uuid", ""):
        with pytest.raises(ActionRefused):
            do_delete_comment(conversation, comment_id, acting_user=cast.owner)
    assert Comment.objects.filter(id=comment.id).exists()


# Through the view ---------------------------------------------------------------------------------


def _post(client, conversation, action, **data):
    url = reverse("conversation_action", args=[conversation.id, action])
    return client.post(url, {"return_to": "/m/all/", **data}, headers={"HX-Request": "true"})


def test_posting_from_the_conversation_view_shows_the_formatted_comment(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.owner)

    response = _post(client, conversation, "comment", body="Call *back* @teammate <b>now</b>")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'Call <strong>back</strong> <span class="mention">@teammate</span> &lt;b&gt;now&lt;/b&gt;' in page
    assert 'id="comment-box"' in page
    empty = _post(client, conversation, "comment", body="   ")
    assert "Write something first." in empty.content.decode()
    assert Comment.objects.count() == 1


def test_the_view_lets_only_allowed_people_edit_or_delete(client, cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.owner, body="owner's note")
    login(client, cast.teammate)

    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    assert "data-edit-comment" not in page and "delete_comment" not in page
    refused = _post(client, conversation, "delete_comment", comment_id=str(comment.id))
    assert "Only owners and admins" in refused.content.decode()
    refused = _post(client, conversation, "edit_comment", comment_id=str(comment.id), body="changed")
    assert "Only its author" in refused.content.decode()
    comment.refresh_from_db()
    assert comment.body == "owner's note"

    login(client, cast.owner)
    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    assert f'data-edit-comment="{comment.id}"' in page
    _post(client, conversation, "edit_comment", comment_id=str(comment.id), body="owner's *edited* note")
    assert (
        "owner&#x27;s <strong>edited</strong> note"
        in client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    )
    _post(client, conversation, "delete_comment", comment_id=str(comment.id))
    assert not Comment.objects.exists()


def test_outsiders_cannot_comment_and_comments_are_not_a_bulk_action(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.outsider)
    assert _post(client, conversation, "comment", body="hi").status_code == 404
    login(client, cast.owner)
    bulk = client.post(reverse("bulk_action", args=["comment"]), {"ids": [str(conversation.id)], "body": "x"})
    assert bulk.status_code == 404
    assert not Comment.objects.exists()


# Formatting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "html"),
    [
        ("*bold* **strong**", "<strong>bold</strong> <strong>strong</strong>"),
        ("_it_ __it__ ~old~ ~~old~~", "<em>it</em> <em>it</em> <del>old</del> <del>old</del>"),
        ("`a<b> *x*`", "<code>a&lt;b&gt; *x*</code>"),
        ("[docs](https://x.test/?a=1&b=2)", '<a href="https://x.test/?a=1&amp;b=2" target="_blank" rel="noopener'),
        ("snake_case_name 2*3*4", "snake_case_name 2*3*4"),
        ("> quoted\nmine", "<blockquote>quoted</blockquote>mine"),
        (">> all\nof it", '<blockquote class="full-quote">all<br>of it</blockquote>'),
        ("one\ntwo", "one<br>two"),
    ],
)
def test_the_chat_formatting(body, html):
    assert html in format_comment(body)


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        '[x](https://e.test/"onmouseover="alert(1))',
        "<img src=x onerror=alert(1)>",
        "*<svg onload=alert(1)>*",
        "`</code><script>alert(1)</script>`",
        "\x00<script>",
    ],
)
def test_what_teammates_write_is_escaped(body):
    html = format_comment(body)
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    assert 'href="javascript' not in html
    assert 'onmouseover="' not in html


# Watching -----------------------------------------------------------------------------------------


def test_watch_and_unwatch_but_assignees_always_watch(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.teammate)

    page = _post(client, conversation, "watch").content.decode()
    assert state_of(conversation, cast.teammate).watching and 'id="watch-mark"' in page
    _post(client, conversation, "unwatch")
    assert not state_of(conversation, cast.teammate).watching

    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    refused = _post(client, conversation, "unwatch").content.decode()
    assert "Assignees always watch" in refused and state_of(conversation, cast.teammate).watching
    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    assert 'disabled title="Assignees always watch' in page


def test_unwatched_conversations_stay_archived_on_comments_but_come_back_on_a_mention(cast):
    conversation = _team_conversation(cast)
    do_post_comment(conversation, author=cast.teammate, body="on it")
    do_set_watching(conversation, acting_user=cast.teammate, watching=False)
    do_archive(conversation, acting_user=cast.teammate)

    do_post_comment(conversation, author=cast.owner, body="any news?")
    assert state_of(conversation, cast.teammate).location == Location.ARCHIVED
    do_post_comment(conversation, author=cast.owner, body="@teammate any news?")
    assert state_of(conversation, cast.teammate).location == Location.INBOX


# Mention suggestions ------------------------------------------------------------------------------


def _suggested(client, conversation, typed):
    url = reverse("mention_suggestions", args=[conversation.id])
    page = client.get(url, {"q": typed}).content.decode()
    return re.findall(r'data-handle="([^"]+)"', page)


def test_typing_after_at_suggests_people_teams_and_all_of_the_organization(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.owner)

    assert _suggested(client, conversation, "to") == ["tom-teammate"]
    assert _suggested(client, conversation, "teamm") == ["tom-teammate"], "words of the name and the email"
    assert _suggested(client, conversation, "sup") == ["support"]
    assert _suggested(client, conversation, "al") == ["all"]
    assert "olivia-owner" not in _suggested(client, conversation, ""), "not oneself"
    assert "xavier-outsider" not in _suggested(client, conversation, "x")
    # Each suggestion mentions whom it names.
    for handle in _suggested(client, conversation, ""):
        assert mentioned(conversation, f"@{handle}").users or mentioned(conversation, f"@{handle}").everyone


def test_only_people_with_access_get_mention_suggestions(client, cast):
    conversation = receive(cast.personal_account, subject="Private").conversation
    login(client, cast.teammate)
    assert client.get(reverse("mention_suggestions", args=[conversation.id]), {"q": "o"}).status_code == 404
    login(client, cast.outsider)
    assert client.get(reverse("mention_suggestions", args=[conversation.id]), {"q": "o"}).status_code == 404


# Reactions ----------------------------------------------------------------------------------------


def test_reactions_toggle_group_by_emoji_and_make_nothing_unread(client, cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.teammate, body="Shipped!")
    ConversationState.objects.filter(conversation=conversation).update(unread=False)
    before = ConversationState.objects.get(conversation=conversation, user=cast.teammate)

    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="🎉")
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.observer, emoji="🎉")
    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.observer, emoji="👍")

    after = ConversationState.objects.get(conversation=conversation, user=cast.teammate)
    assert (after.unread, after.location, after.last_activity_at) == (False, before.location, before.last_activity_at)
    # The author hears of it in their Activity feed only: one item for the comment's reactions.
    assert list(ActivityItem.objects.values_list("recipient", "kind")) == [(cast.teammate.id, ActivityKind.REACTION)]
    login(client, cast.owner)
    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    reactions = re.findall(
        r'class="reaction( mine)?"[^>]*title="([^"]*)"[^>]*>(\S+) <span class="reaction-count">(\d+)', page
    )
    assert reactions == [
        ("", "Oscar Observer", "👍", "1"),
        (" mine", "Olivia Owner, Oscar Observer", "🎉", "2"),
    ]

    do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="🎉")
    assert set(comment.reactions.values_list("user__email", "emoji")) == {
        ("observer@acme.test", "👍"),
        ("observer@acme.test", "🎉"),
    }


def test_only_offered_reactions_by_people_with_access(client, cast):
    conversation = _team_conversation(cast)
    comment = do_post_comment(conversation, author=cast.owner, body="hello")
    with pytest.raises(ActionRefused):
        do_toggle_reaction(conversation, str(comment.id), acting_user=cast.owner, emoji="<b>")
    with pytest.raises(ActionRefused):
        do_toggle_reaction(conversation, str(comment.id), acting_user=cast.guest, emoji="👍")
    login(client, cast.outsider)
    assert _post(client, conversation, "react", comment_id=str(comment.id), emoji="👍").status_code == 404
    assert not comment.reactions.exists()
