"""Files on comments: several per comment or only files, the size limit, downloads behind the
access check, image previews only for real images, escaped names, deletion with the comment, and
search by file name."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import search_index
from conversations.actions import (
    ActionRefused,
    do_delete_comment,
    do_delete_forever,
    do_edit_comment,
    do_post_comment,
    do_trash,
)
from conversations.comment_files import upload_problem
from conversations.models import Comment, CommentAttachment
from tests.conftest import login
from tests.factories import receive

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(name, content=b"hello", content_type="text/plain"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def _team_conversation(cast):
    return receive(cast.support_account, subject="Printer jam").conversation


def _stored(tmp_storage):
    return sorted(p.name for p in tmp_storage.rglob("*") if p.is_file())


def _post(client, conversation, **data):
    url = reverse("conversation_action", args=[conversation.id, "comment"])
    return client.post(url, {"return_to": "/m/all/", **data}, headers={"HX-Request": "true"})


def test_a_comment_carries_several_files_stored_through_the_storage(cast, tmp_storage):
    conversation = _team_conversation(cast)

    comment = do_post_comment(
        conversation,
        author=cast.owner,
        body="Invoices attached",
        files=[_upload("march.pdf", b"%PDF-1.4 a", "application/pdf"), _upload("photo.png", PNG, "image/png")],
    )

    files = {f.filename: f for f in comment.files.all()}
    assert set(files) == {"march.pdf", "photo.png"}
    assert files["march.pdf"].size == 10 and files["march.pdf"].content_type == "application/pdf"
    assert files["photo.png"].is_image and not files["march.pdf"].is_image
    assert len(_stored(tmp_storage)) == 2
    assert all(f.organization_id == cast.org.id for f in files.values())
    # Stored under names of ours, never the uploaded one.
    assert all("march" not in name and "photo" not in name for name in _stored(tmp_storage))
    assert files["march.pdf"].file.read() == b"%PDF-1.4 a"


def test_a_comment_may_be_only_files_but_not_nothing(cast, tmp_storage):
    conversation = _team_conversation(cast)

    comment = do_post_comment(conversation, author=cast.owner, body="  ", files=[_upload("notes.txt")])

    assert comment.body == "" and comment.files.count() == 1
    with pytest.raises(ActionRefused, match="Write something first"):
        do_post_comment(conversation, author=cast.owner, body=" ", files=[])


def test_files_over_the_limit_are_refused_whole_and_nothing_is_stored(cast, tmp_storage, settings):
    settings.COMMENT_ATTACHMENTS_MAX_MB = 1
    conversation = _team_conversation(cast)
    half = b"x" * (600 * 1024)

    with pytest.raises(ActionRefused) as refused:
        do_post_comment(
            conversation, author=cast.owner, body="two", files=[_upload("a.bin", half), _upload("b.bin", half)]
        )

    assert refused.value.messages == ["These files weigh 1.2\xa0MB: a comment's files can weigh 1.0\xa0MB at most."]

    assert not Comment.objects.exists() and _stored(tmp_storage) == []
    assert (
        do_post_comment(conversation, author=cast.owner, body="one", files=[_upload("a.bin", half)]).files.count() == 1
    )


def test_the_limit_defaults_to_the_seeds_free_plan_and_counts_files():
    assert upload_problem([_upload("a.txt")]) == ""
    assert "at most 20 files" in upload_problem([_upload(f"{n}.txt") for n in range(21)])


def test_posting_files_from_the_chat_box_shows_them_under_the_comment(client, cast, tmp_storage):
    conversation = _team_conversation(cast)
    login(client, cast.owner)

    response = _post(
        client, conversation, body="", files=[_upload("report.csv", b"a,b\n1,2\n"), _upload("shot.png", PNG)]
    )

    page = response.content.decode()
    attachment = CommentAttachment.objects.get(filename="report.csv")
    image = CommentAttachment.objects.get(filename="shot.png")
    assert reverse("comment_file_download", args=[attachment.id]) in page
    assert '<span class="size">8\xa0bytes</span>' in page
    assert f'<img src="{reverse("comment_file_preview", args=[image.id])}" alt="shot.png"' in page
    assert 'hx-encoding="multipart/form-data"' in page and 'name="files"' in page


def test_the_view_refuses_files_over_the_limit_with_the_reason(client, cast, tmp_storage, settings):
    settings.COMMENT_ATTACHMENTS_MAX_MB = 1
    conversation = _team_conversation(cast)
    login(client, cast.owner)

    response = _post(client, conversation, body="big", files=[_upload("big.bin", b"x" * (1024 * 1024 + 1))])

    assert "These files weigh more than 1.0\xa0MB: a comment&#x27;s files can weigh 1.0\xa0MB at most." in (
        response.content.decode()
    )
    assert not Comment.objects.exists() and _stored(tmp_storage) == []


def test_file_names_are_escaped_and_cleaned(client, cast, tmp_storage):
    conversation = _team_conversation(cast)
    do_post_comment(
        conversation, author=cast.owner, body="", files=[_upload("C:\\Users\\me\\<img src=x onerror=alert(1)>.txt")]
    )
    login(client, cast.owner)

    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()

    assert CommentAttachment.objects.get().filename == "<img src=x onerror=alert(1)>.txt"
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert "<img src=x onerror" not in page


def test_downloads_need_access_and_never_render_in_the_browser(client, cast, tmp_storage):
    conversation = receive(cast.personal_account, subject="Private").conversation
    comment = do_post_comment(
        conversation, author=cast.owner, body="", files=[_upload("page.html", b"<script>x</script>", "text/html")]
    )
    attachment = comment.files.get()
    url = reverse("comment_file_download", args=[attachment.id])

    login(client, cast.owner)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<script>x</script>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;") and "page.html" in response["Content-Disposition"]

    login(client, cast.teammate)  # same organization, no access to this private conversation
    assert client.get(url).status_code == 404
    login(client, cast.outsider)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


def test_previews_are_only_for_files_whose_bytes_are_images(client, cast, tmp_storage):
    conversation = _team_conversation(cast)
    comment = do_post_comment(
        conversation,
        author=cast.owner,
        body="",
        files=[
            _upload("real.png", PNG, "image/png"),
            _upload("fake.png", b"<svg onload=alert(1)>", "image/png"),
            _upload("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        ],
    )
    files = {f.filename: f for f in comment.files.all()}
    login(client, cast.teammate)

    preview = client.get(reverse("comment_file_preview", args=[files["real.png"].id]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    assert preview["X-Content-Type-Options"] == "nosniff" and "sandbox" in preview["Content-Security-Policy"]
    assert files["fake.png"].content_type == "application/octet-stream"
    assert client.get(reverse("comment_file_preview", args=[files["fake.png"].id])).status_code == 404
    assert client.get(reverse("comment_file_preview", args=[files["drawing.svg"].id])).status_code == 404
    login(client, cast.outsider)
    assert client.get(reverse("comment_file_preview", args=[files["real.png"].id])).status_code == 404


def test_deleting_a_comment_deletes_its_files(cast, tmp_storage, django_capture_on_commit_callbacks):
    conversation = _team_conversation(cast)
    kept = do_post_comment(conversation, author=cast.owner, body="keep", files=[_upload("keep.txt")])
    gone = do_post_comment(conversation, author=cast.owner, body="", files=[_upload("a.txt"), _upload("b.txt")])
    assert len(_stored(tmp_storage)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        do_delete_comment(conversation, str(gone.id), acting_user=cast.owner)

    assert not CommentAttachment.objects.filter(comment_id=gone.id).exists()
    assert _stored(tmp_storage) == [kept.files.get().file.name.rsplit("/", 1)[-1]]


def test_deleting_a_conversation_forever_deletes_its_comment_files(
    cast, tmp_storage, django_capture_on_commit_callbacks
):
    conversation = receive(cast.personal_account, subject="Old").conversation
    do_post_comment(conversation, author=cast.owner, body="", files=[_upload("old.txt")])
    do_trash(conversation, acting_user=cast.owner)

    with django_capture_on_commit_callbacks(execute=True):
        do_delete_forever(conversation, acting_user=cast.owner)

    assert _stored(tmp_storage) == [] or all(name.endswith(".eml") for name in _stored(tmp_storage))
    assert not CommentAttachment.objects.exists()


def test_a_comment_with_files_can_lose_its_text_but_one_without_cannot(cast, tmp_storage):
    conversation = _team_conversation(cast)
    with_files = do_post_comment(conversation, author=cast.owner, body="see file", files=[_upload("a.txt")])
    plain = do_post_comment(conversation, author=cast.owner, body="plain")

    do_edit_comment(conversation, str(with_files.id), acting_user=cast.owner, body=" ")
    with pytest.raises(ActionRefused, match="cannot be empty"):
        do_edit_comment(conversation, str(plain.id), acting_user=cast.owner, body=" ")

    with_files.refresh_from_db()
    assert with_files.body == "" and with_files.edited_at is not None


def test_file_names_are_searchable(client, cast, tmp_storage):
    conversation = _team_conversation(cast)
    other = receive(cast.support_account, subject="Unrelated").conversation
    comment = do_post_comment(conversation, author=cast.owner, body="", files=[_upload("Quarterly budget-2026.xlsx")])
    login(client, cast.owner)

    def found(query):
        search_index.index_backlog()
        page = client.get(reverse("mailbox", args=["all"]), {"q": query}).content.decode()
        return "Printer jam" in page, "Unrelated" in page

    assert found("quarterly") == (True, False)
    assert found("filename:budget") == (True, False)
    page = client.get(reverse("conversation", args=["all", conversation.id]), {"q": "quarterly"}).content.decode()
    assert f'class="comment match" id="comment-{comment.id}"' in page, "the comment is outlined as the match"
    do_delete_comment(conversation, str(comment.id), acting_user=cast.owner)
    assert found("quarterly") == (False, False)
    assert other.id
