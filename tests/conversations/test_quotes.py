"""Quoting a comment or a message in a comment: in the same conversation, or carried to another
conversation with a link back to the original (seed: Comments FAQ), only from what the author
can see, and kept as written when the original changes."""

import pytest
from django.urls import reverse

from conversations.actions import (
    ActionRefused,
    do_delete_comment,
    do_edit_comment,
    do_post_comment,
    do_share_conversation,
)
from conversations.models import Comment, CommentQuote
from inboxes.models import Role
from tests.conftest import login
from tests.factories import MembershipFactory, receive

pytestmark = pytest.mark.django_db


def _post(client, conversation, **data):
    url = reverse("conversation_action", args=[conversation.id, "comment"])
    return client.post(url, {"return_to": "/m/all/", **data}, headers={"HX-Request": "true"})


def _page(client, conversation):
    return client.get(reverse("conversation", args=["all", conversation.id])).content.decode()


def test_quoting_a_comment_in_its_own_conversation(client, cast):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    original = do_post_comment(conversation, author=cast.teammate, body="The fuser is *broken*")
    login(client, cast.owner)

    response = _post(client, conversation, body="Ordering one", quote=f"comment:{original.id}")

    reply = Comment.objects.get(body="Ordering one")
    quote = CommentQuote.objects.get(comment=reply)
    assert (quote.author_name, quote.excerpt, quote.source_comment, quote.source_conversation) == (
        "Tom Teammate",
        "The fuser is *broken*",
        original,
        conversation,
    )
    assert quote.quoted_at == original.created_at and quote.organization_id == cast.org.id
    page = response.content.decode()
    assert '<span class="comment-quote-author">Tom Teammate</span>' in page
    assert f'href="#comment-{original.id}">earlier in this conversation</a>' in page
    assert "The fuser is <strong>broken</strong>" in page


def test_a_comment_quoted_in_another_conversation_links_back_to_the_original(client, cast):
    source = receive(cast.support_account, subject="Printer jam").conversation
    target = receive(cast.support_account, subject="Office supplies").conversation
    original = do_post_comment(source, author=cast.teammate, body="Toner runs out every week")
    login(client, cast.owner)

    _post(client, target, body="Same problem as here", quote=f"comment:{original.id}")

    page = _page(client, target)
    link = reverse("conversation", args=["all", source.id]) + f"#comment-{original.id}"
    assert f'<a class="comment-quote-link" href="{link}">in Printer jam</a>' in page
    assert "Toner runs out every week" in page


def test_readers_without_access_to_the_original_get_the_words_but_no_link(client, cast):
    private = receive(cast.personal_account, subject="Salary talk").conversation
    shared = receive(cast.support_account, subject="Team news").conversation
    original = do_post_comment(private, author=cast.owner, body="Approved for March")
    do_post_comment(shared, author=cast.owner, body="Good news", quote=original)
    login(client, cast.teammate)

    page = _page(client, shared)

    assert "Approved for March" in page, "the author chose to share these words"
    assert "in a conversation you cannot open" in page
    assert "Salary talk" not in page and str(private.id) not in page


def test_quoting_a_message_quotes_its_own_text_without_the_quoted_history(client, cast):
    message = receive(
        cast.support_account,
        subject="Refund",
        body="Please refund order 42.\nThanks, Ann\n\nOn Mon, Bob wrote:\n> old stuff\n> more",
        from_name="Ann Buyer",
    )
    target = receive(cast.support_account, subject="Refunds this week").conversation
    login(client, cast.owner)

    chip = client.get(reverse("quote_chip", args=["message", message.id])).content.decode()
    assert f'name="quote" value="message:{message.id}"' in chip and "Ann Buyer" in chip and "Refund" in chip
    _post(client, target, body="One more", quote=f"message:{message.id}")

    quote = CommentQuote.objects.get()
    assert quote.excerpt == "Please refund order 42.\nThanks, Ann"
    assert (quote.author_name, quote.source_message, quote.quoted_at) == ("Ann Buyer", message, message.sent_at)
    link = reverse("conversation", args=["all", message.conversation_id]) + f"#message-{message.id}"
    assert link in _page(client, target)


