"""Labels: who sees which (everyone, admins and auto-shared people, personal), applying and
removing them with their events and auto-sharing, the seed's limits and naming rules, who may
edit and delete, the label menus, bulk labelling, label mailboxes, the sidebar, rows, search,
and Settings › Labels."""

import re

import pytest
from django.http import Http404
from django.urls import reverse

from conversations import labels as label_module
from conversations.actions import ActionRefused, do_share_conversation
from conversations.labels import (
    do_add_label,
    do_create_label,
    do_delete_label,
    do_remove_label,
    do_set_labels,
    do_update_label,
    get_label_for_user,
    label_tree,
)
from conversations.models import (
    AccessSource,
    ConversationEvent,
    ConversationLabel,
    ConversationState,
    EventKind,
    Label,
    LabelVisibility,
    Location,
)
from conversations.signals import label_changed
from inboxes.actions import do_set_team_members
from inboxes.models import Role
from tests.conftest import login
from tests.factories import LabelFactory, MembershipFactory, TeamFactory, UserFactory, add_to_team, receive, state_of

pytestmark = pytest.mark.django_db


def _team_conversation(cast, subject="Printer jam"):
    """In Support's inbox: owner, teammate (active) and observer have access."""
    return receive(cast.support_account, subject=subject).conversation


def _private(cast, subject="Supplier contract"):
    """Only the owner has access."""
    return receive(cast.personal_account, subject=subject).conversation


def _admin(cast):
    admin = UserFactory(name="Ada Admin")
    MembershipFactory(organization=cast.org, user=admin, role=Role.ADMIN)
    return admin


def _label(cast, name="Billing", **kwargs):
    return do_create_label(cast.org, acting_user=kwargs.pop("acting_user", cast.owner), name=name, **kwargs)


def _labels_on(conversation):
    return set(ConversationLabel.objects.filter(conversation=conversation).values_list("label__name", flat=True))


def _visible(user):
    return set(Label.objects.visible_to(user).values_list("name", flat=True))


def _post(client, conversation, action, **data):
    data.setdefault("return_to", reverse("mailbox", args=["all"]))
    return client.post(reverse("conversation_action", args=[conversation.id, action]), data, HTTP_HX_REQUEST="true")


# Who sees which label ------------------------------------------------------------------------------


def test_a_label_visible_to_everyone_is_seen_by_every_member_and_no_outsider(cast):
    _label(cast, "Billing")

    for user in (cast.owner, cast.teammate, cast.guest):
        assert _visible(user) == {"Billing"}
    assert _visible(cast.outsider) == set()


def test_a_restricted_label_is_seen_by_admins_and_auto_shared_users_and_teams_only(cast):
    admin = _admin(cast)
    legal = TeamFactory(organization=cast.org, name="Legal")
    add_to_team(legal, cast.guest)
    _label(
        cast,
        "Payroll",
        visibility=LabelVisibility.RESTRICTED,
        auto_share_users=[cast.teammate],
        auto_share_teams=[legal],
    )

    assert "Payroll" in _visible(cast.owner)
    assert "Payroll" in _visible(admin)
    assert "Payroll" in _visible(cast.teammate)
    assert "Payroll" in _visible(cast.guest)
    assert "Payroll" not in _visible(cast.observer)
    assert "Payroll" not in _visible(cast.outsider)


def test_a_personal_label_is_seen_by_its_owner_only(cast):
    _label(cast, "To read", acting_user=cast.teammate, personal=True)

    assert _visible(cast.teammate) == {"To read"}
    assert _visible(cast.owner) == set()
    assert _visible(cast.outsider) == set()


def test_another_organizations_label_or_someone_elses_personal_label_is_a_404(cast):
    mine = _label(cast, "Mine", acting_user=cast.teammate, personal=True)
    globex = LabelFactory(organization=cast.other_org, name="Globex")

    with pytest.raises(Http404):
        get_label_for_user(cast.owner, mine.id)
    with pytest.raises(Http404):
        get_label_for_user(cast.owner, globex.id)
    with pytest.raises(Http404):
        get_label_for_user(cast.owner, "not-an-id")
    assert get_label_for_user(cast.teammate, mine.id) == mine


