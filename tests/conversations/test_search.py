"""Search: the query language, every operator and filter, scopes, isolation, ranking, snippets,
pagination, saved and recent searches, and the indexing backlog."""

import html
import random
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from conversations import search_index
from conversations.actions import do_assign_conversation, do_close, do_set_starred, do_snooze, do_trash
from conversations.incoming import IncomingAttachment
from conversations.models import (
    Comment,
    ConversationLabel,
    ConversationState,
    SearchBacklog,
    SearchDocument,
)
from conversations.search import SearchError, Term, parse
from tests.conftest import login
from tests.factories import AccountFactory, LabelFactory, UserFactory, receive

pytestmark = pytest.mark.django_db


def indexed(message):
    search_index.index_backlog()
    return message.conversation


def found(client, query, mailbox="all", **params):
    """The subjects a search lists, in order (the list partial, as the search box asks for it)."""
    response = client.get(
        reverse("mailbox", args=[mailbox]),
        {"q": query, **params},
        headers={"HX-Request": "true", "HX-Target": "conversation-list"},
    )
    assert response.status_code == 200
    return [html.unescape(s) for s in re.findall(r'<div class="row-subject">([^<]*)</div>', response.content.decode())]


def error_of(client, query):
    response = client.get(reverse("mailbox", args=["all"]), {"q": query})
    assert response.status_code == 200
    match = re.search(r'<p class="search-error" role="alert">([^<]*)</p>', response.content.decode())
    return match.group(1) if match else None


# The language ------------------------------------------------------------------------------------


def test_parse_reads_words_phrases_operators_and_negations():
    assert parse('invoice from:anna@acme.test "out of office" -spam -"no reply" subject:"Q3 plan" -label:VIP') == [
        Term("", "invoice"),
        Term("from", "anna@acme.test"),
        Term("", "out of office", quoted=True),
        Term("", "spam", negated=True),
        Term("", "no reply", quoted=True, negated=True),
        Term("subject", "Q3 plan", quoted=True),
        Term("label", "VIP", negated=True),
    ]


def test_an_operator_needs_its_value_right_after_the_colon():
    """The seed's rule: `from: jessica@…` is not an operator."""
    assert parse("from: jessica@conferencebadge.com") == [Term("", "from:"), Term("", "jessica@conferencebadge.com")]
    assert parse("label: project") == [Term("", "label:"), Term("", "project")]
    assert parse("label:project-name") == [Term("label", "project-name")]


def test_operator_names_are_case_insensitive_and_have_provider_aliases():
    assert parse("FROM:a@b.test hasattachment:true assigned:me") == [
        Term("from", "a@b.test"),
        Term("has", "true"),
        Term("assignee", "me"),
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"unbalanced phrase', "never closed"),
        ('subject:"half', "never closed"),
        ("colour:red", "Unknown operator “colour:”"),
        ('in"side', "Stray quote"),
    ],
)
def test_malformed_queries_raise_a_helpful_error(query, message):
    with pytest.raises(SearchError, match=message):
        parse(query)


def test_urls_are_text_not_operators():
    assert parse("https://acme.test/login") == [Term("", "https://acme.test/login")]


# Through the view: each operator and filter ------------------------------------------------------


@pytest.fixture
def client_(client, cast):
    return login(client, cast.owner)


def test_words_match_prefixes_in_any_order_stemmed_and_without_accents(client_, cast):
    indexed(receive(cast.personal_account, subject="Résumé attached", body="Please review the invoices quickly"))
    indexed(receive(cast.personal_account, subject="Lunch", body="Pizza or sushi?"))
    assert found(client_, "invoice") == ["Résumé attached"]
    assert found(client_, "quick review") == ["Résumé attached"]
    assert found(client_, "resume") == ["Résumé attached"]
    assert found(client_, "invo") == ["Résumé attached"]
    assert found(client_, "sush") == ["Lunch"]
    assert found(client_, "invoice pizza") == []


def test_phrases_match_words_in_order(client_, cast):
    indexed(receive(cast.personal_account, subject="One", body="the export is broken since Monday"))
    indexed(receive(cast.personal_account, subject="Two", body="broken, so the export stopped"))
    assert found(client_, '"export is broken"') == ["One"]
    assert sorted(found(client_, "export broken")) == ["One", "Two"]


