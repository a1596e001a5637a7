"""List rows: loaded in a fixed number of queries and rendered with every value escaped."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.actions import do_assign_conversation
from conversations.mailboxes import personal_mailbox, team_mailbox
from conversations.models import ConversationLabel, ConversationState
from conversations.rows import load_rows, render_row
from tests.factories import LabelFactory, receive

pytestmark = pytest.mark.django_db


def _rows(cast, user, mailbox):
    return load_rows(mailbox.states(user).order_by("-last_activity_at", "-id"))


def test_rows_load_in_one_query_whatever_their_labels_and_assignees(cast):
    label = LabelFactory(organization=cast.org, name="VIP")
    for n in range(4):
        conversation = receive(cast.support_account, subject=f"Broken {n}").conversation
        ConversationLabel.objects.create(organization=cast.org, conversation=conversation, label=label)
        do_assign_conversation(conversation, [cast.teammate, cast.owner], acting_user=cast.owner)
    mailbox = personal_mailbox("all")

    with CaptureQueriesContext(connection) as captured:
        rows = _rows(cast, cast.owner, mailbox)
        html = "".join(render_row(row, mailbox=mailbox) for row in rows)

    assert len(rows) == 4 and len(captured) == 1
    assert html.count('class="chip chip-label" style="--chip: ') == 4
    assert html.count('<span class="avatar xs"') == 8
    assert html.count(f'title="{cast.teammate.display_name}">') == 4  # in the order they were assigned
    assert html.index(f'title="{cast.teammate.display_name}">') < html.index(f'title="{cast.owner.display_name}">')
    assert html.count(f">{cast.support}</span>") == 4  # the team chip, outside the team's own lists


def test_a_row_escapes_what_senders_write(cast):
    receive(cast.personal_account, subject='<script>alert("x")</script>', from_name="Eve <eve@evil.test>")
    mailbox = personal_mailbox("inbox")

    (row,) = _rows(cast, cast.owner, mailbox)
    html = render_row(row, mailbox=mailbox)

    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "Eve &lt;eve@evil.test&gt;" in html


def test_a_row_shows_its_state_and_links_into_the_mailbox(cast):
    conversation = receive(cast.support_account, subject="Broken widget").conversation
    ConversationState.objects.filter(conversation=conversation, user=cast.owner).update(starred=True, snooze_due=True)
    mailbox = team_mailbox(cast.support, "inbox")

    (row,) = _rows(cast, cast.owner, mailbox)
    opened = render_row(row, mailbox=mailbox, open_id=conversation.id)
    swapped = render_row(row, mailbox=mailbox, oob=True)

    url = f"/teams/{cast.support.id}/inbox/{conversation.id}/"
    assert f'href="{url}" hx-get="{url}"' in opened
    assert 'class="row unread selected shared due"' in opened
    assert 'title="Starred"' in opened
    assert "chip-team" not in opened  # the team's own list does not repeat its name
    assert f'<li id="row-{conversation.id}" hx-swap-oob="outerHTML" class="row unread shared due"' in swapped