def test_existing_labels_without_the_new_fields_are_organization_labels_for_everyone(cast):
    label = LabelFactory(organization=cast.org, name="Legacy")

    assert not label.is_personal
    assert label.visibility == LabelVisibility.EVERYONE
    assert "Legacy" in _visible(cast.teammate)


# The tree -----------------------------------------------------------------------------------------


def test_labels_nest_and_read_as_a_tree_of_paths(cast):
    features = _label(cast, "Features")
    for name in ("Requested", "bugs", "Next"):
        _label(cast, name, parent=features)
    _label(cast, "Billing")

    nodes = label_tree(Label.objects.filter(organization=cast.org))

    assert [(n.path, n.depth) for n in nodes] == [
        ("Billing", 0),
        ("Features", 0),
        ("Features/bugs", 1),
        ("Features/Next", 1),
        ("Features/Requested", 1),
    ]


# Naming rules and limits ------------------------------------------------------------------------


def test_sibling_names_are_unique_whatever_their_case(cast):
    features = _label(cast, "Features")
    _label(cast, "Bugs", parent=features)

    with pytest.raises(Exception, match="already a label named BUGS under Features"):
        _label(cast, "BUGS", parent=features)
    # The same name elsewhere is another label: at the top, or as a personal label.
    _label(cast, "Bugs")
    _label(cast, "Bugs", acting_user=cast.teammate, personal=True)
    assert Label.objects.filter(name__iexact="bugs").count() == 3


def test_a_name_needs_text_and_no_slash(cast):
    with pytest.raises(Exception, match="Give the label a name"):
        _label(cast, "   ")
    with pytest.raises(Exception, match="cannot contain"):
        _label(cast, "Features/Bugs")


def test_a_label_nests_under_a_label_of_its_own_kind_and_never_under_itself(cast):
    features = _label(cast, "Features")
    bugs = _label(cast, "Bugs", parent=features)
    personal = _label(cast, "Mine", acting_user=cast.owner, personal=True)

    with pytest.raises(Exception, match="Nest it under"):
        _label(cast, "Odd", parent=personal)
    with pytest.raises(Exception, match="under itself or one of its sublabels"):
        do_update_label(features, acting_user=cast.owner, name="Features", parent=bugs, color="#123456")


def test_an_organization_holds_at_most_its_limit_of_labels(cast, monkeypatch):
    monkeypatch.setattr(label_module, "MAX_ORGANIZATION_LABELS", 2)
    _label(cast, "One")
    _label(cast, "Two")

    with pytest.raises(Exception, match="limit of 2 labels"):
        _label(cast, "Three")
    _label(cast, "Mine", personal=True)  # personal labels count apart


def test_a_conversation_takes_at_most_100_shared_labels(cast):
    conversation = _private(cast)
    many = Label.objects.bulk_create(Label(organization=cast.org, name=f"L{n}") for n in range(100))
    ConversationLabel.objects.bulk_create(
        ConversationLabel(organization=cast.org, conversation=conversation, label=label) for label in many
    )

    with pytest.raises(ActionRefused, match="up to 100 shared labels"):
        do_add_label(conversation, _label(cast, "One more"), acting_user=cast.owner)
    assert do_add_label(conversation, _label(cast, "Mine", personal=True), acting_user=cast.owner)


# Who may create, edit and delete ---------------------------------------------------------------


def test_guests_create_personal_labels_only(cast):
    with pytest.raises(ActionRefused):
        _label(cast, "Guest label", acting_user=cast.guest)
    assert _label(cast, "Guest label", acting_user=cast.guest, personal=True).owner == cast.guest


