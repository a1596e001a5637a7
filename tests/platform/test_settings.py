"""missive/settings.py refuses malformed environments and is deployable as configured.

Each case starts a fresh interpreter with a controlled environment, as a server would.
The URLs name closed loopback ports: settings only parse them, and nothing here connects.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]

DEVELOPMENT = {
    "DEBUG": "true",
    "DATABASE_URL": "postgres://missive:password@127.0.0.1:1/missive",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}
PRODUCTION = {
    **DEVELOPMENT,
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "inbox.example.com",
    "SITE_URL": "https://inbox.example.com",
}


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Nothing from the test session's environment leaks in, except what finds Python.
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MISSIVE_VAR_DIR": str(tmp_path)}
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "missive.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _setup(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return _run(["-c", "import django; django.setup()"], env, tmp_path)


def test_development_defaults_start(tmp_path: Path) -> None:
    result = _setup(DEVELOPMENT, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("base", "changes", "named"),
    [
        (DEVELOPMENT, {"DEBUG": "maybe"}, "DEBUG"),
        (DEVELOPMENT, {"DB_CONN_MAX_AGE": "abc"}, "DB_CONN_MAX_AGE"),
        (DEVELOPMENT, {"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        (DEVELOPMENT, {"DATABASE_URL": ""}, "DATABASE_URL"),
        (DEVELOPMENT, {"REDIS_URL": "http://x"}, "REDIS_URL"),
        (DEVELOPMENT, {"ENCRYPTION_KEY": "short"}, "ENCRYPTION_KEY"),
        (DEVELOPMENT, {"EMAIL_PORT": "70000"}, "EMAIL_PORT"),
        (DEVELOPMENT, {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        (DEVELOPMENT, {"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "EMAIL_USE_TLS"),
        (PRODUCTION, {"SECRET_KEY": ""}, "SECRET_KEY"),
        (PRODUCTION, {"ENCRYPTION_KEY": ""}, "ENCRYPTION_KEY"),
        (PRODUCTION, {"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ],
)
def test_malformed_value_stops_start_up_naming_the_variable(
    base: dict[str, str], changes: dict[str, str], named: str, tmp_path: Path
) -> None:
    env = {key: value for key, value in {**base, **changes}.items() if value != ""}
    result = _setup(env, tmp_path)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert named in last_line


def test_production_settings_pass_the_deployment_checklist(tmp_path: Path) -> None:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr


def test_env_example_with_its_blanks_filled_starts(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    # What the operator generates, and what docker-compose.yml adds.
    env |= {
        "SECRET_KEY": PRODUCTION["SECRET_KEY"],
        "ENCRYPTION_KEY": PRODUCTION["ENCRYPTION_KEY"],
        "POSTGRES_PASSWORD": "password",
        "DATABASE_URL": "postgres://missive:password@127.0.0.1:1/missive",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = _setup(env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_every_variable_read_is_documented() -> None:
    settings = (BASE_DIR / "missive" / "settings.py").read_text()
    services = (BASE_DIR / "missive" / "services.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', settings))
    read |= set(re.findall(r'os\.environ\.(?:get|setdefault)\(\s*"([A-Z_]+)"', services))
    assert {"SECRET_KEY", "DATABASE_URL", "PORT"} <= read  # the patterns still match
    readme = (BASE_DIR / "README.md").read_text()
    env_example = (BASE_DIR / ".env.example").read_text()
    assert [name for name in sorted(read) if f"| `{name}` |" not in readme] == []
    development_only = {"PORT", "EMBEDDED_REDIS_PORT", "EMBEDDED_POSTGRES_SHARED_BUFFERS"}
    in_example = set(re.findall(r"^#? ?([A-Z_]+)=", env_example, re.MULTILINE))
    assert sorted(read - development_only - in_example) == []
