"""Heedful settings, read from the environment (see the README's table).

The embedded default needs nothing set: SQLite under var/, Huey on a SQLite
file, the in-memory channel layer, a secret key generated once under var/.
DATABASE_URL and REDIS_URL move the same code onto PostgreSQL and Redis.
"""

import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ

from heedful.paths import PACKAGE_DIR, data_dir

env = environ.Env()
DATA_DIR = data_dir()
TESTING = "pytest" in sys.modules or os.environ.get("HEEDFUL_TESTING") == "1"


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    if value := os.environ.get("SECRET_KEY"):
        return value
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Written to a private temp file and linked into place: two processes starting
        # together agree on one key and nobody reads a half-written file.
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("HEEDFUL_DEBUG", default=False)

BASE_URL = env.str("HEEDFUL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(BASE_URL)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=sorted({"127.0.0.1", "localhost", _base.hostname or "localhost"})
)
if TESTING:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"{_base.scheme}://{_base.netloc}"]
)

# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto / Host headers.
if env.bool("HEEDFUL_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
_https = _base.scheme == "https"
SESSION_COOKIE_SECURE = env.bool("HEEDFUL_SECURE_COOKIES", default=_https)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("HEEDFUL_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("HEEDFUL_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "huey.contrib.djhuey",
    "template_partials",
    "heedful.core",
    "heedful.accounts",
    "heedful.customers",
    "heedful.inboxes",
    "heedful.conversations",
    "heedful.automation",
    "heedful.service_levels",
    "heedful.surveys",
    "heedful.insights",
    "heedful.search",
    "heedful.knowledge",
    "heedful.portal",
    "heedful.workspace",
]

MIDDLEWARE = [
    "heedful.core.timing.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "heedful.accounts.middleware.AgentTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "heedful.core.headers.WorkspaceContentPolicyMiddleware",
    "heedful.knowledge.tracking.TrackingCookieMiddleware",
]

ROOT_URLCONF = "heedful.urls"
ASGI_APPLICATION = "heedful.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/app/login/"
LOGIN_REDIRECT_URL = "/app/"
LOGOUT_REDIRECT_URL = "/app/login/"
AUTHENTICATION_BACKENDS = ["heedful.accounts.backends.RoleBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing strength is not under test; a slow hasher only slows every fixture.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "heedful.workspace.context.workspace",
            ],
        },
    }
]

# --- database -------------------------------------------------------------

SQLITE_PATH = DATA_DIR / "heedful.sqlite3"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
DATABASE_VENDOR = "sqlite" if "sqlite" in DATABASES["default"]["ENGINE"] else "postgresql"

# SQLite's page cache per connection. `heedful worker` lowers it (heedful.cli): its
# connections, one per thread, mostly write, and reads gain little from a big cache.
_SQLITE_CACHE_KIB = env.int("HEEDFUL_SQLITE_CACHE_MIB", default=64) * 1024

if DATABASE_VENDOR == "sqlite":
    # IMMEDIATE transactions take the write lock up front, so web and worker
    # queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            # A backstop only: the worker checkpoints once a second (core.checkpoint).
            "PRAGMA wal_autocheckpoint=10000;"
            "PRAGMA busy_timeout=30000;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA temp_store=MEMORY;"
            f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB};"
        ),
    }
    # Tests use a file, not shared-cache memory, so threads get real WAL locking;
    # one per test run, so parallel runs on one machine don't share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"heedful-test-{os.getpid()}.sqlite3")
    }
else:
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # Off in tests: pooled connections held by server threads block dropping the test DB.
    if env.bool("HEEDFUL_DB_POOL", default=not TESTING):
        options["pool"] = {"min_size": 1, "max_size": env.int("HEEDFUL_DB_POOL_SIZE", default=10)}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- background work, real time, cache ------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

HUEY: dict[str, Any]
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env.str("HEEDFUL_HUEY_NAME", default="heedful"),
        "url": REDIS_URL,
        "immediate": TESTING,
        # In tests tasks run inline but still go through Redis storage.
        "immediate_use_memory": False,
        "consumer": {"workers": env.int("HEEDFUL_WORKERS", default=4), "worker_type": "thread"},
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "heedful",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": TESTING,
        "consumer": {"workers": env.int("HEEDFUL_WORKERS", default=2), "worker_type": "thread"},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Room for rendered messages (workspace.fragments), not the default 300 entries.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