def test_any_member_edits_an_organization_label_but_only_owners_and_admins_change_its_sharing(cast):
    label = _label(cast, "Billing", acting_user=cast.teammate, visibility=LabelVisibility.RESTRICTED)

    do_update_label(label, acting_user=cast.teammate, name="Invoices", parent=None, color="#ff0000", emoji="💶")
    label.refresh_from_db()
    assert (label.name, label.color, label.emoji) == ("Invoices", "#ff0000", "💶")
    with pytest.raises(ActionRefused, match="Only owners and admins"):
        do_update_label(
            label, acting_user=cast.teammate, name="Invoices", parent=None, color="#ff0000", visibility="everyone"
        )
    do_update_label(
        label, acting_user=_admin(cast), name="Invoices", parent=None, color="#ff0000", visibility="everyone"
    )
    label.refresh_from_db()
    assert label.visibility == LabelVisibility.EVERYONE


def test_only_owners_and_admins_delete_organization_labels_and_only_its_owner_a_personal_one(cast):
    label = _label(cast, "Billing", acting_user=cast.teammate)
    personal = _label(cast, "Mine", acting_user=cast.teammate, personal=True)

    with pytest.raises(ActionRefused):
        do_delete_label(label, acting_user=cast.teammate)
    with pytest.raises(ActionRefused):
        do_delete_label(personal, acting_user=cast.owner)
    do_delete_label(personal, acting_user=cast.teammate)
    do_delete_label(label, acting_user=_admin(cast))
    assert not Label.objects.filter(organization=cast.org).exists()


def test_deleting_a_label_deletes_its_sublabels_and_leaves_the_conversations(cast):
    features = _label(cast, "Features")
    bugs = _label(cast, "Bugs", parent=features)
    _label(cast, "Crashes", parent=bugs)
    conversation = _private(cast)
    do_add_label(conversation, bugs, acting_user=cast.owner)

    assert do_delete_label(features, acting_user=cast.owner) == 3

    assert not Label.objects.filter(organization=cast.org).exists()
    assert _labels_on(conversation) == set()
    assert state_of(conversation, cast.owner) is not None


# Applying and removing -----------------------------------------------------------------------------


def test_adding_a_label_keeps_the_conversation_in_place_and_says_so_in_the_timeline(cast):
    conversation = _team_conversation(cast)
    features = _label(cast, "Features")
    requested = _label(cast, "Requested", parent=features)
    before = state_of(conversation, cast.teammate).location

    assert do_add_label(conversation, requested, acting_user=cast.teammate)
    assert not do_add_label(conversation, requested, acting_user=cast.teammate)  # already there

    assert _labels_on(conversation) == {"Requested"}
    assert state_of(conversation, cast.teammate).location == before
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.LABELED)
    assert event.text == "Tom Teammate added the label Features/Requested"
    assert event.private_to is None


def test_removing_a_label_says_so_in_the_timeline(cast):
    conversation = _team_conversation(cast)
    label = _label(cast, "Billing")
    do_add_label(conversation, label, acting_user=cast.owner)

    assert do_remove_label(conversation, label, acting_user=cast.teammate)
    assert not do_remove_label(conversation, label, acting_user=cast.teammate)

    assert _labels_on(conversation) == set()
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.UNLABELED)
    assert event.text == "Tom Teammate removed the label Billing"


def test_by_default_applying_a_label_gives_nobody_access(cast):
    conversation = _private(cast)

    do_add_label(conversation, _label(cast, "Billing"), acting_user=cast.owner)

    assert list(conversation.states.values_list("user_id", flat=True)) == [cast.owner.id]


def test_auto_shared_users_and_teams_get_access_without_it_entering_their_inbox(cast):
    conversation = _private(cast)
    legal = TeamFactory(organization=cast.org, name="Legal")
    lawyer = UserFactory(name="Lena Lawyer")
    MembershipFactory(organization=cast.org, user=lawyer)
    add_to_team(legal, lawyer)
    label = _label(cast, "Water cooler", auto_share_users=[cast.teammate], auto_share_teams=[legal])

    do_add_label(conversation, label, acting_user=cast.owner)

    for user in (cast.teammate, lawyer):
        state = state_of(conversation, user)
        assert (state.access_source, state.location, state.unread) == (AccessSource.LABEL, Location.NONE, True)
    assert state_of(conversation, cast.observer) is None
    conversation.refresh_from_db()
    assert conversation.is_shared
    shared = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SHARED)
    assert shared.data["target"] == "Lena Lawyer, Tom Teammate"