def test_negations_exclude_words_phrases_and_operators(client_, cast):
    indexed(receive(cast.personal_account, subject="Refund please", body="charged twice", sender="ann@acme.test"))
    indexed(receive(cast.personal_account, subject="Refund again", body="out of office", sender="bob@beta.test"))
    assert found(client_, "refund -twice") == ["Refund again"]
    assert found(client_, 'refund -"out of office"') == ["Refund please"]
    assert found(client_, "refund -from:acme") == ["Refund again"]


def test_from_to_and_cc_match_names_and_partial_addresses(client_, cast):
    message = receive(
        cast.personal_account,
        subject="Quarterly numbers",
        sender="jessica@conferencebadge.com",
        from_name="Jessica Núñez",
        cc=[{"name": "Carl Copy", "address": "carl@copy.test"}],
    )
    indexed(message)
    indexed(receive(cast.personal_account, subject="Other", sender="someone@else.test"))
    assert found(client_, "from:jessica@conferencebadge.com") == ["Quarterly numbers"]
    assert found(client_, "from:conferencebadge") == ["Quarterly numbers"]
    assert found(client_, "from:nunez") == ["Quarterly numbers"]
    assert found(client_, "to:olivia@acme.test") == ["Other", "Quarterly numbers"]
    assert found(client_, "cc:carl") == ["Quarterly numbers"]
    assert found(client_, "bcc:carl") == ["Quarterly numbers"]
    assert found(client_, "to:carl") == []
    # A free-text address or domain matches participants too.
    assert found(client_, "conferencebadge.com") == ["Quarterly numbers"]


def test_subject_and_body_look_only_at_their_part(client_, cast):
    indexed(receive(cast.personal_account, subject="Invoice overdue", body="see attached"))
    indexed(receive(cast.personal_account, subject="Hello", body="the invoice is overdue"))
    assert found(client_, "subject:invoice") == ["Invoice overdue"]
    assert found(client_, 'subject:"invoice overdue"') == ["Invoice overdue"]
    assert found(client_, "body:invoice") == ["Hello"]


def test_attachment_filters(client_, cast):
    pdf = IncomingAttachment("quote-2026.pdf", "application/pdf", b"%PDF-1.4")
    indexed(receive(cast.personal_account, subject="With file", attachments=[pdf]))
    indexed(receive(cast.personal_account, subject="Without file"))
    assert found(client_, "has:attachment") == ["With file"]
    assert found(client_, "hasattachment:true") == ["With file"]
    assert found(client_, "filename:quote") == ["With file"]
    assert found(client_, "filename:.pdf") == ["With file"]
    assert found(client_, "-has:attachment") == ["Without file"]


def test_comments_are_searched(client_, cast):
    conversation = receive(cast.personal_account, subject="Renewal").conversation
    Comment.objects.create(
        organization=cast.org, conversation=conversation, author=cast.teammate, body="Ask about the discount"
    )
    search_index.queue(cast.org.id, [conversation.id])
    search_index.index_backlog()
    assert found(client_, "discount") == ["Renewal"]


def test_label_filter_takes_names_paths_and_hyphens(client_, cast):
    parent = LabelFactory(organization=cast.org, name="Features")
    child = LabelFactory(organization=cast.org, name="In progress", parent=parent)
    labelled = indexed(receive(cast.personal_account, subject="Dark mode"))
    indexed(receive(cast.personal_account, subject="Unlabelled"))
    ConversationLabel.objects.create(organization=cast.org, conversation=labelled, label=child)
    assert found(client_, "label:Features/In-progress") == ["Dark mode"]
    assert found(client_, 'label:"in progress"') == ["Dark mode"]
    assert found(client_, "-label:in-progress") == ["Unlabelled"]
    assert "No label is called “Nope”" in error_of(client_, "label:Nope")