# How often (at most) a live socket re-reads its agent (active, teams, session):
# losing access stops the stream within this many seconds of the next push.
HEEDFUL_LIVE_RECHECK_SECONDS = env.float("HEEDFUL_LIVE_RECHECK_SECONDS", default=5.0)

# --- email -----------------------------------------------------------------

# Unset: outgoing mail is written to files under var/outbox so nothing is lost.
# (django-environ drops the leading slash of filemail:///abs/path, so the default
# is spelled out rather than written as a URL.)
_email: dict[str, Any] = {
    "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    "EMAIL_FILE_PATH": str(DATA_DIR / "outbox"),
}
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    if _email.get("EMAIL_FILE_PATH") and env.str("EMAIL_URL").startswith("filemail:///"):
        _email["EMAIL_FILE_PATH"] = "/" + _email["EMAIL_FILE_PATH"].lstrip("/")
if TESTING:
    _email = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
vars().update(_email)
if "EMAIL_FILE_PATH" in _email or _email.get("EMAIL_BACKEND", "").endswith(
    "filebased.EmailBackend"
):
    EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH") or str(DATA_DIR / "outbox")
# Well below HEEDFUL_DELIVERY_LEASE_SECONDS, so a hung SMTP server cannot outlive a lease.
EMAIL_TIMEOUT = env.int("HEEDFUL_EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- files -----------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_ROOT = Path(env.str("HEEDFUL_MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: attachments go through the access rule

STORAGES: dict[str, Any] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if bucket := env.str("HEEDFUL_S3_BUCKET", default=""):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env.str("HEEDFUL_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("HEEDFUL_S3_REGION", default="") or None,
            "access_key": env.str("HEEDFUL_S3_ACCESS_KEY", default="") or None,
            "secret_key": env.str("HEEDFUL_S3_SECRET_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
SERVESTATIC_USE_FINDERS = DEBUG or TESTING
SERVESTATIC_AUTOREFRESH = DEBUG

# Upload limits (web form and API). Larger bodies are refused with a clear error.
HEEDFUL_MAX_ATTACHMENT_BYTES = env.int("HEEDFUL_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
HEEDFUL_MAX_ATTACHMENTS = env.int("HEEDFUL_MAX_ATTACHMENTS", default=5)
# The largest raw email accepted (bigger ones keep their headers, quarantined).
HEEDFUL_MAX_EMAIL_BYTES = env.int("HEEDFUL_MAX_EMAIL_BYTES", default=25 * 1024 * 1024)
# What a form needs beside its files (the web form allows its attachments plus this).
HEEDFUL_MAX_FORM_BYTES = 2 * 1024 * 1024
# Every other form is held to this (login, contact, admin): an anonymous post may not
# make Django hold more in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = HEEDFUL_MAX_FORM_BYTES
# Mail providers post a whole message as one form field or JSON string (base64 inside
# JSON): the webhook view reads its own body up to this, so the largest email fits.
HEEDFUL_MAX_WEBHOOK_BYTES = HEEDFUL_MAX_EMAIL_BYTES * 4 // 3 + HEEDFUL_MAX_FORM_BYTES
# Whole request bodies (core.bodylimit): every allowed attachment plus the form,
# or the largest provider webhook, whichever is more.
HEEDFUL_MAX_REQUEST_BYTES = env.int(
    "HEEDFUL_MAX_REQUEST_BYTES",
    default=max(
        HEEDFUL_MAX_ATTACHMENTS * HEEDFUL_MAX_ATTACHMENT_BYTES + HEEDFUL_MAX_FORM_BYTES,
        HEEDFUL_MAX_WEBHOOK_BYTES,
    ),
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- locale ----------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("HEEDFUL_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
HEEDFUL_PHONE_REGION = env.str("HEEDFUL_PHONE_REGION", default="US")

# --- product settings --------------------------------------------------------

HEEDFUL_CONTACT_RATE = env.str("HEEDFUL_CONTACT_RATE", default="10/h")
# Posts to the public survey page, per client address (surveys.views).
HEEDFUL_SURVEY_RATE = env.str("HEEDFUL_SURVEY_RATE", default="30/m")
# Help center and portal (knowledge, portal). A help-center visit ends after this many
# idle minutes; the languages articles may be written in, the first the default.
HEEDFUL_HELP_SESSION_MINUTES = env.int("HEEDFUL_HELP_SESSION_MINUTES", default=30)
HEEDFUL_HELP_LANGUAGES = env.list("HEEDFUL_HELP_LANGUAGES", default=["en"])
# Portal sign-in: link lifetime, and requests for a link per client address and email.
HEEDFUL_PORTAL_LINK_MINUTES = env.int("HEEDFUL_PORTAL_LINK_MINUTES", default=15)
HEEDFUL_PORTAL_SIGNIN_RATE = env.str("HEEDFUL_PORTAL_SIGNIN_RATE", default="5/h")
# Help-center search and votes, per client address.
HEEDFUL_HELP_RATE = env.str("HEEDFUL_HELP_RATE", default="120/m")
# Sign-in throttling: a window, never a lockout. Per client address and email, and per
# client address alone (several agents may share one office address).
HEEDFUL_LOGIN_RATE = env.str("HEEDFUL_LOGIN_RATE", default="5/m")
HEEDFUL_LOGIN_IP_RATE = env.str("HEEDFUL_LOGIN_IP_RATE", default="60/m")
HEEDFUL_PASSWORD_RESET_RATE = env.str("HEEDFUL_PASSWORD_RESET_RATE", default="10/h")
# PostgreSQL may commit event ids out of order; consumers read this far behind.
HEEDFUL_OUTBOX_LAG_SECONDS = env.float(
    "HEEDFUL_OUTBOX_LAG_SECONDS", default=0.0 if DATABASE_VENDOR == "sqlite" else 2.0
)
HEEDFUL_DELIVERY_LEASE_SECONDS = env.int("HEEDFUL_DELIVERY_LEASE_SECONDS", default=120)
HEEDFUL_DELIVERY_MAX_ATTEMPTS = env.int("HEEDFUL_DELIVERY_MAX_ATTEMPTS", default=5)
# First contact resolution: a reopen this many days after the first solve, or a new
# conversation from the same customer this many hours after it, is not a first-contact
# resolution (insights.facts). Change them, then run `heedful rebuild-metrics`.
HEEDFUL_FCR_REOPEN_DAYS = env.int("HEEDFUL_FCR_REOPEN_DAYS", default=7)
HEEDFUL_FCR_NEW_CONVERSATION_HOURS = env.int("HEEDFUL_FCR_NEW_CONVERSATION_HOURS", default=72)
# Inbox credentials are encrypted with this key, not SECRET_KEY (inboxes.secrets).
HEEDFUL_SECRETS_KEY = env.str("HEEDFUL_SECRETS_KEY", default="")
HEEDFUL_SECRETS_KEY_FILE = env.str(
    "HEEDFUL_SECRETS_KEY_FILE", default=str(DATA_DIR / "secrets.key")
)
# Email: hard bounces before an address is suppressed, and the window within
# which one sender gets at most one automatic acknowledgment.
HEEDFUL_BOUNCE_SUPPRESS_AFTER = env.int("HEEDFUL_BOUNCE_SUPPRESS_AFTER", default=3)
HEEDFUL_AUTOREPLY_WINDOW_HOURS = env.float("HEEDFUL_AUTOREPLY_WINDOW_HOURS", default=24.0)
# Seconds an agent has to take back a reply before it is handed to its channel.
HEEDFUL_UNDO_SECONDS = env.int("HEEDFUL_UNDO_SECONDS", default=0 if TESTING else 5)
RATELIMIT_VIEW = "heedful.portal.views.rate_limited"
# Behind a proxy the client address is in a header the proxy sets (X-Real-IP).
RATELIMIT_IP_META_KEY = env.str("HEEDFUL_CLIENT_IP_HEADER", default="REMOTE_ADDR")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HEEDFUL_LOG_LEVEL", default="INFO")},
    "loggers": {"huey": {"level": "WARNING"}},
}
