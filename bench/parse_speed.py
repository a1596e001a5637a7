"""Parsing speed: messages per second of `parse_email` over a folder of .eml files, repeated.

The IMAP sync must reach 300 messages/s end to end (fetch, store, parse, insert), so parsing has to
be a small share of that. Defaults to the parser's test corpus; point it at any folder of .eml files
(a Maildir's cur/, a dump of real mail) with --dir.

    .venv/bin/python -m missive.services exec -- .venv/bin/python bench/parse_speed.py [--dir DIR]
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
import django

django.setup()

from channels_app.email.parsing import parse_email


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=BASE_DIR / "tests" / "channels_app" / "eml")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to keep parsing")
    args = parser.parse_args()
    corpus = [path.read_bytes() for path in sorted(args.dir.rglob("*")) if path.is_file()]
    if not corpus:
        sys.exit(f"No files in {args.dir}")
    size = sum(map(len, corpus))
    parsed = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < args.seconds:
        for raw in corpus:
            parse_email(raw)
        parsed += len(corpus)
    print(
        f"parse_email: {parsed / elapsed:,.0f} messages/s, {parsed * size / len(corpus) / elapsed / 1e6:.1f} MB/s "
        f"({len(corpus)} files averaging {size // len(corpus):,} bytes, {parsed:,} parses in {elapsed:.1f} s)"
    )


if __name__ == "__main__":
    main()