def test_state_filters(client_, cast):
    unread = indexed(receive(cast.personal_account, subject="Unread one"))
    starred = indexed(receive(cast.personal_account, subject="Starred one"))
    closed = indexed(receive(cast.personal_account, subject="Closed one"))
    snoozed = indexed(receive(cast.personal_account, subject="Snoozed one"))
    ConversationState.objects.filter(user=cast.owner).exclude(conversation=unread).update(unread=False)
    do_set_starred(starred, acting_user=cast.owner, starred=True)
    do_close(closed, acting_user=cast.owner)
    do_snooze(snoozed, acting_user=cast.owner, until=timezone.now() + timedelta(days=1))
    assert found(client_, "is:unread", mailbox="inbox") == ["Unread one"]
    assert "Unread one" not in found(client_, "is:read")
    assert found(client_, "isread:false") == ["Unread one"]
    assert found(client_, "is:starred") == ["Starred one"]
    assert found(client_, "is:closed") == ["Closed one"]
    assert "Closed one" not in found(client_, "is:open")
    assert found(client_, "is:snoozed") == ["Snoozed one"]


def test_assignee_and_team_filters(client_, cast):
    mine = indexed(receive(cast.support_account, subject="Mine"))
    theirs = indexed(receive(cast.support_account, subject="Theirs"))
    indexed(receive(cast.support_account, subject="Nobody's"))
    do_assign_conversation(mine, [cast.owner], acting_user=cast.owner)
    do_assign_conversation(theirs, [cast.teammate], acting_user=cast.owner)
    assert found(client_, "assignee:me") == ["Mine"]
    assert found(client_, "assignee:others") == ["Theirs"]
    assert found(client_, "assignee:none") == ["Nobody's"]
    assert found(client_, "assignee:tom") == ["Theirs"]
    assert found(client_, "assigned:teammate@acme.test") == ["Theirs"]
    assert sorted(found(client_, "is:assigned")) == ["Mine", "Theirs"]
    assert found(client_, "is:unassigned") == ["Nobody's"]
    assert sorted(found(client_, "team:support")) == ["Mine", "Nobody's", "Theirs"]
    assert "No team" in error_of(client_, "team:nope")


def test_account_filter(client_, cast):
    indexed(receive(cast.personal_account, subject="Personal"))
    indexed(receive(cast.support_account, subject="Shared"))
    assert found(client_, "account:olivia@acme.test") == ["Personal"]
    assert found(client_, "account:support@acme.test") == ["Shared"]
    assert "No account" in error_of(client_, "account:help@globex.test")


def test_date_filters(client_, cast):
    now = timezone.now()
    indexed(receive(cast.personal_account, subject="Old", sent_at=now - timedelta(days=40)))
    indexed(receive(cast.personal_account, subject="New", sent_at=now - timedelta(days=1)))
    cutoff = (now - timedelta(days=10)).date().isoformat()
    assert found(client_, f"after:{cutoff}") == ["New"]
    assert found(client_, f"before:{cutoff}") == ["Old"]
    assert found(client_, "newer_than:7d") == ["New"]
    assert found(client_, "older_than:1m") == ["Old"]
    assert "takes a date" in error_of(client_, "after:someday")
    assert "newer_than:7d" in error_of(client_, "newer_than:soon")


def test_filters_combine(client_, cast):
    pdf = IncomingAttachment("report.pdf", "application/pdf", b"%PDF")
    indexed(receive(cast.personal_account, subject="Report A", sender="ann@acme.test", attachments=[pdf]))
    indexed(receive(cast.personal_account, subject="Report B", sender="ann@acme.test"))
    indexed(receive(cast.personal_account, subject="Report C", sender="bob@beta.test", attachments=[pdf]))
    assert found(client_, "report from:ann has:attachment") == ["Report A"]


# Scope and isolation -----------------------------------------------------------------------------