def test_a_quote_alone_can_be_posted(cast):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    original = do_post_comment(conversation, author=cast.teammate, body="Look at this")

    reply = do_post_comment(conversation, author=cast.owner, body="", quote=original)

    assert reply.body == "" and reply.quote.excerpt == "Look at this"


def test_nobody_quotes_what_they_cannot_see(client, cast):
    private = receive(cast.personal_account, subject="Private").conversation
    secret = do_post_comment(private, author=cast.owner, body="secret")
    team = receive(cast.support_account, subject="Printer jam").conversation
    foreign = receive(cast.outsider_account, subject="Globex").conversation
    foreign_comment = do_post_comment(foreign, author=cast.outsider, body="theirs")
    login(client, cast.teammate)

    for ref in [f"comment:{secret.id}", f"comment:{foreign_comment.id}", "comment:nope", f"task:{secret.id}"]:
        refused = _post(client, team, body="look", quote=ref)
        assert "What you quoted is no longer available to you." in refused.content.decode()
    assert not Comment.objects.filter(author=cast.teammate).exists()
    assert client.get(reverse("quote_chip", args=["comment", secret.id])).status_code == 404
    assert client.get(reverse("quote_chip", args=["comment", foreign_comment.id])).status_code == 404
    assert client.get(reverse("quote_chip", args=["task", secret.id])).status_code == 404
    with pytest.raises(ActionRefused):
        do_post_comment(team, author=cast.teammate, body="look", quote=secret)


def test_quotes_never_cross_organizations(cast):
    """Someone in two organizations cannot carry one's words into the other."""
    MembershipFactory(organization=cast.other_org, user=cast.owner, role=Role.MEMBER)
    ours = receive(cast.support_account, subject="Ours").conversation
    ours_comment = do_post_comment(ours, author=cast.owner, body="internal")
    theirs = receive(cast.outsider_account, subject="Theirs").conversation
    do_share_conversation(theirs, acting_user=cast.outsider, users=[cast.owner], show_in_inbox=True)

    with pytest.raises(ActionRefused, match="not available here"):
        do_post_comment(theirs, author=cast.owner, body="fyi", quote=ours_comment)


def test_the_quote_stays_as_written_when_the_original_changes_or_goes(client, cast):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    original = do_post_comment(conversation, author=cast.teammate, body="First words")
    reply = do_post_comment(conversation, author=cast.owner, body="Agreed", quote=original)

    do_edit_comment(conversation, str(original.id), acting_user=cast.teammate, body="Other words")
    do_delete_comment(conversation, str(original.id), acting_user=cast.teammate)

    quote = CommentQuote.objects.get(comment=reply)
    assert quote.excerpt == "First words" and quote.source_comment is None
    login(client, cast.owner)
    page = _page(client, conversation)
    assert "First words" in page and "earlier in this conversation" not in page


def test_quoted_words_are_escaped(client, cast):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    original = do_post_comment(conversation, author=cast.teammate, body="<script>alert(1)</script>")
    login(client, cast.owner)

    chip = client.get(reverse("quote_chip", args=["comment", original.id])).content.decode()
    _post(client, conversation, body="hm", quote=f"comment:{original.id}")

    assert "<script>alert(1)" not in chip and "&lt;script&gt;alert(1)" in chip
    assert _page(client, conversation).count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def test_every_comment_offers_quote_in_its_menu_and_every_message_a_quote_button(client, cast):
    message = receive(cast.support_account, subject="Printer jam")
    comment = do_post_comment(message.conversation, author=cast.owner, body="mine")
    login(client, cast.teammate)

    page = _page(client, message.conversation)

    assert f'data-quote-url="{reverse("quote_chip", args=["comment", comment.id])}">Quote</button>' in page
    assert f'data-quote-url="{reverse("quote_chip", args=["message", message.id])}"' in page
    assert "data-edit-comment" not in page and "delete_comment" not in page, "Quote only, for someone else's"