def test_an_auto_shared_user_who_already_had_access_keeps_their_placement(cast):
    conversation = _team_conversation(cast)
    ConversationState.objects.filter(conversation=conversation, user=cast.teammate).update(location=Location.INBOX)

    do_add_label(conversation, _label(cast, "VIP", auto_share_users=[cast.teammate]), acting_user=cast.owner)

    assert state_of(conversation, cast.teammate).location == Location.INBOX
    assert not ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.SHARED).exists()


def test_removing_the_label_leaves_the_access_it_gave(cast):
    conversation = _private(cast)
    label = _label(cast, "VIP", auto_share_users=[cast.teammate])
    do_add_label(conversation, label, acting_user=cast.owner)

    do_remove_label(conversation, label, acting_user=cast.owner)

    assert state_of(conversation, cast.teammate) is not None


def test_a_personal_label_shares_nothing_and_its_events_are_its_owners_only(cast):
    conversation = _private(cast)
    label = _label(cast, "Later", personal=True)

    do_add_label(conversation, label, acting_user=cast.owner)
    do_remove_label(conversation, label, acting_user=cast.owner)

    events = ConversationEvent.objects.filter(
        conversation=conversation, kind__in=[EventKind.LABELED, EventKind.UNLABELED]
    )
    assert [e.private_to_id for e in events] == [cast.owner.id, cast.owner.id]
    assert list(conversation.states.values_list("user_id", flat=True)) == [cast.owner.id]


def test_nobody_applies_a_label_they_cannot_see_or_to_a_conversation_they_cannot_open(cast):
    conversation = _team_conversation(cast)
    theirs = _label(cast, "Theirs", acting_user=cast.owner, personal=True)
    restricted = _label(cast, "Payroll", visibility=LabelVisibility.RESTRICTED)
    globex = LabelFactory(organization=cast.other_org, name="Globex")

    for label in (theirs, restricted, globex):
        with pytest.raises(ActionRefused):
            do_add_label(conversation, label, acting_user=cast.teammate)
    with pytest.raises(ActionRefused):
        do_add_label(_private(cast), _label(cast, "Billing"), acting_user=cast.teammate)
    assert _labels_on(conversation) == set()


def test_only_organization_labels_announce_a_label_change_to_rules(cast, django_capture_on_commit_callbacks):
    conversation = _private(cast)
    heard = []

    def listener(sender, **kwargs):
        heard.append((kwargs["label_id"], kwargs["added"]))

    label_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            shared = _label(cast, "Billing")
            do_add_label(conversation, shared, acting_user=cast.owner)
            do_add_label(conversation, _label(cast, "Mine", personal=True), acting_user=cast.owner)
            do_remove_label(conversation, shared, acting_user=cast.owner)
    finally:
        label_changed.disconnect(listener)

    assert heard == [(shared.id, True), (shared.id, False)]


def test_the_label_menu_sets_exactly_the_checked_labels_among_those_i_see(cast):
    conversation = _team_conversation(cast)
    billing, bugs = _label(cast, "Billing"), _label(cast, "Bugs")
    hidden = _label(cast, "Payroll", visibility=LabelVisibility.RESTRICTED)
    for label in (billing, hidden):
        do_add_label(conversation, label, acting_user=cast.owner)

    do_set_labels(conversation, [bugs], acting_user=cast.teammate)

    assert _labels_on(conversation) == {"Bugs", "Payroll"}


def test_the_label_menu_creates_a_typed_label_nested_by_its_path(cast):
    conversation = _team_conversation(cast)
    _label(cast, "Features")

    do_set_labels(conversation, [], acting_user=cast.teammate, new_label_name="Features/Requested")

    created = Label.objects.get(name="Requested")
    assert (created.parent.name, created.owner, created.created_by) == ("Features", None, cast.teammate)
    assert _labels_on(conversation) == {"Requested"}
    with pytest.raises(ActionRefused, match="no label Nowhere"):
        do_set_labels(conversation, [], acting_user=cast.teammate, new_label_name="Nowhere/Else")


