"""Custom @mention groups: set on people in Settings › Users, mentioned like a person (access,
Inbox, sharing), suggested after @, telling apart people with the same name, and scoped to one
organization."""

import re

import pytest
from django.urls import reverse

from conversations.actions import do_post_comment, mentioned
from conversations.models import AccessSource, ConversationEvent, EventKind, Location
from inboxes.actions import do_remove_member
from inboxes.mention_groups import do_add_to_mention_group, do_remove_from_mention_group
from inboxes.models import Membership, MentionGroup, MentionGroupMember, Role
from tests.conftest import login
from tests.factories import MembershipFactory, UserFactory, receive, state_of

pytestmark = pytest.mark.django_db


def _member(cast, user, org=None):
    return Membership.objects.select_related("user").get(organization=org or cast.org, user=user)


# Mentioning a group --------------------------------------------------------------------------------


def test_mentioning_a_group_mentions_every_member_like_a_person(cast):
    do_add_to_mention_group(_member(cast, cast.teammate), name="design-leads")
    do_add_to_mention_group(_member(cast, cast.guest), name="Design-Leads")
    conversation = receive(cast.personal_account, subject="New logo").conversation

    do_post_comment(conversation, author=cast.owner, body="@design-leads which one?")

    for user in (cast.teammate, cast.guest):
        state = state_of(conversation, user)
        assert (state.access_source, state.location, state.unread) == (AccessSource.MENTION, Location.INBOX, True)
    assert state_of(conversation, cast.observer) is None
    conversation.refresh_from_db()
    assert conversation.is_shared
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SHARED)
    assert event.data["target"] == "Gina Guest, Tom Teammate"
    assert MentionGroup.objects.get().name == "design-leads", "one group, spelled as first typed"


def test_group_handles_are_case_insensitive_and_scoped_to_the_organization(cast):
    do_add_to_mention_group(_member(cast, cast.teammate), name="Stockholm")
    do_add_to_mention_group(_member(cast, cast.outsider, cast.other_org), name="Stockholm")
    conversation = receive(cast.support_account, subject="Office").conversation
    foreign = receive(cast.outsider_account, subject="Theirs").conversation

    assert mentioned(conversation, "@stockholm").users == {cast.teammate.id}
    assert mentioned(conversation, "@STOCKHOLM.").users == {cast.teammate.id}
    assert mentioned(foreign, "@Stockholm").users == {cast.outsider.id}
    assert mentioned(conversation, "@stock").users == set()


def test_people_leaving_the_organization_leave_its_groups(cast):
    do_add_to_mention_group(_member(cast, cast.teammate), name="apollo")
    do_add_to_mention_group(_member(cast, cast.observer), name="apollo")
    do_add_to_mention_group(_member(cast, cast.observer), name="solo")
    conversation = receive(cast.support_account, subject="Launch").conversation

    do_remove_member(_member(cast, cast.observer), acting=_member(cast, cast.owner))

    assert mentioned(conversation, "@apollo").users == {cast.teammate.id}
    assert not MentionGroupMember.objects.filter(user=cast.observer).exists()
    assert set(MentionGroup.objects.values_list("name", flat=True)) == {"apollo"}, "empty groups go"


def test_leaving_the_last_member_out_removes_the_group(cast):
    group = do_add_to_mention_group(_member(cast, cast.teammate), name="apollo")
    do_remove_from_mention_group(_member(cast, cast.teammate), group)
    assert not MentionGroup.objects.exists()


# Suggestions --------------------------------------------------------------------------------------


def _suggestions(client, conversation, typed):
    page = client.get(reverse("mention_suggestions", args=[conversation.id]), {"q": typed}).content.decode()
    return page, re.findall(r'data-handle="([^"]+)"', page)


def test_typing_after_at_suggests_matching_groups_with_their_size(client, cast):
    do_add_to_mention_group(_member(cast, cast.teammate), name="project-apollo")
    do_add_to_mention_group(_member(cast, cast.observer), name="project-apollo")
    do_add_to_mention_group(_member(cast, cast.outsider, cast.other_org), name="project-zeus")
    conversation = receive(cast.support_account, subject="Launch").conversation
    login(client, cast.owner)

    page, handles = _suggestions(client, conversation, "apol")
    assert handles == ["project-apollo"]
    assert '<span class="mention-label">@project-apollo</span>' in page and "2 people" in page
    assert _suggestions(client, conversation, "proj")[1] == ["project-apollo"], "not another organization's"
    for handle in _suggestions(client, conversation, "")[1]:
        assert mentioned(conversation, f"@{handle}").users or mentioned(conversation, f"@{handle}").everyone


def test_groups_tell_apart_people_with_the_same_name(client, cast):
    stockholm = UserFactory(email="sam.s@acme.test", name="Sam Lee")
    oslo = UserFactory(email="sam.o@acme.test", name="Sam Lee")
    for user, city in ((stockholm, "Stockholm"), (oslo, "Oslo")):
        MembershipFactory(organization=cast.org, user=user, role=Role.MEMBER)
        do_add_to_mention_group(_member(cast, user), name=city)
    conversation = receive(cast.support_account, subject="Visit").conversation
    login(client, cast.owner)

    page, handles = _suggestions(client, conversation, "sam")

    assert handles == ["sam.o", "sam.s"], "each a handle of its own, not the shared name's"
    assert '<span class="mention-group-tag">@Oslo</span>' in page
    assert '<span class="mention-group-tag">@Stockholm</span>' in page
    assert mentioned(conversation, "@sam.s").users == {stockholm.id}


