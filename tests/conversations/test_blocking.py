"""Spam and blocking: blocked senders' next mail goes to Spam; not spam lifts the block."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from conversations.actions import ActionRefused, BlockChoice, do_mark_not_spam, do_mark_spam
from conversations.models import AccessSource, BlockedSender, ConversationState, Location
from inboxes.actions import do_remove_member
from inboxes.models import Membership
from tests.factories import receive


def placement(conversation, user):
    return ConversationState.objects.get(conversation=conversation, user=user).location


def test_blocking_an_address_sends_its_next_mail_to_spam(cast):
    first = receive(cast.personal_account, sender="pest@spammy.test").conversation

    do_mark_spam(first, acting_user=cast.owner, block=BlockChoice.ADDRESS)
    again = receive(cast.personal_account, sender="pest@spammy.test", subject="Again").conversation
    other = receive(cast.personal_account, sender="friend@spammy.test", subject="Hi").conversation

    assert placement(again, cast.owner) == Location.SPAM
    assert placement(other, cast.owner) == Location.INBOX


def test_blocking_a_domain_catches_every_address_there(cast):
    first = receive(cast.support_account, sender="a@spammy.test").conversation

    do_mark_spam(first, acting_user=cast.owner, from_team_inbox=True, block=BlockChoice.DOMAIN)
    again = receive(cast.support_account, sender="b@spammy.test", subject="Other").conversation

    again.refresh_from_db()
    assert again.is_spam and not again.in_team_inbox
    assert placement(again, cast.teammate) == Location.SPAM


def test_domains_of_public_email_providers_cannot_be_blocked(cast):
    conversation = receive(cast.personal_account, sender="someone@gmail.com").conversation

    with pytest.raises(ActionRefused, match="public email provider"):
        do_mark_spam(conversation, acting_user=cast.owner, block=BlockChoice.DOMAIN)
    assert not BlockedSender.objects.exists()


def test_not_spam_unblocks_the_sender_for_everyone(cast):
    first = receive(cast.support_account, sender="pest@spammy.test").conversation
    do_mark_spam(first, acting_user=cast.owner, from_team_inbox=True, block=BlockChoice.ADDRESS)
    again = receive(cast.support_account, sender="pest@spammy.test", subject="Again").conversation

    do_mark_not_spam(again, acting_user=cast.teammate)
    third = receive(cast.support_account, sender="pest@spammy.test", subject="Third").conversation

    assert not BlockedSender.objects.exists()
    third.refresh_from_db()
    assert not third.is_spam and third.in_team_inbox


def test_organization_blocks_outlive_the_member_who_made_them(cast):
    conversation = receive(cast.support_account, sender="pest@spammy.test").conversation
    do_mark_spam(conversation, acting_user=cast.teammate, from_team_inbox=True, block=BlockChoice.ADDRESS)
    acting = Membership.objects.get(organization=cast.org, user=cast.owner)

    do_remove_member(Membership.objects.get(organization=cast.org, user=cast.teammate), acting=acting)

    block = BlockedSender.objects.get()
    assert block.user is None and block.address == "pest@spammy.test"


def test_personal_blocks_belong_to_their_maker(cast):
    conversation = receive(cast.personal_account, sender="pest@spammy.test").conversation

    do_mark_spam(conversation, acting_user=cast.owner, block=BlockChoice.ADDRESS)

    assert BlockedSender.objects.get().user == cast.owner


def test_access_through_a_mention_does_not_allow_marking_spam(client, cast):
    conversation = receive(cast.personal_account, sender="pest@spammy.test").conversation
    ConversationState.objects.create(
        organization=cast.org, conversation=conversation, user=cast.teammate, access_source=AccessSource.MENTION
    )

    with pytest.raises(PermissionDenied):
        do_mark_spam(conversation, acting_user=cast.teammate)
    from tests.conftest import login

    login(client, cast.teammate)
    response = client.post(
        reverse("conversation_action", args=[conversation.id, "spam"]),
        {"return_to": "/m/inbox/"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="workspace",
    )
    assert response.status_code == 403
    assert placement(conversation, cast.teammate) != Location.SPAM


def test_the_spam_menu_offers_blocking_the_sender(owner_client, cast):
    conversation = receive(cast.personal_account, sender="pest@spammy.test").conversation
    webmail = receive(cast.personal_account, sender="x@gmail.com", subject="Webmail").conversation

    page = owner_client.get(reverse("conversation", args=["inbox", conversation.id])).content.decode()
    webmail_page = owner_client.get(reverse("conversation", args=["inbox", webmail.id])).content.decode()

    assert "Block pest@spammy.test" in page and "Block everyone at spammy.test" in page
    assert "Block x@gmail.com" in webmail_page and "Block everyone at gmail.com" not in webmail_page