def test_a_guest_creates_a_personal_label_from_the_menu(cast):
    conversation = _team_conversation(cast)
    do_share_conversation(conversation, acting_user=cast.owner, users=[cast.guest], show_in_inbox=False)

    do_set_labels(conversation, [], acting_user=cast.guest, new_label_name="Follow up")

    assert Label.objects.get(name="Follow up").owner == cast.guest


# Auto-sharing changes later ------------------------------------------------------------------------


def test_newly_auto_shared_people_get_every_conversation_already_labelled(cast):
    label = _label(cast, "VIP")
    first, second = _private(cast, "One"), _private(cast, "Two")
    for conversation in (first, second):
        do_add_label(conversation, label, acting_user=cast.owner)

    do_update_label(
        label, acting_user=cast.owner, name="VIP", parent=None, color="#64748b", auto_share_users=[cast.guest]
    )

    for conversation in (first, second):
        state = state_of(conversation, cast.guest)
        assert (state.access_source, state.location, state.unread) == (AccessSource.LABEL, Location.NONE, False)


def test_new_members_of_an_auto_shared_team_get_the_labelled_conversations(cast):
    legal = TeamFactory(organization=cast.org, name="Legal")
    conversation = _private(cast)
    do_add_label(conversation, _label(cast, "Contracts", auto_share_teams=[legal]), acting_user=cast.owner)

    do_set_team_members(legal, active=[cast.guest.id], observers=[])

    assert state_of(conversation, cast.guest).access_source == AccessSource.LABEL


# The triage endpoint ---------------------------------------------------------------------------------


def test_labelling_from_the_conversation_header(client, cast):
    conversation = _team_conversation(cast)
    label = _label(cast, "Billing")
    login(client, cast.teammate)

    response = _post(client, conversation, "label", label_id=label.id, open=conversation.id)
    assert response.status_code == 200
    assert "added the label Billing" in response.content.decode()
    assert _labels_on(conversation) == {"Billing"}

    response = _post(client, conversation, "unlabel", label_id=label.id, open=conversation.id)
    assert "removed the label Billing" in response.content.decode()
    assert _labels_on(conversation) == set()


@pytest.mark.parametrize("whose", ["other_org", "someone_elses_personal", "restricted"])
def test_a_label_i_cannot_see_is_a_404_and_never_applied(client, cast, whose):
    conversation = _team_conversation(cast)
    label = {
        "other_org": lambda: LabelFactory(organization=cast.other_org),
        "someone_elses_personal": lambda: _label(cast, "Theirs", personal=True),
        "restricted": lambda: _label(cast, "Payroll", visibility=LabelVisibility.RESTRICTED),
    }[whose]()
    login(client, cast.teammate)

    for action, data in (("label", {"label_id": label.id}), ("set_labels", {"label_ids": [label.id]})):
        assert _post(client, conversation, action, **data).status_code == 404
    response = client.post(reverse("bulk_action", args=["label"]), {"ids": [conversation.id], "label_id": label.id})
    assert response.status_code == 404
    assert _labels_on(conversation) == set()


def test_the_menu_apply_adds_checked_and_typed_labels(client, cast):
    conversation = _team_conversation(cast)
    billing = _label(cast, "Billing")
    login(client, cast.teammate)

    response = _post(
        client, conversation, "set_labels", label_ids=[billing.id], new_label="Urgent", open=conversation.id
    )

    assert response.status_code == 200
    assert _labels_on(conversation) == {"Billing", "Urgent"}


def test_bulk_labelling_adds_and_removes_one_label_on_each_selected_conversation(client, cast):
    conversations = [_team_conversation(cast, f"Ticket {n}") for n in range(3)]
    label = _label(cast, "Billing")
    login(client, cast.teammate)
    ids = [c.id for c in conversations]

    response = client.post(reverse("bulk_action", args=["label"]), {"ids": ids, "label_id": label.id})
    assert response.status_code == 302
    assert all(_labels_on(c) == {"Billing"} for c in conversations)

    client.post(reverse("bulk_action", args=["unlabel"]), {"ids": ids[:2], "label_id": label.id})
    assert [_labels_on(c) for c in conversations] == [set(), set(), {"Billing"}]


