"""Posts in the conversation timeline: escaped text, Markdown made safe, cards with web links only."""

from __future__ import annotations

from conversations.integrations import do_create_post, markdown_html
from conversations.models import ConversationState
from tests.conftest import login
from tests.factories import receive


def test_markdown_is_rendered_and_raw_html_is_not():
    html = markdown_html("**Deployed** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>Deployed</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "href" not in html


def test_a_post_shows_in_the_timeline_escaped_with_its_card(cast, client):
    conversation = receive(cast.personal_account).conversation
    do_create_post(
        conversation,
        author=cast.owner,
        username="GitHub <bot>",
        text="Pushed <b>3</b> commits",
        markdown="_main_ is **green**",
        attachments=[
            {
                "title": "PR #7",
                "title_link": "javascript:alert(1)",
                "author_name": "octocat",
                "author_link": "https://github.com/octocat",
                "fields": [{"title": "Status", "value": "merged", "short": True}],
            }
        ],
    )
    page = login(client, cast.owner).get(f"/m/all/{conversation.id}/").content.decode()
    assert "GitHub &lt;bot&gt;" in page
    assert "Pushed &lt;b&gt;3&lt;/b&gt; commits" in page
    assert "<em>main</em> is <strong>green</strong>" in page
    assert 'href="https://github.com/octocat"' in page
    assert "<strong>PR #7</strong>" in page and 'href="javascript' not in page
    assert "<dt>Status</dt><dd>merged</dd>" in page


def test_a_post_turns_the_conversation_unread_for_the_others(cast):
    conversation = receive(cast.support_account).conversation
    ConversationState.objects.filter(conversation=conversation).update(unread=False)
    do_create_post(conversation, author=cast.owner, text="Shipped")
    assert ConversationState.objects.get(conversation=conversation, user=cast.teammate).unread
    assert not ConversationState.objects.get(conversation=conversation, user=cast.owner).unread