def test_the_default_scope_follows_the_mailbox_and_in_changes_it(client_, cast):
    kept = indexed(receive(cast.personal_account, subject="Kept invoice"))
    trashed = indexed(receive(cast.personal_account, subject="Trashed invoice"))
    do_trash(trashed, acting_user=cast.owner)
    ConversationState.objects.filter(user=cast.owner, conversation=kept).update(location="archived")
    # In the Inbox, search covers All (archived included, Trash not).
    assert found(client_, "invoice", mailbox="inbox") == ["Kept invoice"]
    # Another mailbox searches itself.
    assert found(client_, "invoice", mailbox="trash") == ["Trashed invoice"]
    assert found(client_, "invoice in:trash", mailbox="inbox") == ["Trashed invoice"]
    assert found(client_, "invoice in:anywhere") == ["Trashed invoice", "Kept invoice"]
    page = client_.get(reverse("mailbox", args=["inbox"]), {"q": "invoice"}).content.decode()
    assert 'href="/m/inbox/?q=invoice+in%3Aanywhere&amp;sort=date"' in page
    assert "in: takes one of" in error_of(client_, "in:nowhere")


def test_a_team_inbox_searches_all_of_the_teams_conversations(client, cast):
    waiting = indexed(receive(cast.support_account, subject="Waiting printer"))
    done = indexed(receive(cast.support_account, subject="Closed printer"))
    do_close(done, acting_user=cast.owner)
    login(client, cast.teammate)
    url = reverse("team_mailbox", args=[cast.support.id, "inbox"])
    response = client.get(url, {"q": "printer"}, headers={"HX-Request": "true", "HX-Target": "conversation-list"})
    assert re.findall(r'<div class="row-subject">([^<]*)</div>', response.content.decode()) == [
        "Closed printer",
        "Waiting printer",
    ]
    assert waiting.id != done.id


def test_search_never_finds_what_the_user_cannot_see(client, cast):
    indexed(receive(cast.outsider_account, subject="Globex secret invoice"))
    indexed(receive(cast.personal_account, subject="Olivia private invoice"))
    indexed(receive(cast.support_account, subject="Team invoice"))
    login(client, cast.teammate)
    assert found(client, "invoice") == ["Team invoice"]
    assert found(client, "invoice in:anywhere") == ["Team invoice"]
    assert found(client, "from:customer") == ["Team invoice"]
    login(client, cast.outsider)
    assert found(client, "invoice in:anywhere") == ["Globex secret invoice"]


def test_operators_do_not_resolve_another_organizations_names(client_, cast):
    LabelFactory(organization=cast.other_org, name="Globex only")
    assert "No label" in error_of(client_, "label:globex-only")
    assert "No team" in error_of(client_, 'team:"Globex Support"')
    assert "Nobody here" in error_of(client_, "assignee:outsider@globex.test")


# Ordering, snippets, pages -----------------------------------------------------------------------


def test_relevance_puts_subject_matches_first_and_date_order_newest_first(client_, cast):
    now = timezone.now()
    indexed(receive(cast.personal_account, subject="Webhook failures", sent_at=now - timedelta(hours=5)))
    indexed(receive(cast.personal_account, subject="Misc", body="and the webhook too", sent_at=now))
    assert found(client_, "webhook") == ["Misc", "Webhook failures"]
    assert found(client_, "webhook", sort="relevance") == ["Webhook failures", "Misc"]


def test_snippets_highlight_matches_and_escape_the_mail(client_, cast):
    indexed(
        receive(
            cast.personal_account, subject="Hi", body="refund <script>alert(1)</script> issued when total < 5 & late"
        )
    )
    response = client_.get(reverse("mailbox", args=["all"]), {"q": "refund"})
    page = response.content.decode()
    snippet = re.search(r'<div class="row-preview row-snippet">(.*?)</div>', page).group(1)
    assert "<mark>refund</mark>" in snippet
    assert "&lt; 5 &amp; late" in snippet
    assert "<script>" not in page


def test_results_are_paginated_in_both_orders(client_, cast, monkeypatch):
    monkeypatch.setattr("conversations.views.PAGE_SIZE", 2)
    now = timezone.now()
    for n in range(5):
        indexed(receive(cast.personal_account, subject=f"Shipment {n}", sent_at=now - timedelta(minutes=n)))
    for sort in ("date", "relevance"):
        seen: list[str] = []
        url = reverse("mailbox", args=["all"]) + f"?q=shipment&sort={sort}"
        while url:
            page = client_.get(url, headers={"HX-Request": "true", "HX-Target": "conversation-list"}).content.decode()
            seen += re.findall(r'<div class="row-subject">([^<]*)</div>', page)
            more = re.search(r'id="list-more" hx-get="([^"]+)"', page)
            url = more.group(1).replace("&amp;", "&") if more else ""
        assert sorted(seen) == [f"Shipment {n}" for n in range(5)], sort


