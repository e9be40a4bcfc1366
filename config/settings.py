"""revops settings: one module, every knob from the environment.

REVOPS_ENV=development (the default) runs the embedded setup: a SQLite file, a
broker on the filesystem, mail written to files, demo-friendly defaults.
REVOPS_ENV=production demands the real things (DATABASE_URL, REDIS_URL,
SECRET_KEY, ALLOWED_HOSTS) and refuses to start without them.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    env_timezone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state of the embedded mode (SQLite file, broker folder, mail, beat schedule).
DATA_DIR = Path(env_str("REVOPS_DATA_DIR", str(BASE_DIR / "var"))).resolve()

REVOPS_ENV = env_choice("REVOPS_ENV", "development", {"development", "production"})
PRODUCTION = REVOPS_ENV == "production"

# Off unless asked for: Django's debug page shows settings and code to whoever
# triggers an error. `make run` asks (DEBUG=1), nothing else does.
DEBUG = env_bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when REVOPS_ENV=production.")

_DEV_SECRET = "dev-only-insecure-key-for-the-embedded-mode-never-use-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", None if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters in production.")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in production (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "revops",
    "leads",
    "sla",
    "reports",
    # The wiring (this package), an app for its admin pages that span apps (config/admin.py).
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response from here on (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # 503 + Retry-After instead of 500 while the database is out of reach; above
    # the session and auth middleware, the first to query it.
    "revops.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "revops.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout flagged during authentication into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# Django's own CSRF page has an inline style that the Content-Security-Policy refuses.
CSRF_FAILURE_VIEW = "revops.views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "revops.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "django.template.context_processors.i18n",
                "config.context_processors.navigation",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", {"postgres", "postgresql", "sqlite"})
if PRODUCTION and not (DATABASE_URL and DATABASE_URL.startswith(("postgres://", "postgresql://"))):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("DB_JIT", False):
        # PostgreSQL's JIT compiles any query its estimate calls expensive; on
        # our short page queries at a million leads that costs more than the
        # query (/team/ 240 -> 105 ms without it, bench/README.md). Off for our
        # connections; DB_JIT=1 leaves the server's setting (needed behind a
        # pooler that refuses startup options: set jit=off on the database there).
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    # The embedded default. WAL lets the web process read while the worker
    # writes; IMMEDIATE takes the write lock at BEGIN so two writers queue on
    # the busy timeout instead of failing with "database is locked" mid-transaction.
    DATA_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "revops.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
# Covering indexes (Index(include=…), e.g. leads' lead_by_id_idx) are for
# PostgreSQL; SQLite builds them without the extra columns, which is all right
# for the embedded mode's small data, so its warning about that is silenced.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
# Reports may read from a second database, in production a PostgreSQL streaming
# replica of DATABASE_URL (README, "Reports on a read replica"): the alias
# "reports", used by reports/ through reports.routers; writes always go to
# "default" and nothing is migrated there. Unset: reports read "default".
REPORTS_DATABASE_URL = env_url("REPORTS_DATABASE_URL", {"postgres", "postgresql", "sqlite"})
REPORTS_DB_ALIAS = "default"
if REPORTS_DATABASE_URL:
    REPORTS_DB_ALIAS = "reports"
    DATABASES[REPORTS_DB_ALIAS] = dj_database_url.parse(
        REPORTS_DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
    _reports_db = DATABASES[REPORTS_DB_ALIAS]
    if _reports_db["ENGINE"] == "django.db.backends.postgresql" and not env_bool("DB_JIT", False):
        _reports_db.setdefault("OPTIONS", {})["options"] = "-c jit=off"  # as for default
    # Tests never create a second test database: the alias mirrors default's.
    DATABASES[REPORTS_DB_ALIAS]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["reports.routers.ReportsRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache and broker ------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss"})
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is required in production (the Celery broker and the cache).")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Short timeouts: the cache only backs rate limits, which fail open.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task not acknowledged within this time is delivered again; our tasks
        # are short and idempotent, so a redelivery after a crash is harmless.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300, minimum=30),
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
else:
    # kombu's filesystem transport: one folder in and out, nothing to install.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(DATA_DIR / "celerybeat-schedule")
)
# Requests a minute from one address to the intake API (a relaying server
# counts as one address, so this is generous); per-key limits are on the key.
INTAKE_RATE_LIMIT_PER_IP = env_int("INTAKE_RATE_LIMIT_PER_IP", 600, minimum=1)
# Wrong or missing intake keys one address may send in INTAKE_BAD_KEY_WINDOW
# seconds before every intake request from it answers 429 until the window ends
# (guessing keys must be slow; a relaying server with a right key never fails).
INTAKE_BAD_KEY_LIMIT_PER_IP = env_int("INTAKE_BAD_KEY_LIMIT_PER_IP", 20, minimum=1)
INTAKE_BAD_KEY_WINDOW = env_int("INTAKE_BAD_KEY_WINDOW", 600, minimum=1)
# How long a process keeps the small reference tables (stages, products,
# campaigns, routing rules, SLA policies) before reading them again; changes
# made in another process show within this many seconds (revops/refcache.py).
REFERENCE_CACHE_SECONDS = env_float("REFERENCE_CACHE_SECONDS", 5.0, minimum=0.0)
# How often beat triggers the SLA sweep (seconds).
SLA_SWEEP_INTERVAL = env_float("SLA_SWEEP_INTERVAL", 2.0, minimum=0.5)

# --- auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if not PRODUCTION and env_bool("REVOPS_FAST_PASSWORD_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Sign-in lockouts (django-axes, revops/signin.py): wrong passwords are counted
# per (user name, client address) PAIR, so one address cannot lock every rep out
# and nobody can lock a user out from another address. The lock lasts
# LOGIN_COOLOFF_MINUTES after the last failure and doubles with every further
# LOGIN_FAILURE_LIMIT failures, up to LOGIN_COOLOFF_MAX_MINUTES; an admin unlocks
# early in the admin (Axes > access attempts) or with `manage.py axes_reset_username`.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
LOGIN_COOLOFF_MAX_MINUTES = env_int("LOGIN_COOLOFF_MAX_MINUTES", 24 * 60, minimum=LOGIN_COOLOFF_MINUTES)
# How many proxies in front of the app append to X-Forwarded-For; the client's
# address is the entry that many places from the right (the proxy's own view of
# it), never one the client wrote. 0: REMOTE_ADDR. A TLS proxy is one hop.
TRUSTED_PROXY_COUNT = env_int(
    "TRUSTED_PROXY_COUNT", 1 if env_bool("BEHIND_TLS_PROXY", False) else 0, minimum=0, maximum=10
)
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked pair before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# A number, not a callable: the axes admin then shows which pairs are locked.
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = "revops.signin.cool_off"
# Each pair's attempts expire on their own (a long lock is not cleaned away by
# another pair's short one).
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "revops.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "revops.signin.lockout_response"
# The log names the user name and the address (the password is always masked).
AXES_SENSITIVE_PARAMETERS = []
# No row per successful sign-in: nothing would ever purge that table.
AXES_DISABLE_ACCESS_LOG = True

# API tokens (revops/tokens.py): one per POST /api/v1/auth/token/, hashed at
# rest, valid this many days, revoked by a password change or deactivation.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 30, minimum=1, maximum=3650)

# --- i18n and time -------------------------------------------------------------
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "ru", {code for code, _label in LANGUAGES})
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date style per context, per language (revops/formats/). Numbers are grouped
# where they are shown (|intcomma, |money), not by USE_THOUSAND_SEPARATOR, which
# would also group ids inside form values and URLs built in templates.
FORMAT_MODULE_PATH = ["revops.formats"]
TIME_ZONE = env_timezone("TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "RUB")

# --- static files -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production whitenoise serves straight from the source folders, so
# `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# --- email -----------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = DATA_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "revops <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach the site from outside: links in emails to clients (a nurture
# track's unsubscribe link, leads/tracks.py) are built on it.
SITE_URL = env_str("SITE_URL", None if PRODUCTION else "http://127.0.0.1:8000").rstrip("/")
if PRODUCTION and not SITE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "SITE_URL must be the site's https:// address in production (links in emails)."
    )

# --- security (production) ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles and everything else only
# from our own origin, so an injected <script>, onclick= or style= does nothing.
# Templates therefore hold no inline code: JS lives in static/js (data passed
# with json_script or data- attributes), styles in static/css; htmx runs with
# allowEval off and its indicator style in app.css (templates/base.html). Pages
# that differ say so in their view: the site form may be framed by its own
# sites (leads/site_forms.py), the API docs show data: images (revops/api_docs.py),
# the browsable API applies DRF's style="" attributes (revops/browsable_api.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- REST API ---------------------------------------------------------------------------
# One empty-choice label in every select and filter (pages and forms alike).
EMPTY_CHOICE_LABEL = "—"
FILTERS_EMPTY_CHOICE_LABEL = EMPTY_CHOICE_LABEL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "revops.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "revops.api.Pagination",
    # JSON with a size cap and a nesting limit (revops/api.py); forms as DRF has them.
    "DEFAULT_PARSER_CLASSES": [
        "revops.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's two, with the browsable API's pages allowed their style="" attributes
    # under the Content-Security-Policy (revops/browsable_api.py).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "revops.browsable_api.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "revops.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "revops API",
    "DESCRIPTION": "Leads, the SLA clock and the shared funnel of sales and marketing.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation's error codes, in the one error shape (revops/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "revops.schema.error_responses",
    ],
    # Several fields are called "channel" with different choices; name each set.
    "ENUM_NAME_OVERRIDES": {
        "EntryChannelEnum": "leads.choices.EntryChannel",
        "IntakeChannelEnum": "leads.choices.IntakeChannel",
        "AttemptChannelEnum": "leads.choices.AttemptChannel",
        "NotificationChannelEnum": "sla.models.NotificationChannel",
        "DisputeOutcomeEnum": "leads.choices.DisputeOutcome",
        "OutcomeEnum": "leads.choices.AttemptOutcome",  # its name before disputes had an outcome too
    },
}

# --- logging ------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # runserver's request lines lose their query strings (contact data: ?search=<phone>);
    # gunicorn's access log does the same in config/gunicorn.conf.py.
    "filters": {"request_line_without_query": {"()": "revops.logfilters.RequestLineWithoutQuery"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Not axes' version banner on every start; its lockout warnings stay.
        "axes.apps": {"level": "WARNING"},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["request_line_without_query"],
        },
    },
}
