"""Start-up shared by the benchmarks that run the web process (live, cowrite, api_messages).

Each gets a PostgreSQL database and a Redis database of its own, made before Django reads
DATABASE_URL and REDIS_URL, and production-like settings: DEBUG off with throwaway keys (set, not
defaulted: `missive.services exec`, which `make bench` runs them under, turns DEBUG on for
development), and no redirect to https, since loopback has no TLS.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit, urlunsplit


def set_up_django(database: str, redis_database: int) -> None:
    import psycopg
    from cryptography.fernet import Fernet

    server = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(server), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = urlunsplit(server._replace(path=f"/{database}"))
    redis_url = urlsplit(os.environ["REDIS_URL"])
    if redis_url.scheme in ("redis", "rediss"):
        os.environ["REDIS_URL"] = urlunsplit(redis_url._replace(path=f"/{redis_database}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,testserver"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    import django

    django.setup()
