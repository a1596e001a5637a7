"""Co-writing a draft: Yjs updates merged with pycrdt, the body rendered from the merged document,
the relay to the other editors, and who may take part."""

import base64
import json

import pytest
from django.urls import reverse
from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from conversations import cowrite
from conversations.models import Draft, DraftStatus
from tests.conftest import login
from tests.factories import receive

pytestmark = pytest.mark.django_db


def _draft(cast, **fields):
    """A reply draft in Support's inbox: owner, teammate and observer have access."""
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    return Draft.objects.create(organization=cast.org, conversation=conversation, creator=cast.owner, **fields)


def _editor(state: bytes = b"") -> Doc:
    """A client's copy of the document, as TipTap's Collaboration extension keeps it."""
    doc = Doc()
    if state:
        doc.apply_update(state)
    return doc


def _paragraphs(doc: Doc, *texts: str) -> bytes:
    """Append paragraphs; the update they make, as a client would send it."""
    before = doc.get_state()
    fragment = doc.get("default", type=XmlFragment)
    for text in texts:
        fragment.children.append(XmlElement("paragraph", {}, [XmlText(text)]))
    return doc.get_update(before)


def _type_into(doc: Doc, paragraph: int, index: int, text: str, marks=None) -> bytes:
    before = doc.get_state()
    element = doc.get("default", type=XmlFragment).children[paragraph]
    element.children[0].insert(index, text, marks)
    return doc.get_update(before)


def _post(client, draft, update: bytes, **extra):
    body = {"update": base64.b64encode(update).decode(), "client": "c1", **extra}
    return client.post(reverse("draft_sync", args=[draft.id]), json.dumps(body), content_type="application/json")


def _next_notice(pubsub) -> dict:
    for _ in range(10):  # the first message read is the subscription's confirmation
        if (message := pubsub.get_message(timeout=2)) is not None:
            pubsub.close()
            return json.loads(message["data"])
    raise AssertionError("Nothing was published.")


def _started(cast, draft, *texts) -> bytes:
    """The draft's document after its first editor wrote these paragraphs."""
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=_paragraphs(_editor(), *texts))
    draft.refresh_from_db()
    return bytes(draft.ydoc)


# Merging ------------------------------------------------------------------------------------------


def test_two_concurrent_updates_from_two_editors_both_survive(cast):
    draft = _draft(cast)
    state = _started(cast, draft, "Hello Ada,", "Thanks!")
    olivia, tom = _editor(state), _editor(state)
    from_olivia = _type_into(olivia, 0, 10, " good news")
    from_tom = _type_into(tom, 1, 7, " Best, Tom")

    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=from_olivia)
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.teammate, update=from_tom)

    draft.refresh_from_db()
    assert draft.body_html == "<p>Hello Ada, good news</p><p>Thanks! Best, Tom</p>"
    assert draft.version == 3
    assert draft.updated_by == cast.teammate
    # Each editor, given the other's update, reaches the same document as the server.
    olivia.apply_update(from_tom)
    tom.apply_update(from_olivia)
    assert cowrite.render_html(olivia.get_update()) == cowrite.render_html(tom.get_update()) == draft.body_html


def test_concurrent_typing_at_the_same_place_keeps_both_texts(cast):
    draft = _draft(cast)
    state = _started(cast, draft, "Hi")
    olivia, tom = _editor(state), _editor(state)
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.teammate, update=_type_into(tom, 0, 2, " Tom"))
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=_type_into(olivia, 0, 2, " Olivia"))

    draft.refresh_from_db()
    assert " Tom" in draft.body_html and " Olivia" in draft.body_html


def test_a_duplicate_or_stale_update_changes_nothing(cast):
    draft = _draft(cast)
    olivia = _editor()
    first = _paragraphs(olivia, "One")
    second = _type_into(olivia, 0, 3, " two")
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=first)
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=second)
    draft.refresh_from_db()
    version, html = draft.version, draft.body_html

    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=second)  # sent twice
    cowrite.do_apply_draft_update(draft.id, acting_user=cast.teammate, update=first)  # arrives late

    draft.refresh_from_db()
    assert (draft.version, draft.body_html) == (version, html) == (2, "<p>One two</p>")


def test_an_update_whose_history_is_missing_asks_for_the_whole_document(client, cast):
    draft = _draft(cast)
    olivia = _editor()
    _paragraphs(olivia, "One")  # never reached the server
    second = _type_into(olivia, 0, 3, " two")
    login(client, cast.owner)

    response = _post(client, draft, second)

    assert (response.status_code, response.json()) == (409, {"resend": True})
    assert _post(client, draft, olivia.get_update()).status_code == 200
    draft.refresh_from_db()
    assert draft.body_html == "<p>One two</p>"


