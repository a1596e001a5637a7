"""Raw messages and attachments are stored first, content-addressed: a re-fetch after a crash
rewrites the same file instead of piling up copies, and the same attachment (a logo in every
signature) is kept once. Files are never deleted while a row may point at them."""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage


def store_raw(raw: bytes, storage: Storage = default_storage) -> str:
    return store_content(raw, "raw", ".eml", storage)


def store_attachment(content: bytes, storage: Storage = default_storage) -> str:
    return store_content(content, "attachments", "", storage)


def store_content(content: bytes, folder: str, suffix: str, storage: Storage = default_storage) -> str:
    digest = hashlib.sha256(content).hexdigest()
    path = f"{folder}/{digest[:2]}/{digest}{suffix}"
    if not storage.exists(path):
        saved = storage.save(path, ContentFile(content))
        if saved != path:  # lost a race with another worker storing the same bytes
            storage.delete(saved)
    return path