def test_malformed_queries_show_the_message_instead_of_failing(client_, cast):
    assert "never closed" in error_of(client_, '"open quote')
    assert "Unknown operator" in error_of(client_, "colour:red")


def test_punctuation_alone_says_so_and_stop_words_alone_find_nothing(client_, cast):
    indexed(receive(cast.personal_account, subject="The"))
    assert "no words to search for" in error_of(client_, "!!!")
    assert found(client_, "the") == []
    assert error_of(client_, "the") is None


# Saved and recent searches ------------------------------------------------------------------------


def test_saving_a_search_puts_it_in_the_sidebar_and_it_can_be_removed(client_, cast):
    response = client_.post(reverse("save_search"), {"q": "from:acme", "mailbox_url": "/m/all/", "name": "Acme"})
    assert response.status_code == 302 and response.url == "/m/all/?q=from%3Aacme"
    cast.owner.refresh_from_db()
    [saved] = cast.owner.saved_searches
    assert (saved["name"], saved["query"], saved["mailbox_url"]) == ("Acme", "from:acme", "/m/all/")
    page = client_.get(reverse("mailbox", args=["inbox"])).content.decode()
    assert 'id="saved-searches"' in page and 'href="/m/all/?q=from%3Aacme"' in page
    client_.post(reverse("delete_saved_search", args=[saved["id"]]), {"return_to": "/m/inbox/"})
    cast.owner.refresh_from_db()
    assert cast.owner.saved_searches == []


def test_saving_refuses_addresses_outside_the_app(client_, cast):
    response = client_.post(reverse("save_search"), {"q": "x", "mailbox_url": "//evil.test/"})
    assert response.status_code == 404


def test_nobody_else_can_remove_a_saved_search(client, cast):
    cast.owner.saved_searches = [{"id": "abc", "name": "Mine", "query": "x", "mailbox_url": "/m/all/"}]
    cast.owner.save()
    login(client, cast.teammate)
    assert client.post(reverse("delete_saved_search", args=["abc"])).status_code == 404
    cast.owner.refresh_from_db()
    assert len(cast.owner.saved_searches) == 1


def test_submitted_searches_are_recent_typed_ones_are_not(client_, cast):
    headers = {"HX-Request": "true", "HX-Target": "conversation-list"}
    client_.get("/m/inbox/", {"q": "inv"}, headers=headers)
    response = client_.get("/m/inbox/", {"q": "invoice", "record": "1"}, headers=headers)
    assert response.headers["HX-Push-Url"] == "/m/inbox/?q=invoice"
    assert "sidebar-changed" in response.headers["HX-Trigger"]
    cast.owner.refresh_from_db()
    assert cast.owner.recent_searches == [{"query": "invoice", "mailbox_url": "/m/inbox/"}]
    page = client_.get(reverse("mailbox", args=["inbox"])).content.decode()
    assert 'id="recent-searches"' in page and 'href="/m/inbox/?q=invoice"' in page


def test_recent_searches_follow_the_preference(client_, cast):
    cast.owner.recent_searches_shown = 2
    cast.owner.save()
    for query in ("one", "two", "three", "two"):
        client_.get("/m/all/", {"q": query, "record": "1"})
    cast.owner.refresh_from_db()
    assert [e["query"] for e in cast.owner.recent_searches] == ["two", "three", "one"]
    page = client_.get(reverse("mailbox", args=["inbox"])).content.decode()
    shown = re.findall(r'<ul class="nav-group" id="recent-searches">(.*?)</ul>', page, re.S)[0]
    assert "three" in shown and "two" in shown and "one" not in shown
    cast.owner.recent_searches_shown = 0
    cast.owner.save()
    client_.get("/m/all/", {"q": "four", "record": "1"})
    cast.owner.refresh_from_db()
    assert "four" not in [e["query"] for e in cast.owner.recent_searches]
    assert 'id="recent-searches"' not in client_.get(reverse("mailbox", args=["inbox"])).content.decode()


