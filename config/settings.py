"""金仕会 CRM settings: one module, driven by environment variables.

Development (``make run``) sets ``DJANGO_DEBUG=1``; production leaves it unset and must provide
``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL`` (see docs/deployment.md).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
TESTING = env_bool("CRM_TESTING")

SECRET_KEY = env("SECRET_KEY") or ""
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "dev-only-insecure-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789"  # noqa: S105
    else:
        raise ImproperlyConfigured("生产环境必须设置环境变量 SECRET_KEY(SECRET_KEY must be set).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The app is served under this prefix ("CRM/" as in the club's manual: http://CRMSERVER/CRM).
# Set it to "" when a reverse proxy already mounts the app under a sub-path (SCRIPT_NAME).
URL_PREFIX = (env("CRM_URL_PREFIX", "CRM/") or "").strip("/")
URL_PREFIX = f"{URL_PREFIX}/" if URL_PREFIX else ""

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks_db",
    "django_htmx",
    "axes",
    "ninja",  # the API page (/api/v1/docs) then takes Swagger UI from ninja's static files, not from a CDN
    "crm.core",
    "crm.accounts",
    "crm.workflow",
    "crm.customers",
    "crm.loyalty",
]
if TESTING:
    INSTALLED_APPS.append("crm.workflow.testing")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crm.core.middleware.ApiErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crm.core.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.accounts.middleware.SessionTimeoutMiddleware",
    "crm.accounts.middleware.InitialPasswordMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

if not (DEBUG or TESTING):
    # Production serves its own static files (compressed, cached forever by hashed name).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "crm.core.views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.core.context_processors.shell",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'crm.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; "
                "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=134217728; PRAGMA cache_size=-65536;"
            ),
        }
    )
else:
    DATABASES["default"]["TEST"] = {"TEMPLATE": "template0", "CHARSET": "UTF8"}
    # The tables a club holds fit in memory (the 1,000,000-customer benchmark's table and indexes: ~740 MB): a
    # random read costs about what a sequential one does, and PostgreSQL's default (4) makes the planner read the
    # whole of a salesman's index to save heap fetches of a few hundred search hits (docs/performance.md).
    if page_cost := env("DB_RANDOM_PAGE_COST", "1.1"):
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={float(page_cost)}"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "crm.accounts.backends.RoleBackend",
]

PASSWORD_HASHERS = [
    "crm.accounts.hashers.TunedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "crm.accounts.validators.NotInitialPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# The initial password for new and reset accounts: a fixed value (the manual's 123456) or "random"
# for a random one per user, shown once to the administrator. It only opens the change-password page.
CRM_INITIAL_PASSWORD = env("CRM_INITIAL_PASSWORD", "123456")
CRM_INITIAL_PASSWORD_DAYS = env_int("CRM_INITIAL_PASSWORD_DAYS", 7)

# Sessions: idle timeout, absolute cap; rotated at login and on password change.
CRM_SESSION_IDLE_SECONDS = env_int("CRM_SESSION_IDLE_MINUTES", 30) * 60
SESSION_COOKIE_AGE = env_int("CRM_SESSION_MAX_HOURS", 12) * 3600
SESSION_COOKIE_NAME = "crm_sessionid"
CSRF_COOKIE_NAME = "crm_csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# django-axes: lock (username, IP) pairs, never a whole office behind one NAT; cool-off, reset on success.
AXES_FAILURE_LIMIT = env_int("CRM_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CRM_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.accounts.views.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # amounts and points grouped by thousands (intcomma, floatformat:"g")
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = f"/{URL_PREFIX}static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if (DEBUG or TESTING)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = BASE_DIR / "var" / "media"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Content Security Policy: every asset is served by the app itself.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Lists: the most rows an export writes, and the cap of the shown count ("10,000+").
CRM_EXPORT_MAX_ROWS = env_int("CRM_EXPORT_MAX_ROWS", 100_000)
CRM_LIST_COUNT_CAP = env_int("CRM_LIST_COUNT_CAP", 10_000)
# Imports: the largest file, how far an .xlsx may unpack (zip bombs), the most data rows in one file.
CRM_IMPORT_MAX_BYTES = env_int("CRM_IMPORT_MAX_MB", 30) * 1_000_000
CRM_IMPORT_MAX_UNPACKED_BYTES = 400_000_000
CRM_IMPORT_MAX_ROWS = env_int("CRM_IMPORT_MAX_ROWS", 200_000)
# A commit or undo of more rows than this runs as a background task (``manage.py db_worker``) with progress.
CRM_IMPORT_BACKGROUND_ROWS = env_int("CRM_IMPORT_BACKGROUND_ROWS", 5_000)
# Where a background import writes its progress for the pages: a cache every web and task process can read.
CRM_PROGRESS_CACHE = "progress"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "progress": (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "progress"}
        if TESTING
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("CRM_PROGRESS_DIR") or str(BASE_DIR / "var" / "progress"),
        }
    ),
}
# An application whose every step was skipped (nobody above its applicant in his department line: a director's
# own) goes to the holders of this role other than the applicant, so that nothing is approved without a second
# person; empty: such an application is approved at once.
CRM_TOP_APPROVER_ROLE = env("CRM_TOP_APPROVER_ROLE", "总经理")
# Member card numbers: {year} is the year of approval, {seq} a sequence that never repeats.
CRM_CARD_NUMBER_PATTERN = env("CRM_CARD_NUMBER_PATTERN", "JSH{year}{seq:06d}")
# The integration API: how long a write's Idempotency-Key is remembered (at least 24 hours).
CRM_API_IDEMPOTENCY_HOURS = max(24, env_int("CRM_API_IDEMPOTENCY_HOURS", 48))
# A follow-up may not be dated in the future; this much clock difference between PCs is tolerated.
CRM_FOLLOWUP_CLOCK_SKEW = timedelta(minutes=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