# Settings › Users › a member ----------------------------------------------------------------------


def _member_url(cast, user, org=None):
    return reverse("settings_member", args=[(org or cast.org).id, user.id])


def _add_url(cast, user):
    return reverse("settings_mention_group_add", args=[cast.org.id, user.id])


def test_the_users_list_links_to_each_member_and_shows_their_groups(client, cast):
    do_add_to_mention_group(_member(cast, cast.teammate), name="design-leads")
    login(client, cast.teammate)

    page = client.get(reverse("settings_users", args=[cast.org.id])).content.decode()

    assert f'href="{_member_url(cast, cast.teammate)}">Tom Teammate' in page
    assert '<span class="s-row-groups">@design-leads</span>' in page


def test_an_admin_puts_a_member_in_groups_from_their_profile(client, cast):
    login(client, cast.owner)
    assert client.get(_member_url(cast, cast.teammate)).status_code == 200

    response = client.post(_add_url(cast, cast.teammate), {"group": "@design-leads"})
    assert response.status_code == 302
    client.post(_add_url(cast, cast.teammate), {"group": "Stockholm"})
    client.post(_add_url(cast, cast.observer), {"group": "DESIGN-LEADS"})

    assert set(MentionGroup.objects.values_list("name", flat=True)) == {"design-leads", "Stockholm"}
    page = client.get(_member_url(cast, cast.teammate)).content.decode()
    assert "@design-leads" in page and "@Stockholm" in page
    assert set(MentionGroup.objects.get(name="design-leads").memberships.values_list("user", flat=True)) == {
        cast.teammate.id,
        cast.observer.id,
    }

    group = MentionGroup.objects.get(name="Stockholm")
    remove = reverse("settings_mention_group_remove", args=[cast.org.id, cast.teammate.id, group.id])
    answer = client.post(remove, headers={"HX-Request": "true", "HX-Target": "mention-groups"})
    assert answer.status_code == 200 and '<li class="s-group-chip">@Stockholm' not in answer.content.decode()
    assert not MentionGroup.objects.filter(name="Stockholm").exists()


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", "This field is required."),
        ("design leads", "Use letters, digits, hyphens and underscores only"),
        ("<b>x</b>", "Use letters, digits, hyphens and underscores only"),
        ("all", "@all already mentions everyone"),
        ("Support", "A team already answers to @Support"),
        ("x" * 41, "A group name has at most 40 characters."),
    ],
)
def test_bad_group_names_show_an_inline_error(client, cast, typed, error):
    login(client, cast.owner)
    response = client.post(
        _add_url(cast, cast.teammate), {"group": typed}, headers={"HX-Request": "true", "HX-Target": "mention-groups"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert error in page and 'class="s-field has-error"' in page
    assert "<html" not in page, "only the card is re-rendered"
    assert "<b>x</b>" not in page
    assert not MentionGroup.objects.exists()


def test_adding_someone_twice_to_a_group_says_so(client, cast):
    do_add_to_mention_group(_member(cast, cast.teammate), name="apollo")
    login(client, cast.owner)
    page = client.post(_add_url(cast, cast.teammate), {"group": "Apollo"}).content.decode()
    assert "Tom Teammate is already in @apollo." in page
    assert MentionGroupMember.objects.count() == 1


def test_only_owners_and_admins_change_groups_and_nobody_reaches_another_organization(client, cast):
    group = do_add_to_mention_group(_member(cast, cast.teammate), name="apollo")
    login(client, cast.teammate)
    page = client.get(_member_url(cast, cast.teammate)).content.decode()
    assert "@apollo" in page and "Add to group" not in page, "members see groups, without changing them"
    assert client.post(_add_url(cast, cast.observer), {"group": "spies"}).status_code == 403
    remove = reverse("settings_mention_group_remove", args=[cast.org.id, cast.teammate.id, group.id])
    assert client.post(remove).status_code == 403

    login(client, cast.outsider)
    assert client.get(_member_url(cast, cast.teammate)).status_code == 404
    assert client.post(_add_url(cast, cast.teammate), {"group": "spies"}).status_code == 404
    # Their own organization does not reach our people or groups either.
    assert client.get(_member_url(cast, cast.teammate, cast.other_org)).status_code == 404
    assert (
        client.post(
            reverse("settings_mention_group_add", args=[cast.other_org.id, cast.teammate.id]), {"group": "spies"}
        ).status_code
        == 404
    )
    other_remove = reverse("settings_mention_group_remove", args=[cast.other_org.id, cast.outsider.id, group.id])
    assert client.post(other_remove).status_code == 404
    assert list(MentionGroup.objects.values_list("name", flat=True)) == ["apollo"]