# Indexing ----------------------------------------------------------------------------------------


def test_delivery_queues_the_conversation_and_the_backlog_task_indexes_it(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        message = receive(cast.personal_account, subject="Queued", body="zebra crossing")
    assert SearchBacklog.objects.filter(conversation=message.conversation).exists()
    assert not SearchDocument.objects.exists()
    assert len(callbacks) >= 1
    assert search_index.index_backlog() == 1
    document = SearchDocument.objects.get(conversation=message.conversation)
    assert "zebra crossing" in document.content
    assert "customer@outside.test" in document.senders
    assert not SearchBacklog.objects.exists()


def test_indexing_is_idempotent_and_a_second_message_is_added(cast):
    first = receive(cast.personal_account, subject="Thread", body="alpha", rfc_message_id="<t@a.test>")
    search_index.index_backlog()
    search_index.index_conversations([first.conversation_id])
    assert SearchDocument.objects.count() == 1
    receive(cast.personal_account, subject="Re: Thread", body="beta", in_reply_to="<t@a.test>")
    assert search_index.index_backlog() == 1
    document = SearchDocument.objects.get()
    assert "alpha" in document.content and "beta" in document.content


def test_rebuild_indexes_whole_organizations(cast):
    receive(cast.personal_account, subject="One")
    receive(cast.outsider_account, subject="Two")
    assert search_index.rebuild([cast.org.id]) == 1
    assert SearchDocument.objects.get().organization_id == cast.org.id
    assert not SearchBacklog.objects.filter(organization=cast.org).exists()
    assert SearchBacklog.objects.filter(organization=cast.other_org).exists()


def test_new_accounts_of_another_org_are_not_searchable_by_address(client_, cast):
    other = AccountFactory(organization=cast.other_org, address="sales@globex.test", owner=UserFactory())
    indexed(receive(other, subject="Globex sales"))
    assert found(client_, "sales@globex.test in:anywhere") == []


# The Filters menu --------------------------------------------------------------------------------


def test_the_filters_menu_offers_this_users_choices_only(client_, cast):
    LabelFactory(organization=cast.org, name="Billing")
    LabelFactory(organization=cast.other_org, name="Globex label")
    page = client_.get(reverse("search_filters"), {"mailbox_url": "/m/inbox/"}).content.decode()
    assert 'hx-get="/m/inbox/"' in page
    assert ">Billing<" in page and "Globex label" not in page
    assert ">support@acme.test<" in page and "help@globex.test" not in page
    assert "Tom Teammate" in page and "Xavier" not in page
    assert client_.get(reverse("search_filters"), {"mailbox_url": "//evil.test"}).status_code == 404


def test_filters_become_operators_of_the_query(client_, cast):
    pdf = IncomingAttachment("a.pdf", "application/pdf", b"%PDF")
    indexed(receive(cast.support_account, subject="Printer jam", sender="ann@acme.test", attachments=[pdf]))
    indexed(receive(cast.support_account, subject="Printer ink", sender="bob@beta.test"))
    headers = {"HX-Request": "true", "HX-Target": "conversation-list"}
    params = {"q": "printer", "f_from": "ann", "f_team": "Support", "f_has": "1", "f_when": "7d", "record": "1"}
    response = client_.get("/m/inbox/", params, headers=headers)
    subjects = re.findall(r'<div class="row-subject">([^<]*)</div>', response.content.decode())
    assert subjects == ["Printer jam"]
    expected = "printer team:Support from:ann newer_than:7d has:attachment"
    assert response.headers["HX-Push-Url"] == "/m/inbox/?" + urlencode({"q": expected})


def test_relevance_ranks_the_most_recent_matches(client_, cast, monkeypatch):
    monkeypatch.setattr("conversations.search.RELEVANCE_CANDIDATES", 2)
    now = timezone.now()
    indexed(receive(cast.personal_account, subject="Webhook old", sent_at=now - timedelta(days=3)))
    indexed(receive(cast.personal_account, subject="Recent", body="webhook", sent_at=now - timedelta(days=1)))
    indexed(receive(cast.personal_account, subject="Newest", body="webhook", sent_at=now))
    assert found(client_, "webhook", sort="relevance") == ["Newest", "Recent"]


def test_opening_a_result_outlines_the_matching_messages_and_comments(client_, cast):
    first = receive(cast.personal_account, subject="Order", body="where is my parcel?", rfc_message_id="<o@a.test>")
    reply = receive(
        cast.personal_account,
        subject="Re: Order",
        body="thanks, it arrived",
        in_reply_to="<o@a.test>",
        references=["<o@a.test>"],
    )
    assert reply.conversation_id == first.conversation_id
    comment = Comment.objects.create(
        organization=cast.org, conversation=first.conversation, author=cast.owner, body="parcel lost by the courier"
    )
    url = reverse("conversation", args=["all", first.conversation_id])
    page = client_.get(url, {"q": "parcel"}).content.decode()
    assert f'class="message match" id="message-{first.id}"' in page
    assert f'class="message" id="message-{reply.id}"' in page
    assert f'class="comment match" id="comment-{comment.id}"' in page
    assert " match" not in client_.get(url).content.decode()


def test_no_query_makes_the_search_fail(client_, cast):
    """Seeded random queries built from the language's own pieces: each gives results or a
    message, never a server error (a bad tsquery, say)."""
    indexed(receive(cast.personal_account, subject="Fuzz target", body="alpha beta gamma"))
    pieces = [
        *[f"{operator}:" for operator in ("from", "to", "subject", "label", "has", "is", "in", "after", "older_than")],
        '"',
        "-",
        ":",
        "'",
        "\\",
        "&",
        "|",
        "!",
        "(",
        ")",
        "<->",
        ":*",
        "*",
        "%",
        "_",
        "é",
        "日本",
        "@",
        ".",
        "alpha",
        "be",
        "the",
        "a@b.c",
        "2026-01-01",
        "7d",
        "attachment",
        "unread",
        " ",
        " ",
        "  ",
    ]
    rng = random.Random(20261122)
    for _ in range(150):
        query = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        response = client_.get(
            reverse("mailbox", args=["all"]), {"q": query, "sort": rng.choice(["date", "relevance"])}
        )
        assert response.status_code == 200, query


def test_a_word_is_also_found_inside_a_longer_word_of_a_subject(client_, cast):
    indexed(receive(cast.personal_account, subject="Invoice overdue", body="pay soon"))
    indexed(receive(cast.personal_account, subject="Voice mail", body="call back"))
    indexed(receive(cast.personal_account, subject="Other", body="an invoice inside"))
    assert sorted(found(client_, "voice")) == ["Invoice overdue", "Voice mail"]
    # Only in subjects, and only for words of three letters or more.
    assert found(client_, "nvoic") == ["Invoice overdue"]
    assert found(client_, "vo") == ["Voice mail"]
    # Words the search ignores ("with") narrow nothing, even where a subject contains them.
    indexed(receive(cast.personal_account, subject="Shipment damaged", body="box crushed"))
    assert found(client_, "shipment with damage") == ["Shipment damaged"]
    assert found(client_, "a shipment") == ["Shipment damaged"]
    assert found(client_, "the subject:shipment") == ["Shipment damaged"]
    # Several words are matched as words: only a word looked up alone is sought inside others.
    assert found(client_, "voice overdue") == []
    assert found(client_, "invoice overdue") == ["Invoice overdue"]


# Suggestions -------------------------------------------------------------------------------------


def suggestions(client, fragment):
    page = client.get(reverse("search_suggestions"), {"q": fragment}).content.decode()
    return re.findall(r'href="([^"]+)"[^>]*data-kind="(\w+)">.*?<span class="suggestion-label">([^<]*)</span>', page)


def test_suggestions_offer_mailboxes_labels_people_and_domains(client_, cast):
    label = LabelFactory(organization=cast.org, name="Lakeside deals")
    LabelFactory(organization=cast.other_org, name="Lakeside globex")
    indexed(receive(cast.personal_account, subject="Hi", sender="maria@lakeside.test", from_name="María López"))
    assert ("/m/snoozed/", "mailbox", "Snoozed") in suggestions(client_, "snoo")
    assert (f"/teams/{cast.support.id}/inbox/", "mailbox", str(cast.support)) in suggestions(client_, "supp")
    found_ = suggestions(client_, "lakes")
    assert (f"/labels/{label.id}/", "label", "Lakeside deals") in found_
    assert ("/m/all/?q=maria%40lakeside.test", "person", "maria@lakeside.test") in found_
    assert ("/m/all/?q=%40lakeside.test", "domain", "lakeside.test") in found_
    assert not any("globex" in entry[2] for entry in found_)
    assert ("/m/all/?q=maria%40lakeside.test", "person", "maria@lakeside.test") in suggestions(client_, "lopez")
    assert suggestions(client_, "from:lake") == []


def test_suggestions_name_only_people_of_conversations_the_user_can_open(client, cast):
    indexed(receive(cast.personal_account, subject="Private", sender="secret@hidden.test"))
    login(client, cast.teammate)
    assert suggestions(client, "hidden") == []
    login(client, cast.owner)
    assert [kind for _, kind, _ in suggestions(client, "hidden")] == ["person", "domain"]


def test_search_preferences_change_scope_dates_and_accounts(client_, cast):
    now = timezone.now()
    kept = indexed(receive(cast.personal_account, subject="Archived invoice"))
    indexed(receive(cast.personal_account, subject="Inbox invoice"))
    indexed(receive(cast.personal_account, subject="Old invoice", sent_at=now - timedelta(days=60)))
    indexed(receive(cast.support_account, subject="Team invoice"))
    ConversationState.objects.filter(user=cast.owner, conversation=kept).update(location="archived")
    assert len(found(client_, "invoice", mailbox="inbox")) == 4
    cast.owner.search_preferences = {"in_inbox": "inbox"}
    cast.owner.save()
    assert sorted(found(client_, "invoice", mailbox="inbox")) == ["Inbox invoice", "Old invoice"]
    cast.owner.search_preferences = {"elsewhere": "all", "date_range": "4w"}
    cast.owner.save()
    assert sorted(found(client_, "invoice", mailbox="archive")) == ["Archived invoice", "Inbox invoice", "Team invoice"]
    assert "Old invoice" in found(client_, "invoice older_than:1m", mailbox="archive")
    page = client_.get(reverse("mailbox", args=["archive"]), {"q": "invoice"}).content.decode()
    assert "last 4 weeks" in page
    cast.owner.search_preferences = {"excluded_accounts": [str(cast.support_account.id)]}
    cast.owner.save()
    assert "Team invoice" not in found(client_, "invoice")
    assert found(client_, "invoice account:support@acme.test") == ["Team invoice"]
    assert "Team invoice" in found(client_, "invoice in:anywhere")


def test_typed_names_compare_with_stored_ones_as_unaccent_writes_them(client_, cast):
    indexed(
        receive(cast.personal_account, subject="Hej", sender="s.ostergaard@nord.test", from_name="Søren Østergaard")
    )
    assert found(client_, "from:søren") == ["Hej"]
    assert found(client_, "from:soren") == ["Hej"]


def _queued_indexing(broker) -> list[bytes]:
    """The indexing tasks waiting in the broker's default queue (Celery's Redis transport)."""
    return [raw for raw in broker.lrange("celery", 0, -1) if b"conversations.tasks.index_search_backlog" in raw]


def test_changes_while_an_indexing_task_waits_send_no_other():
    from django.conf import settings
    from django.core.cache import cache

    from conversations.tasks import index_search_backlog

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    cache.delete(search_index.KICK_MARK)
    waiting = _queued_indexing(broker)
    try:
        for _ in range(3):  # three committed changes, no worker has started yet
            search_index._kick()
        assert len(_queued_indexing(broker)) == len(waiting) + 1

        index_search_backlog()  # the worker starts it: the next change needs a task of its own
        search_index._kick()
        assert len(_queued_indexing(broker)) == len(waiting) + 2
    finally:
        for raw in set(_queued_indexing(broker)) - set(waiting):
            broker.lrem("celery", 1, raw)
        cache.delete(search_index.KICK_MARK)
