"""The one settings file. Everything that differs between machines comes from the environment.

Every variable is listed in README.md ("Configuration"). Malformed values stop start-up with a
message naming the variable (see missive/env.py).
"""

from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from missive.env import env_bool, env_choice, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MISSIVE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# Development keys are fixed and public on purpose: they only work with DEBUG on.
_DEV_SECRET_KEY = "insecure-development-key-never-use-in-production-0123456789abcdef"  # noqa: S105
_DEV_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktbm90LXNlY3JldCE="

SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None, required=not DEBUG)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must not be the development key when DEBUG is off.")

# Credentials of connected accounts are encrypted with this key, kept apart from SECRET_KEY so
# that a leaked session-signing key does not expose mailbox passwords.
ENCRYPTION_KEY = env_str("ENCRYPTION_KEY", _DEV_ENCRYPTION_KEY if DEBUG else None, required=not DEBUG)
try:
    Fernet(ENCRYPTION_KEY.encode())
except ValueError:
    raise ImproperlyConfigured(
        "ENCRYPTION_KEY must be a urlsafe base64-encoded 32-byte key "
        '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
    ) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names the app is served on.")
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "inboxes",
    "conversations",
    "rules",
    "channels_app",
    "contacts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "channels_app.api.ratelimit.ApiRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "missive.middleware.ContentSecurityPolicyMiddleware",
    "missive.middleware.LiveTabMiddleware",
    "inboxes.status.StatusMiddleware",
]

