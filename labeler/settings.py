"""Settings read from the environment; a fresh checkout runs with none of them set.

Defaults are the embedded mode (SQLite in WAL mode, in-process channel layer, Huey
on a local SQLite store). `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and
Redis. No I/O happens here: `var/` and the secret key are created by `manage.py
bootstrap` (run by `make run` and `make test`).
"""
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LABELER_VAR_DIR", BASE_DIR / "var")).resolve()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _env_number(name: str, default, convert, what: str):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return convert(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {what}, got {raw!r}") from None


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def read_secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    # Before `bootstrap` has written var/secret_key (for example `manage.py bootstrap`
    # itself): an ephemeral key that no session outlives.
    return "unset-" + os.urandom(24).hex()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = read_secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "huey.contrib.djhuey",
    "annotations",
    "activelearning",
    "frontend",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "labeler.db_busy.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "labeler.urls"
ASGI_APPLICATION = "labeler.asgi.application"

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
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
# How long a write waits for another's lock (SQLite's busy timeout, PostgreSQL's
# lock_timeout) before the request is answered 503 with Retry-After (labeler/db_busy.py).
DB_LOCK_TIMEOUT_S = env_int("LABELER_DB_LOCK_TIMEOUT_S", 20)
# PostgreSQL connections kept open per process; each request borrows one.
DB_POOL_MAX = env_int("LABELER_DB_POOL_MAX", 16)
# Threads serving HTTP requests in each web process (labeler/http_bridge.py): how many
# requests run at once; the others wait for a free thread.
LABELER_WEB_THREADS = env_int("LABELER_WEB_THREADS", 16)
# Seconds between two `progress.changed` events for one project from one process: the
# changes in between are told as one (annotations/progress_ticks.py); 0 tells each.
LABELER_PROGRESS_TICK_S = env_float("LABELER_PROGRESS_TICK_S", 1.0)
if DATABASE_URL:
    # A pool rather than a connection per thread: a request borrows an open connection
    # and gives it back, and so do the job workers' and websockets' threads, so the
    # process never holds more than the pool's size (PostgreSQL's max_connections ran
    # out under load with a connection per thread, bench/http_latency.py).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        _options["options"] = f"{_options.get('options', '')} -c lock_timeout={DB_LOCK_TIMEOUT_S * 1000}".strip()
        if DB_POOL_MAX > 0:
            _options["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX, "timeout": DB_LOCK_TIMEOUT_S}
else:
    DATABASES = {
        "default": {
            "ENGINE": "labeler.sqlite_backend",
            "NAME": VAR_DIR / "labeler.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two claims never both
                # read an item as free; WAL lets readers go on meanwhile.
                "transaction_mode": "IMMEDIATE",
                "timeout": DB_LOCK_TIMEOUT_S,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": os.environ.get("LABELER_TEST_SQLITE") or None},
            # Kept open by the web server's request threads (labeler/http_bridge.py),
            # which live as long as the process: no new connection per request.
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # In memory, passed on to the installation's other processes (labeler/fanout_layer.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "labeler.fanout_layer.FanOutChannelLayer"}}

HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("HUEY_NAME", "labeler"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("WORKER_THREADS", 2), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "labeler.jobqueue.LocalHuey",
        "name": "labeler",
        "filename": str(VAR_DIR / "jobs.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("WORKER_THREADS", 2), "worker_type": "thread"},
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
AUTHENTICATION_BACKENDS = [
    "labeler.login_limits.LoginLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins (django-axes), counted per username and client address: past the limit
# the login page refuses that pair for the cool-off; a successful login clears the count.
AXES_FAILURE_LIMIT = env_int("LABELER_LOGIN_ATTEMPTS", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LABELER_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "labeler.login_limits.locked_out_response"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
MODEL_DIR = VAR_DIR / "models"
# Serve static files straight from the finders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads above this go to a temporary file and are streamed from there.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
LABELER_MAX_IMPORT_BYTES = env_int("LABELER_MAX_IMPORT_BYTES", 512 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Images: one upload may hold many files; each is decoded before it is kept.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("LABELER_MAX_UPLOAD_FILES", 1000)
LABELER_MAX_IMAGE_PIXELS = env_int("LABELER_MAX_IMAGE_PIXELS", 50_000_000)
LABELER_MAX_ZIP_BYTES = env_int("LABELER_MAX_ZIP_BYTES", 4 * 1024 * 1024 * 1024)
LABELER_MAX_ZIP_FILES = env_int("LABELER_MAX_ZIP_FILES", 100_000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "annotations.token_auth.CompiledTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "labeler.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "annotations.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "labeler API",
    "DESCRIPTION": "Labeling with active learning in the loop.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Three `split` choice sets: an item's split, where a text import puts rows, and
    # where uploaded images go.
    "ENUM_NAME_OVERRIDES": {
        "ItemSplitEnum": "annotations.models.Item.Split",
        "ImportSplitEnum": "annotations.importing.SPLITS",
        "MediaSplitEnum": ["pool", "eval"],
    },
}

# How long a claimed item stays reserved for its annotator.
LABELER_LEASE_SECONDS = env_int("LABELER_LEASE_SECONDS", 30 * 60)

# Progress bars: projects with fewer items are counted on every claim; larger ones are
# served from a snapshot at most this many seconds old (annotations/progress.py).
LABELER_PROGRESS_EXACT_BELOW = env_int("LABELER_PROGRESS_EXACT_BELOW", 50_000)
LABELER_PROGRESS_MAX_AGE_S = env_int("LABELER_PROGRESS_MAX_AGE_S", 3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"huey": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# Set when a proxy (nginx) stands in front of the web processes: `manage.py serve` then
# takes the client's address and scheme from its X-Forwarded-* headers.
LABELER_BEHIND_PROXY = env_bool("LABELER_BEHIND_PROXY", False)

if not DEBUG and env_bool("LABELER_SECURE", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("LABELER_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("LABELER_HSTS_PRELOAD", True)
    # Behind a proxy that ends TLS, the proxy's X-Forwarded-Proto says the request was
    # https; without it every request would look plain and be redirected forever.
    if LABELER_BEHIND_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
