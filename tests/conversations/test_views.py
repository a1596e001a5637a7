"""The inbox screen: mailboxes, the conversation view, HTMX partials, access and query counts."""

import json
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import search_index
from conversations.actions import do_assign_conversation
from conversations.incoming import IncomingAttachment
from conversations.models import ConversationLabel, ConversationState
from inboxes.models import Team
from tests.conftest import login
from tests.factories import LabelFactory, receive


def _queries(client, url, **headers):
    """Queries for one page view with a cold counts cache (the worst case)."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(captured)


def test_home_redirects_to_inbox(owner_client):
    assert owner_client.get("/").url == reverse("mailbox", args=["inbox"])


def test_login_is_required(client, cast):
    response = client.get(reverse("mailbox", args=["inbox"]))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_inbox_lists_personal_mail_but_not_team_inbox_mail(owner_client, cast):
    receive(cast.personal_account, subject="Lunch on Thursday?")
    receive(cast.support_account, subject="Broken widget")

    page = owner_client.get(reverse("mailbox", args=["inbox"])).content.decode()

    assert "Lunch on Thursday?" in page
    assert "Broken widget" not in page


def test_team_inbox_shows_unassigned_team_conversations_to_observers_too(client, cast):
    receive(cast.support_account, subject="Broken widget")
    assigned = receive(cast.support_account, subject="Already taken").conversation
    do_assign_conversation(assigned, [cast.teammate], acting_user=cast.owner)
    login(client, cast.observer)

    page = client.get(reverse("team_mailbox", args=[cast.support.id, "inbox"])).content.decode()
    assigned_page = client.get(reverse("team_mailbox", args=[cast.support.id, "assigned"])).content.decode()

    assert "Broken widget" in page and "Already taken" not in page
    assert "Already taken" in assigned_page


def test_team_inboxes_mailbox_leaves_out_teams_the_user_only_observes(client, cast):
    receive(cast.support_account, subject="Broken widget")

    login(client, cast.teammate)
    assert "Broken widget" in client.get(reverse("mailbox", args=["team-inboxes"])).content.decode()
    client.logout()
    login(client, cast.observer)
    assert "Broken widget" not in client.get(reverse("mailbox", args=["team-inboxes"])).content.decode()


def test_sidebar_counts_unread_in_inbox_and_team_inboxes(owner_client, cast):
    receive(cast.personal_account, subject="one")
    receive(cast.personal_account, subject="two")
    receive(cast.support_account, subject="three")

    response = owner_client.get(reverse("mailbox", args=["all"]))

    assert response.context["sidebar_counts"]["inbox"] == 2
    assert response.context["sidebar_counts"]["team-inboxes"] == 1
    support = response.context["sidebar_organizations"][0].teams[0]
    assert support.team == cast.support and support.unread == 1


def test_a_team_shown_as_its_inbox_only_leaves_its_tasks_and_room_out_of_the_sidebar(owner_client, cast):
    receive(cast.support_account, subject="three")
    tasks_url = reverse("team_tasks", args=[cast.support.id])
    team_link = f'data-team="{cast.support.id}"'

    space = owner_client.get(reverse("mailbox", args=["all"])).content.decode()
    assert '<details class="nav-team"' in space and tasks_url in space and team_link in space

    Team.objects.filter(id=cast.support.id).update(show_team_space=False)
    cache.clear()
    inbox_only = owner_client.get(reverse("mailbox", args=["all"])).content.decode()
    assert '<details class="nav-team"' not in inbox_only and tasks_url not in inbox_only
    link = re.search(rf'<a class="nav-item[^"]*" href="([^"]+)"[^>]*{team_link}>(.*?)</a>', inbox_only)
    assert link is not None, "the team is one link, to its inbox"
    assert link.group(1) == reverse("team_mailbox", args=[cast.support.id, "inbox"])
    assert cast.support.name in link.group(2) and '<span class="nav-count">1</span>' in link.group(2)


def test_sidebar_counts_are_cached_between_page_views(owner_client, cast):
    receive(cast.personal_account, subject="one")
    url = reverse("mailbox", args=["inbox"])
    cold = _queries(owner_client, url)
    with CaptureQueriesContext(connection) as warm:
        owner_client.get(url)

    assert len(warm) < cold
    assert not any("COUNT" in q["sql"] for q in warm.captured_queries)


def test_label_mailbox_lists_labelled_conversations(owner_client, cast):
    label = LabelFactory(organization=cast.org, name="VIP")
    conversation = receive(cast.personal_account, subject="Big customer").conversation
    receive(cast.personal_account, subject="Small talk")
    ConversationLabel.objects.create(organization=cast.org, conversation=conversation, label=label)

    page = owner_client.get(reverse("label_mailbox", args=[label.id])).content.decode()

    assert "Big customer" in page and "Small talk" not in page


def test_search_filters_within_the_mailbox(owner_client, cast):
    receive(cast.personal_account, subject="Invoice overdue")
    receive(cast.personal_account, subject="Party")
    search_index.index_backlog()  # what the worker does after each delivery

    page = owner_client.get(reverse("mailbox", args=["inbox"]), {"q": "invoice"}).content.decode()

    assert "Invoice overdue" in page and "Party" not in page


def test_opening_a_conversation_marks_it_read_for_me_only(client, cast):
    conversation = receive(cast.support_account, subject="Broken widget").conversation
    login(client, cast.owner)

    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()

    assert "Broken widget" in page and "Hi there" in page
    assert not ConversationState.objects.get(conversation=conversation, user=cast.owner).unread
    assert ConversationState.objects.get(conversation=conversation, user=cast.teammate).unread


def test_deep_link_renders_the_full_page_and_htmx_gets_only_the_pane(owner_client, cast):
    conversation = receive(cast.personal_account, subject="Deep").conversation
    url = reverse("conversation", args=["inbox", conversation.id])

    full = owner_client.get(url).content.decode()
    pane = owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-pane").content.decode()
    workspace = owner_client.get(
        reverse("mailbox", args=["all"]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="workspace"
    ).content.decode()

    assert "<html" in full and 'id="sidebar"' in full and "Deep" in full
    assert "<html" not in pane and "Deep" in pane and 'id="sidebar"' not in pane, "the pane alone, no sidebar"
    assert "<html" not in workspace and 'class="list-pane"' in workspace
    assert 'id="sidebar"' in workspace and 'hx-swap-oob="true"' in workspace, "the sidebar follows the mailbox"


def test_opening_an_unread_conversation_asks_the_page_to_refresh_the_counts(owner_client, cast):
    conversation = receive(cast.personal_account, subject="Unread").conversation
    url = reverse("conversation", args=["inbox", conversation.id])

    first = owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-pane")
    second = owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-pane")

    assert json.loads(first.headers["HX-Trigger"]) == {"counts-changed": {}}
    assert "HX-Trigger" not in second.headers


def test_the_sidebar_alone_shows_fresh_counts_for_the_page_it_is_on(owner_client, cast):
    receive(cast.personal_account, subject="one")

    response = owner_client.get(reverse("sidebar"), {"path": "/m/all/"})

    page = response.content.decode()
    assert page.startswith("<nav") or 'id="sidebar"' in page
    assert response.context["sidebar_counts"]["inbox"] == 1
    assert response.context["mailbox"].key == "all"


def test_someone_elses_conversation_is_a_404(client, cast):
    private = receive(cast.personal_account, subject="Private").conversation
    login(client, cast.teammate)

    assert client.get(reverse("conversation", args=["all", private.id])).status_code == 404


def test_team_mailbox_of_a_team_i_am_not_in_is_a_404(client, cast):
    login(client, cast.guest)
    assert client.get(reverse("team_mailbox", args=[cast.support.id, "inbox"])).status_code == 404


def test_unknown_mailbox_is_a_404(owner_client):
    assert owner_client.get("/m/nonsense/").status_code == 404


def test_attachment_downloads_as_attachment_with_nosniff(owner_client, cast):
    html = b"<script>alert(1)</script>"
    message = receive(
        cast.personal_account,
        attachments=[IncomingAttachment(filename="evil.html", content_type="text/html", content=html)],
    )
    attachment = message.attachments.get()

    response = owner_client.get(reverse("attachment_download", args=[attachment.id]))

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == html


def test_attachment_of_a_conversation_i_cannot_see_is_a_404(client, cast):
    message = receive(
        cast.personal_account,
        attachments=[IncomingAttachment(filename="a.txt", content_type="text/plain", content=b"x")],
    )
    login(client, cast.outsider)
    assert client.get(reverse("attachment_download", args=[message.attachments.get().id])).status_code == 404


def test_list_pages_by_last_activity(owner_client, cast, monkeypatch):
    monkeypatch.setattr("conversations.views.PAGE_SIZE", 3)
    for n in range(5):
        receive(cast.personal_account, subject=f"Message {n}")
    url = reverse("mailbox", args=["inbox"])

    first = owner_client.get(url)
    subjects = [row.conversation.subject for row in first.context["rows"]]
    more = owner_client.get(
        url, {"before": first.context["next_before"]}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-more"
    )
    # (A partial's response has no template context: the page is read from its markup.)
    rest = re.findall(r'<div class="row-subject">([^<]*)</div>', more.content.decode())

    assert subjects == ["Message 4", "Message 3", "Message 2"]
    assert rest == ["Message 1", "Message 0"] and 'id="list-more"' not in more.content.decode()


def _fill(cast, count, label):
    for n in range(count):
        conversation = receive(cast.support_account, subject=f"Team {n}").conversation
        receive(
            cast.personal_account,
            subject=f"Personal {n}",
            attachments=[IncomingAttachment(filename="f.txt", content_type="text/plain", content=b"x")],
        )
        ConversationLabel.objects.create(organization=cast.org, conversation=conversation, label=label)
        do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)


def test_team_lists_page_by_last_activity_too(owner_client, cast, monkeypatch):
    monkeypatch.setattr("conversations.views.PAGE_SIZE", 3)
    for n in range(5):
        receive(cast.support_account, subject=f"Ticket {n}")
    url = reverse("team_mailbox", args=[cast.support.id, "inbox"])

    first = owner_client.get(url)
    more = owner_client.get(
        url, {"before": first.context["next_before"]}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-more"
    )

    assert [row.conversation.subject for row in first.context["rows"]] == ["Ticket 4", "Ticket 3", "Ticket 2"]
    assert re.findall(r'<div class="row-subject">([^<]*)</div>', more.content.decode()) == ["Ticket 1", "Ticket 0"]


@pytest.mark.parametrize("mailbox", ["inbox", "all", "assigned", "team-inboxes", "archive"])
def test_mailbox_list_runs_a_fixed_number_of_queries(client, cast, mailbox):
    label = LabelFactory(organization=cast.org)
    login(client, cast.teammate)
    url = reverse("mailbox", args=[mailbox])
    _fill(cast, 2, label)
    few = _queries(client, url)
    _fill(cast, 12, label)
    many = _queries(client, url)

    assert few == many
    assert many <= 12


def test_team_and_label_lists_run_a_fixed_number_of_queries(client, cast):
    label = LabelFactory(organization=cast.org)
    login(client, cast.owner)
    urls = [reverse("team_mailbox", args=[cast.support.id, key]) for key in ("inbox", "assigned", "all")]
    urls.append(reverse("label_mailbox", args=[label.id]))
    _fill(cast, 2, label)
    few = [_queries(client, url) for url in urls]
    _fill(cast, 12, label)
    many = [_queries(client, url) for url in urls]

    assert few == many


def test_conversation_view_runs_a_fixed_number_of_queries(client, cast):
    login(client, cast.owner)

    def conversation_with(n):
        first = receive(cast.support_account, subject="Thread", rfc_message_id=f"<{n}-0@x.test>")
        for i in range(1, n):
            receive(
                cast.support_account,
                rfc_message_id=f"<{n}-{i}@x.test>",
                in_reply_to=f"<{n}-{i - 1}@x.test>",
                sender=f"person{i}@x.test",
                attachments=[IncomingAttachment(filename=f"{i}.txt", content_type="text/plain", content=b"x")],
            )
        do_assign_conversation(first.conversation, [cast.teammate, cast.observer], acting_user=cast.owner)
        return reverse("conversation", args=["all", first.conversation_id])

    small, large = conversation_with(2), conversation_with(15)
    # Opening marks read (a write); measure on a second visit so both are read-only.
    _queries(client, small)
    _queries(client, large)

    assert _queries(client, small) == _queries(client, large)
    assert _queries(client, large, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-pane") <= 20