def test_the_menu_apply_is_for_one_conversation_only(client, cast):
    conversation = _team_conversation(cast)
    login(client, cast.teammate)
    response = client.post(reverse("bulk_action", args=["set_labels"]), {"ids": [conversation.id]})
    assert response.status_code == 404


# The label menus -------------------------------------------------------------------------------------


def test_the_label_menu_lists_recent_labels_first_then_the_tree_checked_where_applied(client, cast):
    conversation = _team_conversation(cast)
    features = _label(cast, "Features")
    requested = _label(cast, "Requested", parent=features)
    _label(cast, "Payroll", visibility=LabelVisibility.RESTRICTED)
    _label(cast, "Theirs", personal=True)
    do_add_label(_team_conversation(cast, "Other"), requested, acting_user=cast.teammate)
    do_add_label(conversation, features, acting_user=cast.teammate)
    login(client, cast.teammate)

    html = client.get(reverse("label_picker", args=[conversation.id])).content.decode()

    assert re.findall(r'data-path="([^"]*)"', html) == [
        "features",
        "features/requested",
        "features",
        "features/requested",
    ]
    assert html.index("Recent") < html.index("All labels")
    assert re.search(rf'value="{features.id}" checked', html)
    assert not re.search(rf'value="{requested.id}" checked', html)
    assert "Payroll" not in html and "Theirs" not in html


def test_the_label_menu_of_a_conversation_i_cannot_open_is_a_404(client, cast):
    conversation = _private(cast)
    login(client, cast.teammate)
    assert client.get(reverse("label_picker", args=[conversation.id])).status_code == 404


def test_the_bulk_label_menu_lists_the_labels_i_see(client, cast):
    _label(cast, "Billing")
    _label(cast, "Theirs", personal=True)
    LabelFactory(organization=cast.other_org, name="Globex")
    login(client, cast.teammate)

    html = client.get(reverse("bulk_label_menu")).content.decode()

    assert re.findall(r'data-path="([^"]*)"', html) == ["billing"]


# Where labels show ---------------------------------------------------------------------------------


def test_the_header_and_the_rows_show_the_labels_i_see(client, cast):
    conversation = _team_conversation(cast)
    features = _label(cast, "Features")
    do_add_label(conversation, _label(cast, "Requested", parent=features), acting_user=cast.owner)
    do_add_label(conversation, _label(cast, "Olivia only", personal=True), acting_user=cast.owner)
    login(client, cast.teammate)

    html = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()

    header = html[html.index('class="conv-labels"') : html.index('data-menu="labels"')]
    assert "Features/Requested" in header
    row = re.search(r'<li id="row-[^"]*".*?</li>', html, re.S).group(0)
    assert '<span class="chip chip-label" style="--chip: #64748b">Features/Requested</span>' in row
    assert "Olivia only" not in html


def test_the_owner_sees_their_personal_label_on_the_row(client, cast):
    conversation = _private(cast)
    do_add_label(conversation, _label(cast, "Later", personal=True, emoji="⏳"), acting_user=cast.owner)
    login(client, cast.owner)

    html = client.get(reverse("mailbox", args=["inbox"])).content.decode()

    assert 'class="chip chip-label chip-personal"' in html
    assert '<span class="chip-emoji">⏳</span>Later' in html


def test_the_sidebar_lists_the_labels_i_see_nested_with_mine_apart(client, cast):
    features = _label(cast, "Features", color="#16a34a")
    _label(cast, "Requested", parent=features)
    _label(cast, "Payroll", visibility=LabelVisibility.RESTRICTED)
    _label(cast, "Later", acting_user=cast.teammate, personal=True)
    _label(cast, "Olivia only", personal=True)
    login(client, cast.teammate)

    response = client.get(reverse("mailbox", args=["inbox"]))

    entry = response.context["sidebar_organizations"][0]
    assert [(e.mailbox.title, e.depth) for e in entry.labels] == [("Features", 0), ("Features/Requested", 1)]
    assert [e.mailbox.title for e in entry.personal_labels] == ["Later"]
    html = response.content.decode()
    assert "My labels" in html and "Payroll" not in html and "Olivia only" not in html
    assert 'style="--chip: #16a34a"' in html


