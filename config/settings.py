"""Settings, read from the environment through one ``environ.Env``. Reading them has no side
effects: no process is started and no file is written (``devtools/bootstrap.py`` prepares the
embedded mode where a process starts). Tests use ``config/test_settings.py``.

Two modes:
- production: ``DATABASE_URL`` is set; ``SECRET_KEY`` and ``SECRET_ENCRYPTION_KEYS``
  must be given, or the process refuses to start.
- embedded development: ``DATABASE_URL`` is unset; two embedded PostgreSQL servers run under
  ``.data/`` (the console's, and the demo server) and the secrets are generated and kept there
  (by the bootstrap, before this module is read; here they are only read).
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

import django_stubs_ext
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from devtools import bootstrap, devsecrets

# Lets generic classes be subscripted at run time (ModelAdmin[Project]) for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CONSOLE_DATA_DIR", BASE_DIR / ".data"))

env = environ.Env()
if env.bool("READ_DOT_ENV", default=False) and (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))


EMBEDDED = not env.str("DATABASE_URL", default="")
if EMBEDDED:
    _dev = devsecrets.load(DATA_DIR / "secrets.json")
    # Set by the bootstrap that started the servers; a process that skipped it (a bare import)
    # finds them if they run, else gets a connection error on first use, never a side effect.
    _running = bootstrap.running_urls(DATA_DIR)
    DATABASE_URL = env.str("EMBEDDED_DATABASE_URL", default="") or _running[0]
    # The demo database, on the embedded demo server (not the console's), as its unprivileged
    # owner: the products' demos use it (console/demo.py), and so may the users of this mode.
    DEMO_DATABASE_URL: str | None = env.str("EMBEDDED_DEMO_DATABASE_URL", default="") or _running[1]
    # Empty until the bootstrap generated them: Django then refuses to sign anything, and
    # userdb.encryption refuses to encrypt, rather than either using a made-up secret.
    SECRET_KEY = env.str("SECRET_KEY", default=_dev.get("SECRET_KEY", ""))
    SECRET_ENCRYPTION_KEYS = env.list(
        "SECRET_ENCRYPTION_KEYS",
        default=[_dev["SECRET_ENCRYPTION_KEYS"]] if "SECRET_ENCRYPTION_KEYS" in _dev else [],
    )
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
    ALLOW_PRIVATE_DATABASE_HOSTS = env.bool("ALLOW_PRIVATE_DATABASE_HOSTS", default=True)
    # A development convenience: the inviter also sees the invitation link (production: never).
    SHOW_INVITATION_LINKS = env.bool("SHOW_INVITATION_LINKS", default=True)
else:
    DATABASE_URL = env.str("DATABASE_URL")
    try:
        SECRET_KEY = env.str("SECRET_KEY")
        SECRET_ENCRYPTION_KEYS = env.list("SECRET_ENCRYPTION_KEYS")
    except ImproperlyConfigured as missing:
        raise ImproperlyConfigured(
            "With DATABASE_URL set, SECRET_KEY and SECRET_ENCRYPTION_KEYS must be set too "
            "(generate an encryption key with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        ) from missing
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters of random text.")
    if not SECRET_ENCRYPTION_KEYS:
        raise ImproperlyConfigured("SECRET_ENCRYPTION_KEYS must name at least one key.")
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    ALLOW_PRIVATE_DATABASE_HOSTS = env.bool("ALLOW_PRIVATE_DATABASE_HOSTS", default=False)
    # Invitation links go only to the invited address: whoever follows one has proved it.
    SHOW_INVITATION_LINKS = False
    DEMO_DATABASE_URL = None

INSTALLED_APPS = [
    "console",
    "usage",
    "projects",
    "accelerate",
    "pulse",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
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
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "console.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if test_url := env.str("TEST_DATABASE_URL", default=""):
    _test = env.db_url_config(test_url)
    DATABASES["default"].update({key: _test[key] for key in ("HOST", "PORT", "USER", "PASSWORD")})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env.str("CACHE_URL", default="locmemcache://console")
CACHES = {"default": env.cache_url_config(CACHE_URL)}
if CACHE_URL.startswith(("redis://", "rediss://")):
    # A Redis that stops answering must cost a request a moment, not hang it.
    CACHES["default"].setdefault("OPTIONS", {}).update(socket_connect_timeout=1, socket_timeout=1)
# The data plane talks to Redis directly (asyncio client) when the cache is Redis.
REDIS_URL = CACHE_URL if CACHE_URL.startswith(("redis://", "rediss://")) else ""

AUTH_USER_MODEL = "console.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (console/throttling.py, docs/security.md): this many failed sign-ins for one
# account, or from one client address, within the window pause sign-ins to it (from it) for the
# window. Password checks (Argon2: ~100 MiB each) run at most this many at once per process;
# a login waits this long for a turn, then is answered 429.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_ADDRESS_LIMIT = env.int("LOGIN_FAILURE_ADDRESS_LIMIT", default=100)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
LOGIN_CONCURRENT_HASHES = env.int("LOGIN_CONCURRENT_HASHES", default=4)
LOGIN_HASH_WAIT_SECONDS = env.float("LOGIN_HASH_WAIT_SECONDS", default=5.0)

# The client's address (console/audit.py client_ip): REMOTE_ADDR, unless this names the header
# the trusted proxies in front set (X-Forwarded-For); then the entry this many from the right.
TRUSTED_PROXY_HEADER = env.str("TRUSTED_PROXY_HEADER", default="")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)

# Rate limits (console/ratelimit.py), "count/seconds" per identity, counted in the shared cache:
# invitation links per client address; database checks (Accelerate configure/edit, Pulse check and
# enable: each opens a connection to a host the user names) and API key creation per user.
RATE_LIMITS = {
    "invitation_accept": env.str("RATE_LIMIT_INVITATION_ACCEPT", default="30/600"),
    # Emails about an account (a password reset, a sign-up link): per recipient, and per client address.
    "account_email": env.str("RATE_LIMIT_ACCOUNT_EMAIL", default="3/3600"),
    "account_email_client": env.str("RATE_LIMIT_ACCOUNT_EMAIL_CLIENT", default="20/3600"),
    "database_check": env.str("RATE_LIMIT_DATABASE_CHECK", default="10/60"),
    "api_key_create": env.str("RATE_LIMIT_API_KEY_CREATE", default="30/600"),
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if EMBEDDED
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): only this origin's own files run or style anything. No
# inline scripts, styles or event handlers anywhere, and htmx is configured (base.html's
# htmx-config) not to evaluate code or inject its indicator <style>.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
if not EMBEDDED:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
# SMTP for invitations: either one EMAIL_URL (smtp+tls://user:password@host:587) or the separate variables.
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
# An unreachable mail server must not hang the request that sends an invitation.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="console@localhost")

# Self-service sign-up; when off, accounts are created only by accepting an invitation (or by operators).
# On, an address gets an emailed link to finish signing up, valid this long (seconds).
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", default=False)
SIGNUP_LINK_MAX_AGE = env.int("SIGNUP_LINK_MAX_AGE", default=60 * 60 * 24)
# "Forgot password?": the emailed link works once, for this long (seconds).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)

# One handler for every logger, whose formatter takes query strings, API keys and bearer tokens out
# of each line (config/log_format.py). uvicorn's loggers are routed to it too: its access log writes
# request lines with their query strings (``?api_key=``). Their levels stay as uvicorn set them.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "class": "config.log_format.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's defaults add a handler of their own (console while DEBUG, mail_admins): one is enough.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        # Named one by one: configuring their parent "uvicorn" would reset their levels.
        "uvicorn.error": {"handlers": ["console"], "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
    },
}

# WhiteNoise serves files with a synchronous iterator; under ASGI Django warns on each one.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

# Serve static files straight from the source folders where collectstatic is not run.
WHITENOISE_USE_FINDERS = EMBEDDED or DEBUG

# Accelerate (accelerate/): Preview access, the public host of prisma:// strings, regions.
ACCELERATE_OPEN_ACCESS = env.bool("ACCELERATE_OPEN_ACCESS", default=EMBEDDED)
ACCELERATE_PUBLIC_HOST = env.str("ACCELERATE_PUBLIC_HOST", default="")  # empty: the request's host
ACCELERATE_REGION_NAMES = {
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ca-central-1": "Canada (Central)",
    "eu-central-1": "Europe (Frankfurt)",
    "eu-west-1": "Europe (Ireland)",
    "eu-west-2": "Europe (London)",
    "eu-west-3": "Europe (Paris)",
    "eu-north-1": "Europe (Stockholm)",
    "sa-east-1": "South America (São Paulo)",
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
}
# Where this gateway process runs, reported in every answer's info.region (docs/accelerate.md,
# "Regions"): "local" for a console on one machine; set it to the region a deployment runs in.
GATEWAY_REGION = env.str("GATEWAY_REGION", default="local")
# (code, readable name) pairs offered in the form; ACCELERATE_REGIONS=us-east-1,eu-west-1 narrows them.
ACCELERATE_REGIONS = [
    (code, ACCELERATE_REGION_NAMES.get(code, code))
    for code in env.list("ACCELERATE_REGIONS", default=list(ACCELERATE_REGION_NAMES))
]
# The gateway's own region is always offered: it is the one to choose for a database on this
# machine or a private network (the forms recommend it for such hosts).
if GATEWAY_REGION not in dict(ACCELERATE_REGIONS):
    ACCELERATE_REGIONS.insert(
        0, (GATEWAY_REGION, "Where this gateway runs")
    )  # userdb.regions.GATEWAY_REGION_NAME
# Seconds the configure form waits for the user's database (DNS, connect, TLS, SELECT 1).
ACCELERATE_CHECK_TIMEOUT = env.float("ACCELERATE_CHECK_TIMEOUT", default=5.0)
# How long a gateway process trusts what it read of a project's configuration (seconds):
# disabling Accelerate or changing its settings reaches every process within this time.
GATEWAY_CONFIG_TTL = env.float("GATEWAY_CONFIG_TTL", default=1.0)
GATEWAY_CACHE_MAX_ENTRIES = env.int("GATEWAY_CACHE_MAX_ENTRIES", default=10_000)
# Requests per second per API key, per gateway process (a token bucket: docs/security.md), and how
# many may come at once after a quiet spell. Over it: P6003 with Retry-After.
GATEWAY_RATE_LIMIT_PER_SECOND = env.float("GATEWAY_RATE_LIMIT_PER_SECOND", default=500.0)
GATEWAY_RATE_LIMIT_BURST = env.int("GATEWAY_RATE_LIMIT_BURST", default=1000)
# Prisma Client's requests (docs/accelerate.md): misses go to the executor sidecar
# (accelerate/executor/, one per machine, shared by every gateway process on it) over this Unix
# socket; `make run` starts it there. The largest query plan a client may send, in bytes.
ACCELERATE_EXECUTOR_SOCKET = env.str(
    "ACCELERATE_EXECUTOR_SOCKET", default=str(DATA_DIR / "accelerate-executor.sock")
)
GATEWAY_MAX_PLAN_BYTES = env.int("GATEWAY_MAX_PLAN_BYTES", default=8 * 1024 * 1024)
# This machine's name in interactive transaction ids (letters and digits): with several machines,
# the load balancer sends /transaction/NODE.…/ to NODE (docs/operations.md). Default: the host name.
GATEWAY_NODE = env.str("GATEWAY_NODE", default=socket.gethostname())

# Pulse (pulse/): early access, and how long the console waits on a user's database.
PULSE_OPEN_ACCESS = env.bool("PULSE_OPEN_ACCESS", default=EMBEDDED)
PULSE_CHECK_TIMEOUT = env.float("PULSE_CHECK_TIMEOUT", default=5.0)
# Creating a logical slot waits for the transactions running on the server to finish.
PULSE_SLOT_CREATE_TIMEOUT = env.float("PULSE_SLOT_CREATE_TIMEOUT", default=30.0)
# The capture worker and the stream endpoint (docs/pulse.md).
PULSE_RETENTION_DAYS = env.int("PULSE_RETENTION_DAYS", default=7)
PULSE_POLL_INTERVAL = env.float("PULSE_POLL_INTERVAL", default=0.02)  # seconds between reads of a slot
PULSE_BATCH_CHANGES = env.int("PULSE_BATCH_CHANGES", default=5000)  # messages per read (whole transactions)
PULSE_CAPTURE_STATEMENT_TIMEOUT = env.float("PULSE_CAPTURE_STATEMENT_TIMEOUT", default=300.0)
PULSE_WORKER_REFRESH = env.float("PULSE_WORKER_REFRESH", default=2.0)  # noticing enabled/disabled projects
PULSE_LOCK_RETRY = env.float("PULSE_LOCK_RETRY", default=1.0)  # a waiting worker tries the lock this often
PULSE_PRUNE_INTERVAL = env.float("PULSE_PRUNE_INTERVAL", default=300.0)
PULSE_HEARTBEAT_SECONDS = env.float("PULSE_HEARTBEAT_SECONDS", default=15.0)
# Per API key and stream process (docs/security.md): stream connections and acks share a token
# bucket, and a key may hold this many streams open at once. Over either: P6003 with Retry-After.
PULSE_STREAM_RATE_LIMIT_PER_SECOND = env.float("PULSE_STREAM_RATE_LIMIT_PER_SECOND", default=50.0)
PULSE_STREAM_RATE_LIMIT_BURST = env.int("PULSE_STREAM_RATE_LIMIT_BURST", default=500)
PULSE_STREAM_CONNECTIONS_PER_KEY = env.int("PULSE_STREAM_CONNECTIONS_PER_KEY", default=1000)

# Usage metering (usage/metering.py): daily rows are kept this long, hourly rows (the 24-hour
# view) this long; `manage.py pruneusage` deletes what is older.
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=400)
USAGE_HOURLY_RETENTION_DAYS = env.int("USAGE_HOURLY_RETENTION_DAYS", default=30)