def test_the_body_is_rendered_from_the_document_as_clean_html(cast):
    draft = _draft(cast)
    doc = _editor()
    fragment = doc.get("default", type=XmlFragment)
    fragment.children.append(XmlElement("heading", {"level": "2"}, [XmlText("Plan")]))
    text = XmlText()
    fragment.children.append(XmlElement("paragraph", {}, [text]))
    text.insert(0, "Read ")
    text.insert(5, "this", {"bold": {}, "italic": {}})
    text.insert(9, " <script>x</script> ", None)
    text.insert(29, "page", {"link": {"href": "javascript:alert(1)"}})
    text.insert(33, " or ")
    text.insert(37, "docs", {"link": {"href": "https://example.com/a?b=1&c=2"}, "underline": {}})
    item = XmlElement("listItem", {}, [XmlElement("paragraph", {}, [XmlText("first")])])
    fragment.children.append(XmlElement("bulletList", {}, [item]))
    quote = XmlElement("blockquote", {}, [XmlElement("paragraph", {}, [])])
    fragment.children.append(quote)
    fragment.children.append(XmlElement("paragraph", {}, [XmlText("a"), XmlElement("hardBreak"), XmlText("b")]))

    cowrite.do_apply_draft_update(draft.id, acting_user=cast.owner, update=doc.get_update())

    draft.refresh_from_db()
    assert draft.body_html == (
        "<h2>Plan</h2>"
        "<p>Read <strong><em>this</em></strong> &lt;script&gt;x&lt;/script&gt; page or "
        '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">'
        "<u>docs</u></a></p>"
        "<ul><li><p>first</p></li></ul>"
        "<blockquote><p><br></p></blockquote>"
        "<p>a<br>b</p>"
    )


def test_the_body_to_send_is_the_starting_html_until_an_editor_writes(cast):
    draft = _draft(cast, body_html="<p>Quoted</p>")
    assert cowrite.draft_body_html(draft) == "<p>Quoted</p>"
    _started(cast, draft, "Written")
    draft.refresh_from_db()
    assert cowrite.draft_body_html(draft) == "<p>Written</p>"


# The protocol -------------------------------------------------------------------------------------


def test_get_returns_the_document_the_starting_html_and_the_editors_colour(client, cast):
    draft = _draft(cast, body_html="<p>Quoted</p>")
    login(client, cast.teammate)

    data = client.get(reverse("draft_sync", args=[draft.id])).json()

    assert data["seed_html"] == "<p>Quoted</p>"
    assert data["user"] == {"name": "Tom Teammate", "color": cowrite.colour_for(cast.teammate.id)}
    assert data["version"] == 0
    state = _started(cast, draft, "Hello")
    data = client.get(reverse("draft_sync", args=[draft.id])).json()
    assert base64.b64decode(data["update"]) == state
    assert data["seed_html"] == ""


def test_post_merges_the_update_and_relays_it_to_the_other_editors_after_commit(
    client, cast, django_capture_on_commit_callbacks
):
    draft = _draft(cast)
    login(client, cast.teammate)
    pubsub = cowrite.live.client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(cowrite.channel(draft.id))
    update = _paragraphs(_editor(), "From Tom")

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, draft, update)

    assert response.json() == {"version": 1}
    notice = _next_notice(pubsub)
    assert notice["kind"] == "update"
    assert base64.b64decode(notice["update"]) == update
    assert (notice["client"], notice["name"], notice["version"]) == ("c1", "Tom Teammate", 1)
    draft.refresh_from_db()
    assert draft.body_html == "<p>From Tom</p>"


def test_a_seed_is_taken_only_while_the_document_is_empty(client, cast):
    draft = _draft(cast, body_html="<p>Quoted</p>")
    login(client, cast.owner)
    assert _post(client, draft, _paragraphs(_editor(), "Quoted"), seed=True).status_code == 200

    late = _post(client, draft, _paragraphs(_editor(), "Quoted"), seed=True)

    assert late.status_code == 409
    draft.refresh_from_db()
    assert base64.b64decode(late.json()["update"]) == bytes(draft.ydoc)
    assert draft.body_html == "<p>Quoted</p>"  # not twice


def test_bytes_that_are_not_an_update_are_refused(client, cast):
    draft = _draft(cast)
    login(client, cast.owner)
    assert _post(client, draft, b"\x05garbage").status_code == 400
    bad = client.post(reverse("draft_sync", args=[draft.id]), "{", content_type="application/json")
    assert bad.status_code == 400
    draft.refresh_from_db()
    assert draft.version == 0


def test_awareness_is_relayed_and_not_stored(client, cast):
    draft = _draft(cast)
    login(client, cast.owner)
    pubsub = cowrite.live.client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(cowrite.channel(draft.id))

    response = client.post(
        reverse("draft_awareness", args=[draft.id]),
        json.dumps({"update": base64.b64encode(b"\x01\x02").decode(), "client": "42"}),
        content_type="application/json",
    )

    assert response.status_code == 204
    notice = _next_notice(pubsub)
    assert (notice["kind"], notice["client"], notice["name"]) == ("awareness", "42", "Olivia Owner")
    draft.refresh_from_db()
    assert draft.version == 0