def test_a_label_mailbox_lists_the_labelled_conversations_i_can_open_under_its_path(client, cast):
    features = _label(cast, "Features")
    requested = _label(cast, "Requested", parent=features)
    mine, not_mine = _team_conversation(cast, "Dark mode"), _private(cast, "Secret plan")
    for conversation in (mine, not_mine):
        do_add_label(conversation, requested, acting_user=cast.owner)
    login(client, cast.teammate)

    response = client.get(reverse("label_mailbox", args=[requested.id]))

    assert [row.conversation for row in response.context["rows"]] == [mine]
    assert "Features/Requested — Missive</title>" in response.content.decode()


@pytest.mark.parametrize("whose", ["someone_elses_personal", "restricted"])
def test_a_label_mailbox_i_may_not_see_is_a_404(client, cast, whose):
    label = (
        _label(cast, "Theirs", personal=True)
        if whose == "someone_elses_personal"
        else _label(cast, "Payroll", visibility=LabelVisibility.RESTRICTED)
    )
    login(client, cast.teammate)
    assert client.get(reverse("label_mailbox", args=[label.id])).status_code == 404


def test_search_by_label_knows_only_the_labels_i_see(client, cast):
    conversation = _team_conversation(cast, "Refund please")
    do_add_label(conversation, _label(cast, "Secret", personal=True), acting_user=cast.owner)
    login(client, cast.teammate)

    response = client.get(reverse("mailbox", args=["all"]), {"q": "label:Secret"})

    assert "No label is called" in response.content.decode()


# Settings › Labels ---------------------------------------------------------------------------------


def _settings(org):
    return reverse("settings_labels", args=[org.id])


def test_settings_lists_organization_labels_and_mine_as_trees(client, cast):
    features = _label(cast, "Features", description="Ideas from customers")
    _label(cast, "Requested", parent=features)
    _label(cast, "Later", acting_user=cast.teammate, personal=True)
    _label(cast, "Olivia only", personal=True)
    login(client, cast.teammate)

    response = client.get(_settings(cast.org))

    assert [r["node"].path for r in response.context["organization_rows"]] == ["Features", "Features/Requested"]
    assert [r["node"].path for r in response.context["personal_rows"]] == ["Later"]
    html = response.content.decode()
    assert "Ideas from customers" in html and "Olivia only" not in html
    assert re.search(rf'<optgroup label="Organization labels">\s*<option value="{features.id}">Features</option>', html)
    assert '<optgroup label="My labels">' in html
    assert f'href="{_settings(cast.org)}"' in html  # the settings navigation links here


def test_creating_a_label_from_settings(client, cast):
    features = _label(cast, "Features")
    login(client, cast.teammate)

    response = client.post(
        reverse("settings_label_create", args=[cast.org.id]),
        {
            "kind": "organization",
            "name": " Requested ",
            "color": "#2563EB",
            "parent": str(features.id),
            "emoji": "🙋",
            "visibility": "restricted",
            "auto_share_users": [cast.observer.id],
        },
    )

    assert response.status_code == 302
    label = Label.objects.get(name="Requested")
    assert (label.parent, label.color, label.emoji, label.visibility) == (features, "#2563eb", "🙋", "restricted")
    assert list(label.auto_share_users.all()) == [cast.observer]


def test_a_personal_label_from_settings_ignores_sharing(client, cast):
    login(client, cast.teammate)

    client.post(
        reverse("settings_label_create", args=[cast.org.id]),
        {
            "kind": "personal",
            "name": "Read later",
            "color": "#64748b",
            "visibility": "restricted",
            "auto_share_users": [cast.observer.id],
        },
    )

    label = Label.objects.get(name="Read later")
    assert (label.owner, label.visibility, list(label.auto_share_users.all())) == (cast.teammate, "everyone", [])


