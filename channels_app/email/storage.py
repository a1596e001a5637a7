"""Raw messages are stored first, content-addressed, so a re-fetch after a crash rewrites the
same file instead of piling up copies."""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def store_raw(raw: bytes) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    path = f"raw/{digest[:2]}/{digest}.eml"
    if not default_storage.exists(path):
        saved = default_storage.save(path, ContentFile(raw))
        if saved != path:  # lost a race with another worker storing the same bytes
            default_storage.delete(saved)
    return path
