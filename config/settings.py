"""Fangyi settings: one file, driven by environment variables.

FANGYI_ENV selects a profile:
- ``dev`` (default): DEBUG on, local SQLite.
- ``demo``: what ``make run`` uses: DEBUG off behind granian (config/serve.py) on plain http://127.0.0.1, secret key
  kept in ``var/``, SMS outbox shown on the login page.
- ``production``: DEBUG off, HTTPS-only cookies, HSTS; SECRET_KEY and ALLOWED_HOSTS must be given.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FANGYI_VAR_DIR", BASE_DIR / "var"))

ENV = os.environ.get("FANGYI_ENV", "dev")
PRODUCTION = ENV == "production"
DEBUG = os.environ.get("FANGYI_DEBUG", "1" if ENV == "dev" else "0") == "1"


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set in production")
    # Demo and dev keep a generated key on disk so sessions survive a restart.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Earlier keys still verify signed codes (health code, sampling code) during a key rotation.
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k]

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "common",
    "territory",
    "audit",
    "people",
    "accounts",
    "notices",
    "venues",
    "dashboard",
    "testing",
    "health",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.AuthenticationMiddleware",  # Django's, the session's user cached a few seconds
    "accounts.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fangyi.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Connections persist between requests here too: opening one costs about 4 ms of CPU (Django
    # registers its SQL functions, the PRAGMAs run, SQLite parses the schema), four times a whole
    # verification. Each server thread keeps its own; WAL needs no long-lived read transaction.
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN,
        # so concurrent writers queue on busy_timeout instead of failing on a lock upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # psycopg prepares a statement run this many times on a connection, but only for cursors that
    # bind on the server: common.db.prepared_cursor, used by the few reads every request makes.
    # Django's own cursors bind on the client and are never prepared.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# Each test process gets its own test database, so suites run side by side (developers, CI steps).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The per-process cache holds sessions, health statuses and venue codes: at Django's default of 300
# entries a few hundred active residents evict each other and every request reads them back from
# the database.
CACHES = {
    "default": {
        "BACKEND": "common.cache.LocMemCache",  # Django's, with a bulk delete under one lock
        "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("FANGYI_CACHE_ENTRIES", "50000"))},
    }
}
if redis_url := os.environ.get("REDIS_URL"):
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}

SESSION_ENGINE = "accounts.sessions"  # database sessions; on PostgreSQL updates skip the WAL flush wait
SESSION_COOKIE_AGE = 12 * 3600  # absolute cap
SESSION_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_SECONDS", 30 * 60))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or ENV == "test"
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- Fangyi policies (defaults; administrators may change them) ---
FANGYI: dict[str, Any] = {
    # Login throttling: failures allowed per window, per account and per client address.
    "LOGIN_FAILURES_PER_ACCOUNT": 5,
    "LOGIN_FAILURES_PER_ADDRESS": 20,
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    # One-time SMS codes for residents.
    "OTP_TTL_SECONDS": 5 * 60,
    "OTP_MAX_ATTEMPTS": 5,
    "OTP_MIN_INTERVAL_SECONDS": 60,
    "OTP_PER_PHONE_PER_HOUR": 5,
    "OTP_PER_ADDRESS_PER_HOUR": 30,
    # The SMS backend: a dotted path; the default writes to a local outbox table.
    "SMS_BACKEND": os.environ.get("FANGYI_SMS_BACKEND", "notices.sms.OutboxBackend"),
    # Show the local SMS outbox to anyone (demo only: it lets a visitor read one-time codes).
    "SMS_OUTBOX_PUBLIC": ENV in {"demo", "dev"},
    "PAGE_SIZE": 50,
    # Health codes: the dynamic QR lives a minute; a sampling code is reusable for 30 days; a manual
    # status change touching more people than this needs a second approver from HQ.
    "HEALTH_CODE_TTL_SECONDS": 60,
    "SAMPLING_CODE_TTL_DAYS": 30,
    "STATUS_BULK_APPROVAL_THRESHOLD": 20,
    # Testing rounds: command HQ is texted when an open round passes its deadline, then again every
    # this many hours until it closes the round or sets a new deadline.
    "TESTING_OVERDUE_REMIND_HOURS": float(os.environ.get("FANGYI_OVERDUE_REMIND_HOURS", "2")),
    # How long a server process may trust its cached copy of a bearer token, its user and their
    # memberships (a change saved through the models clears it at once in that process, and everywhere
    # with REDIS_URL; a revoked token or removed role stops working elsewhere within this many seconds).
    "API_TOKEN_CACHE_SECONDS": 5,
    # The same for the user of a session (accounts.sessions.session_user): a deactivated user or a
    # changed password is seen by the other server processes within this many seconds.
    "SESSION_USER_CACHE_SECONDS": 5,
    # Venue codes and check-ins (venues app).
    "VENUE_REVIEW_REQUIRED": os.environ.get("FANGYI_VENUE_REVIEW", "1") == "1",
    "CHECKIN_RETENTION_DAYS": 28,
    # Categories whose door also asks for a negative test within this many hours.
    "VENUE_NEGATIVE_TEST_HOURS": {"school": 48, "clinic": 48, "hotel": 48},
    "CHECKIN_MAX_PER_MINUTE": 6,  # more check-ins a minute by one account are flagged
    "CHECKIN_MAX_SPEED_KMH": 150,  # faster than this between two venues is flagged
    "CHECKIN_FLAG_MIN_KM": 2,  # below this distance, no speed check (GPS-free addresses are coarse)
    # How long a server process may answer a scan from its cached copy of the code (a revoked code
    # stops working at once on the process that revoked it, and everywhere with REDIS_URL).
    "VENUE_CODE_CACHE_SECONDS": 30,
    # Admission control (common.admission, the outermost WSGI layer in config/wsgi.py): requests
    # running at once per process, and how long an excess request may wait for a slot before it is
    # answered 503. 0 turns it off.
    "ADMISSION_MAX_CONCURRENT": int(os.environ.get("FANGYI_ADMISSION_MAX", "4")),
    "ADMISSION_QUEUE_WAIT_MS": int(os.environ.get("FANGYI_ADMISSION_WAIT_MS", "30")),
    "ADMISSION_RETRY_AFTER_SECONDS": 2,
    "ADMISSION_EXEMPT_PREFIXES": ("/static/",),
}
