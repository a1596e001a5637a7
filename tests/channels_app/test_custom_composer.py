"""The composer offers only what a custom channel allows (features-2 "Custom channels" rule): its
From only for new messages when "Allow sending new messages" is on, a To row only (the webhook has
no Cc or Bcc) with the channel's enabled recipient fields, locked on a reply the channel keeps."""

from __future__ import annotations

import pytest
from django.urls import reverse

from channels_app.models import CustomChannelConfig
from conversations.actions import ActionRefused
from conversations.drafts import do_start_draft, do_start_new_email, do_update_draft
from conversations.models import DraftKind, Message
from conversations.sending import do_send_draft
from inboxes.models import Alias
from tests.channels_app.test_custom_channel import _client, _message_in, api_as, channel  # noqa: F401 - fixtures


def _composer(user, draft) -> str:
    response = _client(user).get(reverse("draft_composer", args=[draft.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_new_message_from_is_offered_only_when_the_channel_allows_new_messages(cast, channel):  # noqa: F811
    aliases = list(Alias.objects.filter(account=channel))
    draft = do_start_new_email(cast.org, acting_user=cast.owner)
    CustomChannelConfig.objects.filter(account=channel).update(allow_new_messages=False)
    page = _composer(cast.owner, draft)
    assert aliases and not any(f'value="{alias.id}"' in page for alias in aliases)

    CustomChannelConfig.objects.filter(account=channel).update(allow_new_messages=True)
    page = _composer(cast.owner, draft)
    assert all(f'value="{alias.id}"' in page for alias in aliases)


def test_reply_offers_only_the_to_row_with_the_channels_recipient_fields(cast, api_as, channel):  # noqa: F811
    conversation = _message_in(api_as, cast.owner, channel)
    CustomChannelConfig.objects.filter(account=channel).update(
        allow_edit_recipients=True, allow_recipient_id=False, allow_recipient_name=True, allow_recipient_username=True
    )
    draft = do_start_draft(conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    page = _composer(cast.owner, draft)
    assert 'data-recipients="to"' in page
    assert 'data-recipients="cc"' not in page and 'data-recipients="bcc"' not in page
    assert 'data-show-row="cc"' not in page
    assert 'placeholder="Name or username"' in page and 'class="chip-remove"' in page
    # A reply from the same channel in the existing conversation keeps its From even with new
    # messages off: only new conversations lose the channel.
    CustomChannelConfig.objects.filter(account=channel).update(allow_new_messages=False)
    assert f'value="{draft.alias_id}" selected' in _composer(cast.owner, draft)


def test_reply_recipients_are_locked_when_the_channel_forbids_editing_them(cast, api_as, channel):  # noqa: F811
    conversation = _message_in(api_as, cast.owner, channel)
    CustomChannelConfig.objects.filter(account=channel).update(allow_edit_recipients=False)
    draft = do_start_draft(conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    page = _composer(cast.owner, draft)
    assert "does not allow changing the recipients" in page
    assert 'data-chip-field="to"' not in page and 'class="chip-remove"' not in page
    assert 'name="to" value="Ann <@ann>"' in page  # still sent with the draft


def test_an_email_composer_still_offers_to_cc_and_bcc(cast):
    draft = do_start_new_email(cast.org, acting_user=cast.owner)
    page = _composer(cast.owner, draft)
    assert all(f'data-recipients="{row}"' in page for row in ("to", "cc", "bcc"))
    assert 'placeholder="Name or email"' in page


def test_cc_on_a_custom_channel_is_still_refused_at_send_time(cast, api_as, channel):  # noqa: F811
    conversation = _message_in(api_as, cast.owner, channel)
    CustomChannelConfig.objects.filter(account=channel).update(allow_edit_recipients=True, max_recipients=5)
    draft = do_start_draft(conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    do_update_draft(draft, acting_user=cast.owner, fields={"cc": [{"address": "@bob", "username": "@bob"}]})
    with pytest.raises(ActionRefused, match="no Cc or Bcc"):
        do_send_draft(draft, acting_user=cast.owner, delay_seconds=0)
    assert not Message.objects.filter(conversation=conversation, direction="out").exists()
