"""Fetched bytes become messages ready for delivery, in parser processes for a large batch."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import billiard
import pytest
from django.core.files.storage import FileSystemStorage

from channels_app.email import intake
from channels_app.email.intake import store_and_parse, store_and_parse_many
from tests.mail_factory import make_email, varied_corpus


@pytest.fixture
def storage_root(tmp_storage):
    return tmp_storage


def _batch() -> list[bytes]:
    with_attachment = make_email(
        subject="Invoice",
        sender="billing@outside.test",
        to="box@acme.test",
        body="Attached.",
        attachments=[("invoice.pdf", b"%PDF-1.4 pretend", "application/pdf")],
    )
    corpus = list(varied_corpus(40, seed=3))
    return [*corpus, with_attachment, b"\x00\xff garbage without headers"]


def test_a_large_batch_comes_back_from_the_parser_processes_as_if_parsed_here(storage_root):
    raws = _batch()
    assert len(raws) >= intake.ELSEWHERE_FROM

    elsewhere = store_and_parse_many(raws)

    assert intake._parser_processes.cache_info().currsize == 1, "the processes did the work (no fallback)"
    assert elsewhere == [store_and_parse(raw) for raw in raws]
    for incoming, raw in zip(elsewhere, raws, strict=True):
        assert incoming.raw == raw
        assert (storage_root / incoming.raw_path).read_bytes() == raw, "stored where this process would"
    invoice = next(incoming for incoming in elsewhere if incoming.subject == "Invoice")
    [attachment] = invoice.attachments
    assert (storage_root / attachment.stored_path).read_bytes() == b"%PDF-1.4 pretend"
    assert attachment.stored_size == len(b"%PDF-1.4 pretend") and attachment.content == b""
    assert elsewhere[-1].parse_error, "unparseable mail is kept, not dropped"


def test_when_a_parser_process_dies_the_batch_is_parsed_here_and_the_next_one_starts_afresh(storage_root):
    raws = _batch()
    store_and_parse_many(raws)
    for process in intake._parser_processes()._processes.values():
        process.kill()
        process.join()

    recovered = store_and_parse_many(raws)

    assert recovered == [store_and_parse(raw) for raw in raws]
    assert intake._parser_processes.cache_info().currsize == 0, "the broken processes were dropped"
    store_and_parse_many(raws)
    assert intake._parser_processes.cache_info().currsize == 1, "new ones took over"


def test_a_file_the_disk_refuses_stays_on_the_message_for_delivery_to_retry(storage_root, monkeypatch):
    raw = make_email(
        subject="Big",
        sender="a@outside.test",
        to="box@acme.test",
        body="See attached.",
        attachments=[("big.bin", b"refused", "application/octet-stream")],
    )
    real_save = FileSystemStorage.save

    def full_disk(storage, name, content, max_length=None):
        if name.startswith("attachments/"):
            raise OSError("No space left on device")
        return real_save(storage, name, content, max_length=max_length)

    monkeypatch.setattr(FileSystemStorage, "save", full_disk)

    incoming = store_and_parse(raw)

    [attachment] = incoming.attachments
    assert attachment.stored_path == "" and attachment.content == b"refused"
    assert Path(storage_root / incoming.raw_path).exists()


def _parse_in_a_daemon(answers) -> None:
    raws = list(varied_corpus(intake.ELSEWHERE_FROM, seed=5))
    parsed = store_and_parse_many(raws)
    answers.put((len(parsed), intake._parser_processes.cache_info().currsize))
    answers.close()
    answers.join_thread()
    os._exit(0)  # as billiard's workers end: the parser processes then notice and exit on their own


@pytest.mark.parametrize("library", [multiprocessing, billiard])
def test_a_celery_prefork_worker_can_start_the_parser_processes(library):
    """Celery runs tasks in daemonic billiard processes: multiprocessing forbids daemonic processes
    to have children, and billiard's process key refuses to be handed to a spawned one."""
    context = library.get_context("spawn")
    answers = context.Queue()
    worker = context.Process(target=_parse_in_a_daemon, args=(answers,), daemon=True)
    worker.start()
    try:
        assert answers.get(timeout=60) == (intake.ELSEWHERE_FROM, 1), "parsed by the processes, no fallback"
    finally:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.kill()