def test_the_stream_says_ready_once_subscribed_then_relays(client, cast):
    draft = _draft(cast)
    login(client, cast.teammate)
    response = client.get(reverse("draft_stream", args=[draft.id]))
    assert response["Content-Type"] == "text/event-stream"
    events = iter(response.streaming_content)
    assert b'"kind":"ready"' in next(events)

    cowrite.relay(draft.id, {"kind": "update", "update": "AAA=", "client": "c9"})

    assert next(events) == b'data: {"kind":"update","update":"AAA=","client":"c9"}\n\n'
    response.close()


def test_a_saved_header_reaches_the_co_writers_stream(client, cast, django_capture_on_commit_callbacks):
    draft = _draft(cast)
    login(client, cast.teammate)
    response = client.get(reverse("draft_stream", args=[draft.id]))
    events = iter(response.streaming_content)
    assert b'"kind":"ready"' in next(events)

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            reverse("draft_save", args=[draft.id]),
            {
                "fields": ["cc", "subject"],
                "cc": ["Bea Buyer <bea@outside.test>", "ops@acme.test"],
                "subject": "Re: Printer jam (urgent)",
                "client": "composer-7",
            },
        )
    assert saved.status_code == 200

    notice = json.loads(next(events).decode().removeprefix("data: "))
    assert notice == {
        "kind": "fields",
        "fields": {"cc": ["Bea Buyer <bea@outside.test>", "ops@acme.test"], "subject": "Re: Printer jam (urgent)"},
        "client": "composer-7",
        "name": cast.teammate.display_name,
    }
    response.close()


# Who may co-write ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["draft_sync", "draft_awareness", "draft_stream"])
def test_people_without_access_to_the_conversation_get_404(client, cast, name):
    draft = _draft(cast)
    update = base64.b64encode(_paragraphs(_editor(), "x")).decode()
    for person in (cast.guest, cast.outsider):
        login(client, person)
        assert client.get(reverse(name, args=[draft.id])).status_code in (404, 405)
        posted = client.post(reverse(name, args=[draft.id]), {"update": update}, content_type="application/json")
        assert posted.status_code in (404, 405)
    draft.refresh_from_db()
    assert draft.version == 0


def test_a_new_email_draft_is_private_to_its_creator(client, cast):
    conversation = receive(cast.personal_account, subject="Mine").conversation  # the owner's alone
    draft = Draft.objects.create(organization=cast.org, conversation=conversation, creator=cast.owner, kind="new")
    update = _paragraphs(_editor(), "x")

    assert _post(login(client, cast.teammate), draft, update).status_code == 404
    assert _post(login(client, cast.owner), draft, update).status_code == 200


@pytest.mark.parametrize("status", [DraftStatus.SENT, DraftStatus.DISCARDED])
def test_a_sent_or_discarded_draft_can_no_longer_be_written(client, cast, status):
    draft = _draft(cast, status=status)
    login(client, cast.owner)
    assert client.get(reverse("draft_sync", args=[draft.id])).json() == {"closed": True}
    body_before = draft.body_html
    # Keystrokes still in flight when the draft was sent or discarded are answered "closed" and
    # change nothing; an editor closing says goodbye to nobody, quietly. Others still get a 404.
    late = _post(client, draft, _paragraphs(_editor(), "x"))
    assert (late.status_code, late.json()) == (200, {"closed": True})
    draft.refresh_from_db()
    assert (draft.status, draft.body_html, draft.version) == (status, body_before, 0)
    awareness = reverse("draft_awareness", args=[draft.id])
    goodbye = json.dumps({"update": base64.b64encode(b"\x00").decode(), "client": "c1"})
    assert client.post(awareness, goodbye, content_type="application/json").status_code == 204
    # A stream opened just too late gets 204, which tells EventSource not to reconnect.
    assert client.get(reverse("draft_stream", args=[draft.id])).status_code == 204
    login(client, cast.outsider)
    assert client.get(reverse("draft_stream", args=[draft.id])).status_code == 404
    assert _post(client, draft, _paragraphs(_editor(), "x")).status_code == 404
    assert client.post(awareness, goodbye, content_type="application/json").status_code == 404


def test_a_scheduled_draft_can_still_be_written(client, cast):
    draft = _draft(cast, status=DraftStatus.SCHEDULED)
    assert _post(login(client, cast.owner), draft, _paragraphs(_editor(), "x")).status_code == 200


def test_signed_out_visitors_are_refused(client, cast):
    draft = _draft(cast)
    assert client.get(reverse("draft_sync", args=[draft.id])).status_code == 302
    assert client.get(reverse("draft_stream", args=[draft.id])).status_code == 403