ROOT_URLCONF = "missive.urls"
ASGI_APPLICATION = "missive.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Stores ---------------------------------------------------------------------------------
# `make run` / `make test` start embedded PostgreSQL and Redis (missive/embedded.py) and export
# their URLs; production passes real ones.
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "postgis"), required=True)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
DATABASES["default"].setdefault("OPTIONS", {})
# Page queries read a few dozen rows: starting parallel workers, or compiling a plan with JIT
# (which a search over many candidates can trigger), costs more than it saves.
DATABASES["default"]["OPTIONS"].setdefault(
    "options", "-c max_parallel_workers_per_gather=0 -c jit=off -c random_page_cost=1.1"
)
# A pool of open connections per process (psycopg_pool): a request or task borrows one instead of
# connecting anew, which costs more than a small request's queries. 0 turns it off; it cannot be
# combined with DB_CONN_MAX_AGE.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0, maximum=100)
if DB_POOL_MAX_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": 10}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"), required=True)
# One Redis pool per process (missive/cache.py), not one per request.
CACHES = {"default": {"BACKEND": "missive.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# --- Mail accounts ----------------------------------------------------------------------------
# Every account is polled this often (seconds); INBOX changes arrive sooner through IDLE.
IMAP_POLL_INTERVAL = env_int("IMAP_POLL_INTERVAL", 60, minimum=5)
# How long one IDLE watcher holds its connection before handing over to a fresh one.
IMAP_IDLE_SECONDS = env_int("IMAP_IDLE_SECONDS", 300, minimum=10, maximum=1740)
# A PEM bundle of extra certificate authorities to trust for IMAP/SMTP (a private CA).
IMAP_EXTRA_CA_FILE = env_str("IMAP_EXTRA_CA_FILE")
# How often (seconds) the outbox is checked for messages whose undo or send-later time came.
OUTBOX_POLL_INTERVAL = env_int("OUTBOX_POLL_INTERVAL", 5, minimum=1, maximum=60)
# The image proxy refuses private and loopback addresses (no requests into your network on an
# email's behalf) unless this is on.
IMAGE_PROXY_ALLOW_PRIVATE = env_bool("IMAGE_PROXY_ALLOW_PRIVATE", False)
# --- Internal chat ----------------------------------------------------------------------------
# The files of one comment together (seed: 100 MB on the free plan, 1 GB on paid plans).
COMMENT_ATTACHMENTS_MAX_MB = env_int("COMMENT_ATTACHMENTS_MAX_MB", 100, minimum=1, maximum=1024)
# --- Email out --------------------------------------------------------------------------------
# The files of one email together (seed: 25 MB; Microsoft 365 admins may allow up to 150 MB).
DRAFT_ATTACHMENTS_MAX_MB = env_int("DRAFT_ATTACHMENTS_MAX_MB", 25, minimum=1, maximum=150)
# --- AI provider of rules (an OpenAI-compatible chat-completions endpoint) -----------------------
# Empty: AI conditions never match and AI actions fail with a clear reason.
AI_BASE_URL = env_url("AI_BASE_URL", "", schemes=("http", "https")).rstrip("/")
AI_API_KEY = env_str("AI_API_KEY", "")
# Rule webhooks and one-click unsubscribes go to public addresses only, unless this allows
# private and loopback ones (a single-team install posting to its own network).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)
# --- The /v1 JSON API ------------------------------------------------------------------------
# Per API token, held in Redis (spec: 5 at once, 300 a minute, 900 in 15 minutes).
API_RATE_LIMIT_CONCURRENT = env_int("API_RATE_LIMIT_CONCURRENT", 5, minimum=1)
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 300, minimum=1)
API_RATE_LIMIT_PER_15_MINUTES = env_int("API_RATE_LIMIT_PER_15_MINUTES", 900, minimum=1)
# A request body larger than this is refused (spec: the whole JSON of a message ≤ 10 MB, base64
# attachments included).
API_MAX_BODY_MB = env_int("API_MAX_BODY_MB", 10, minimum=1, maximum=100)
# Django refuses larger bodies it reads into memory; the API's JSON is read whole, so the limit is
# the API's (forms' files stream to disk and are limited by their own settings).
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_MB * 1024 * 1024
# --- Twilio SMS and WhatsApp ---------------------------------------------------------------------
# Where Twilio's REST API answers (tests and the demo point it at a local fake). Twilio calls us
# back at SITE_URL, which must be the address it can reach.
TWILIO_API_BASE_URL = env_url("TWILIO_API_BASE_URL", "https://api.twilio.com", schemes=("http", "https")).rstrip("/")
# How long the unauthenticated link to an outgoing attachment (Twilio fetches MMS media) is valid.
TWILIO_MEDIA_URL_MAX_AGE = env_int("TWILIO_MEDIA_URL_MAX_AGE", 3600, minimum=60)

CELERY_BEAT_SCHEDULE = {
    # Rules: Delay checkpoints and SLA timers (unreplied / unassigned) fire within 30 s of their time.
    "fire-due-rule-timers": {
        "task": "rules.tasks.fire_due_timers",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # Snoozes come due to the second in the UI; 30 s is the lag users accept. A run that waited
    # longer than its interval is dropped: the next one wakes everything due by then.
    "wake-due-snoozes": {
        "task": "conversations.tasks.wake_due_snoozes",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # Send later: a scheduled draft goes out within 30 s of its time.
    "send-due-drafts": {
        "task": "conversations.tasks.send_due_drafts",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # Due dates are days: a reminder within minutes of the day starting is on time.
    "remind-due-tasks": {
        "task": "conversations.tasks.remind_due_tasks",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # Search documents are rebuilt after each change; this catches any kick that was lost.
    "index-search-backlog": {
        "task": "conversations.tasks.index_search_backlog",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Activity feed items are kept 30 days; an hour late is no matter.
    "delete-old-activity": {
        "task": "conversations.tasks.delete_old_activity",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # A scheduled Out of office starts and ends within a minute of its time.
    "apply-out-of-office-schedules": {
        "task": "inboxes.tasks.apply_out_of_office_schedules",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "sync-imap-accounts": {
        "task": "channels_app.tasks.schedule_imap_syncs",
        "schedule": float(IMAP_POLL_INTERVAL),
        "options": {"expires": IMAP_POLL_INTERVAL},
    },
    "watch-imap-inboxes": {
        "task": "channels_app.tasks.ensure_idle_watchers",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Rows due now are queued by the send action; this catches the delayed ones (undo window,
    # send later, retries) within seconds.
    "dispatch-outbox": {
        "task": "channels_app.tasks.dispatch_outbox",
        "schedule": float(OUTBOX_POLL_INTERVAL),
        "options": {"expires": OUTBOX_POLL_INTERVAL},
    },
    "reap-outbox": {
        "task": "channels_app.tasks.reap_outbox",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    "append-sent-copies": {
        "task": "channels_app.tasks.append_sent_copies",
        "schedule": 120.0,
        "options": {"expires": 120},
    },
    # Rule webhooks that failed are retried 30 s, 1, 2 and 4 min later; 15 s keeps that close.
    "deliver-due-webhooks": {
        "task": "rules.webhooks.deliver_due_webhooks",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
}

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("FILE_STORAGE_ROOT", str(VAR_DIR / "files"))},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Authentication (django-allauth) ----------------------------------------------------------
AUTH_USER_MODEL = "inboxes.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# New people join through an invitation into an organization; open sign-up is an operator choice.
ACCOUNT_ADAPTER = "inboxes.auth.AccountAdapter"
OPEN_SIGNUP = env_bool("OPEN_SIGNUP", False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Missive (self-hosted)")

# --- Outgoing system mail (invitations, password resets) --------------------------------------
EMAIL_BACKEND = env_choice(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
    choices=(
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.smtp.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
    ),
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Missive <noreply@localhost>")

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading commits the whole domain to HTTPS for months: the operator opts in, so the
# deployment checklist should not warn while it is off.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Locale -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
