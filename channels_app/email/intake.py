"""Fetched bytes in, messages ready for delivery out: the raw bytes stored first, then parsed, then
the attachments stored (content-addressed, channels_app/email/storage.py). No database access.

Parsing and creating files cost more CPU than everything else a sync does, and threads would share
one core (the GIL): a large batch is handed to parser processes, which run on the other core while
the sync delivers the previous batch. A few new messages (what IDLE brings) are handled in place.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from django.conf import settings
from django.core.files.storage import Storage, default_storage, storages

from channels_app.email.parsing import parse_email
from channels_app.email.storage import store_attachment, store_raw
from conversations.incoming import IncomingMessage

logger = logging.getLogger(__name__)

# From this many messages a batch goes to the parser processes.
ELSEWHERE_FROM = 20
PROCESSES = 2


def store_and_parse(raw: bytes) -> IncomingMessage:
    incoming = _store_and_parse(default_storage, raw)
    incoming.raw = raw
    return incoming


def store_and_parse_many(raws: list[bytes]) -> list[IncomingMessage]:
    if len(raws) >= ELSEWHERE_FROM:
        # The storage goes by its settings, not the process's own: both write to the same place.
        work = functools.partial(_store_and_parse_elsewhere, json.dumps(settings.STORAGES["default"], sort_keys=True))
        try:
            with _children_allowed():
                parsed = list(_parser_processes().map(work, raws, chunksize=10))
        except Exception:  # a process could not start or died: do it here, lose nothing
            logger.warning("The parser processes failed; parsing in the sync's own process", exc_info=True)
            with contextlib.suppress(Exception):
                _parser_processes().shutdown(wait=False, cancel_futures=True)
            _parser_processes.cache_clear()
        else:
            for incoming, raw in zip(parsed, raws, strict=True):
                incoming.raw = raw
            return parsed
    return [store_and_parse(raw) for raw in raws]


def _store_and_parse_elsewhere(storage_settings: str, raw: bytes) -> IncomingMessage:
    return _store_and_parse(_storage(storage_settings), raw)


@functools.cache
def _storage(storage_settings: str) -> Storage:
    return storages.create_storage(json.loads(storage_settings))


def _store_and_parse(storage: Storage, raw: bytes) -> IncomingMessage:
    """What the parser processes run. What was stored does not travel back: the raw bytes (the
    caller has them) and the attachments' content (delivery needs only their path and size).

    Should storage refuse a file (a full disk), the bytes stay on the message unstored: delivery
    tries again and, failing too, records that one message as failed with the reason."""
    raw_path = ""
    with _storage_failure_logged():
        raw_path = store_raw(raw, storage)
    incoming = parse_email(raw)
    incoming.raw, incoming.raw_path = None, raw_path
    for attachment in incoming.attachments:
        with _storage_failure_logged():
            attachment.stored_path = store_attachment(attachment.content, storage)
            attachment.stored_size, attachment.content = len(attachment.content), b""
    return incoming


@contextlib.contextmanager
def _storage_failure_logged() -> Iterator[None]:
    try:
        yield
    except OSError:
        logger.warning("Could not store a file; delivery will try again", exc_info=True)


@functools.cache
def _parser_processes() -> ProcessPoolExecutor:
    # spawn, not fork: the sync has threads and open connections a fork would copy. Django's apps
    # are not set up there (parsing needs none, storage only the settings): it stays small.
    return ProcessPoolExecutor(
        max_workers=PROCESSES,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a Celery prefork worker's task start the parser processes.

    Celery runs tasks in daemonic processes, which multiprocessing forbids to start processes
    (they would be orphaned when the daemon is terminated): ours exit with their parent
    (_exit_with_parent), so the rule is lifted while they are started. And those processes are
    billiard's, whose process key refuses to be pickled into a spawned child: it is handed over as
    multiprocessing's own kind of key, with the same bytes."""
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    saved = dict(config)
    config.pop("daemon", None)
    if "authkey" in config:
        config["authkey"] = multiprocessing.process.AuthenticationString(bytes(config["authkey"]))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


def _exit_with_parent(parent_pid: int) -> None:
    """A worker killed outright (SIGKILL, out of memory) cannot stop its parser processes, which
    would wait for work forever: they watch for it themselves."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