def test_an_invalid_label_shows_its_errors_inline(client, cast):
    _label(cast, "Billing")
    login(client, cast.teammate)

    response = client.post(
        reverse("settings_label_create", args=[cast.org.id]),
        {"kind": "organization", "name": "billing", "color": "blue", "visibility": "everyone"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="label-form",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # only the form's partial
    assert "Pick a color such as" in html
    assert Label.objects.filter(organization=cast.org).count() == 1


def test_a_duplicate_name_is_shown_on_the_name_field(client, cast):
    _label(cast, "Billing")
    login(client, cast.teammate)

    response = client.post(
        reverse("settings_label_create", args=[cast.org.id]),
        {"kind": "organization", "name": "billing", "color": "#000000", "visibility": "everyone"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="label-form",
    )

    assert response.context["form"].errors["name"] == ["There is already a label named billing at the top level."]


def test_a_guest_may_only_create_personal_labels_in_settings(client, cast):
    login(client, cast.guest)

    response = client.post(
        reverse("settings_label_create", args=[cast.org.id]),
        {"kind": "organization", "name": "Guest org label", "color": "#000000", "visibility": "everyone"},
    )

    assert response.status_code == 200
    assert "kind" in response.context["form"].errors
    assert not Label.objects.filter(name="Guest org label").exists()


def test_a_member_edits_a_label_but_its_sharing_stays_as_admins_set_it(client, cast):
    label = _label(cast, "Billing", visibility=LabelVisibility.RESTRICTED, auto_share_users=[cast.teammate])
    login(client, cast.teammate)
    assert client.get(reverse("settings_label", args=[cast.org.id, label.id])).status_code == 200

    response = client.post(
        reverse("settings_label_update", args=[cast.org.id, label.id]),
        {"name": "Invoices", "color": "#ff0000", "visibility": "everyone", "auto_share_users": []},
    )

    assert response.status_code == 302
    label.refresh_from_db()
    assert (label.name, label.color, label.visibility) == ("Invoices", "#ff0000", "restricted")
    assert list(label.auto_share_users.all()) == [cast.teammate]


def test_an_admin_changes_a_labels_sharing_in_settings(client, cast):
    label = _label(cast, "Billing")
    login(client, cast.owner)

    client.post(
        reverse("settings_label_update", args=[cast.org.id, label.id]),
        {"name": "Billing", "color": "#64748b", "visibility": "restricted", "auto_share_users": [cast.teammate.id]},
    )

    label.refresh_from_db()
    assert label.visibility == "restricted"
    assert list(label.auto_share_users.all()) == [cast.teammate]


def test_deleting_from_settings_is_for_owners_and_admins(client, cast):
    label = _label(cast, "Billing")
    login(client, cast.teammate)
    assert client.post(reverse("settings_label_delete", args=[cast.org.id, label.id])).status_code == 403
    assert (
        "Delete"
        not in client.get(_settings(cast.org)).content.decode().split("organization-labels")[1].split("</ul>")[0]
    )
    client.logout()
    login(client, cast.owner)

    response = client.post(reverse("settings_label_delete", args=[cast.org.id, label.id]))

    assert response.status_code == 302
    assert not Label.objects.filter(id=label.id).exists()


def test_someone_elses_personal_label_is_a_404_in_settings(client, cast):
    label = _label(cast, "Theirs", personal=True)
    login(client, cast.teammate)

    for url in (
        reverse("settings_label", args=[cast.org.id, label.id]),
        reverse("settings_label_update", args=[cast.org.id, label.id]),
        reverse("settings_label_delete", args=[cast.org.id, label.id]),
    ):
        method = client.get if url.endswith(f"{label.id}/") else client.post
        assert method(url).status_code == 404
    assert Label.objects.filter(id=label.id, name="Theirs").exists()


def test_the_edit_form_loads_in_place_with_htmx(client, cast):
    label = _label(cast, "Billing")
    login(client, cast.teammate)

    response = client.get(
        reverse("settings_label", args=[cast.org.id, label.id]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="label-form"
    )

    html = response.content.decode()
    assert "<html" not in html
    assert "Edit label" in html and 'value="Billing"' in html
    assert "disabled" in html  # the sharing fields, for a member
