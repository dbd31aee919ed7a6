"""Settings for JamWithMe.

Every knob comes from an environment variable with a safe default for the embedded mode
(SQLite and media under var/, in-memory channel layer, no external services). Set
DATABASE_URL, REDIS_URL and CELERY_BROKER_URL for the scale-out mode.
"""

import re
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONCE, NONE, SELF, WASM_UNSAFE_EVAL
from django.core.exceptions import ImproperlyConfigured

from jamwithme.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_str,
    env_url,
    kept_secret_key,
    s3_storage_from_env,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("JAM_VAR_DIR", str(BASE_DIR / "var")))


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept in var/: enough
    for one machine (`manage.py serve`), whose processes all read the same file. Several
    web nodes must share one key, or a session signed by one is refused by the next: with
    a shared database (a DATABASE_URL other than SQLite) or JAM_MULTI_NODE=true, the key
    must come from the environment."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    shared_database = env_str("DATABASE_URL") and not env_str("DATABASE_URL").startswith("sqlite")
    if shared_database or env_bool("JAM_MULTI_NODE", False):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in the environment, the same on every web node, when "
            "DATABASE_URL or JAM_MULTI_NODE=true says several may run (a key generated on "
            "each machine would sign sessions the others refuse). Make one with: python -c "
            '"import secrets; print(secrets.token_urlsafe(50))"'
        )
    # Read, or made, when first used (a session, a signed link): importing settings writes
    # nothing.
    return kept_secret_key(VAR_DIR / "secret_key")


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "jamwithme.apps.JamAdminConfig",  # django.contrib.admin, its front page the report queue
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "django_prometheus",
    "jamwithme",
    "jobs",
    "notifications",
    "audit",
    "accounts",
    "bands",
    "tracks",
    "practice",
    "separation",
    "imports",
]

MIDDLEWARE = [
    # First and last: request counts and latencies for /metrics (jamwithme/metrics.py).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "jamwithme.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below), on every response.
    "csp.middleware.CSPMiddleware",
    # WhiteNoise, its files streamed a chunk at a time under ASGI (jamwithme/middleware.py).
    "jamwithme.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the 429 page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "jamwithme.urls"
WSGI_APPLICATION = "jamwithme.wsgi.application"
ASGI_APPLICATION = "jamwithme.asgi.application"

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
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # The web process pools its PostgreSQL connections (JAM_DB_POOL_SIZE, which `serve` and
    # the documented web process set): that many at most, shared by its requests and
    # sockets. Workers and commands open one connection each and keep none (a pool does
    # not survive Celery's fork).
    DATABASES = {
        "default": database_from_url(
            DATABASE_URL, pool_max_size=env_int("JAM_DB_POOL_SIZE", 0, minimum=0)
        )
    }
else:
    # Its folder is made when the apps are ready (`JamWithMeConfig.ready`), not here.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # The web server and the worker write concurrently: wait for the lock, don't fail.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tracks:library"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in throttling (django-axes) and sign-up -----------------------------------------
# Axes checks every authenticate() call that carries a request (the site's and the admin's
# login forms) before ModelBackend sees the password, and counts the failures.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Three counters, each with its own limit within the lockout window (accounts.throttling):
# the username from this address (JAM_LOGIN_FAILURE_LIMIT: bob's typos at the office lock
# bob out there, not alice), the username from any address (JAM_LOGIN_USERNAME_LIMIT: many
# addresses guessing one account; counted whether or not it exists, so a lockout reveals
# nothing), and the address on any username (JAM_LOGIN_ADDRESS_LIMIT, much higher: the
# ceiling against password spraying that an office or a carrier's address stays under).
# A lockout always expires JAM_LOGIN_LOCKOUT_MINUTES after the failure that caused it, and
# attempts made while locked out are refused without being counted. Staff clear one early
# in the admin (Axes > Access attempts, which says which counter locks) or, from anywhere,
# with `manage.py unlock USERNAME`. A successful login forgets that user's own failures from
# that address.
AXES_HANDLER = "accounts.throttling.LockoutHandler"
AXES_FAILURE_LIMIT = env_int("JAM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
JAM_LOGIN_USERNAME_LIMIT = env_int("JAM_LOGIN_USERNAME_LIMIT", 15, minimum=1)
JAM_LOGIN_ADDRESS_LIMIT = env_int("JAM_LOGIN_ADDRESS_LIMIT", 30, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("JAM_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# What axes records each failure under; the counters above read the records.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = False  # axes would also forget the IP's failures on other accounts
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # no record of every successful login's IP address
AXES_VERBOSE = False
# Behind reverse proxies, how many of them append to X-Forwarded-For: the client is the
# address that many entries from the right. 0 (the default): REMOTE_ADDR, the peer itself,
# and X-Forwarded-For is ignored (anyone can send it).
JAM_TRUSTED_PROXY_COUNT = env_int("JAM_TRUSTED_PROXY_COUNT", 0, minimum=0)
# How long a sign-up confirmation link works.
JAM_SIGNUP_LINK_HOURS = env_int("JAM_SIGNUP_LINK_HOURS", 24, minimum=1)

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
# No inline script or style anywhere: every script and style sheet is a file under static/
# (ours, and the npm packages under vendor/), and a colour from the data is an SVG fill.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [
            SELF,
            # The player's time-stretch (npm: signalsmith-stretch) compiles its WebAssembly
            # in its AudioWorklet; without this the worklet never starts (Chromium). Its
            # module is the library's own file from 'self' (static/js/player.js), not the
            # blob: URL the library would build.
            WASM_UNSAFE_EVAL,
        ],
        # The nonce only on pages that ask for it (request.csp_nonce): the player's, where
        # wavesurfer.js puts a <style> in its shadow root (its cspNonce option).
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],  # data: for base.html's empty favicon
        "connect-src": [SELF],  # fetch, and the notification WebSocket (same host)
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        # report-uri only: a browser that knows report-to ignores report-uri beside it, and
        # Chromium sends report-to's reports late, in batches. Logged by jamwithme.views.
        "report-uri": "/csp-report/",
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and media ---------------------------------------------------------------
STATIC_URL = "static/"
# Front-end packages come from the npm registry at set-up (package.json, package-lock.json;
# `scripts/setup` runs `npm ci`): only their distributed files are served, under vendor/.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/wavesurfer", NODE_MODULES / "wavesurfer.js" / "dist"),
    ("vendor/signalsmith-stretch", NODE_MODULES / "signalsmith-stretch"),
]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "static_build")))
# Made, if missing, by the static files' middleware (jamwithme/middleware.py) at start-up.
# WhiteNoise serves the files where they live (the finders: static/ and each app's), indexed
# once at start-up, in every mode: a web server started any way serves them, and always
# those of the code it runs — no collectstatic step to forget, nor a stale STATIC_ROOT after
# an upgrade. (Files found there win over STATIC_ROOT's, so collectstatic's pre-compressed
# copies go unused; let the reverse proxy compress.)
WHITENOISE_USE_FINDERS = True

# Media is private: there is no MEDIA_URL route. Files are served only by views that check
# access (tracks.views), so the storage's base_url is never used to build public links.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Set AWS_STORAGE_BUCKET_NAME to keep files in an S3-compatible bucket instead (needed, or a
# MEDIA_ROOT shared by every machine, when workers run elsewhere; docs/deploy.md).
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = s3_storage_from_env(AWS_STORAGE_BUCKET_NAME)
    # The browser reaches the bucket itself: it PUTs upload parts there (direct uploads) and
    # follows the presigned links of what it plays and downloads. The policy names its origin.
    _bucket = STORAGES["default"]["OPTIONS"]
    _bucket_origin = (
        "{0.scheme}://{0.netloc}".format(urlsplit(_bucket["endpoint_url"]))
        if _bucket.get("endpoint_url")
        else "https://*.amazonaws.com"
    )
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"].append(_bucket_origin)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["media-src"] = [SELF, _bucket_origin]

# --- Uploads: streamed to a temporary file, size enforced while streaming -----------------
FILE_UPLOAD_HANDLERS = ["tracks.uploads.LimitedTemporaryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600
JAM_MAX_UPLOAD_BYTES = env_int("JAM_MAX_UPLOAD_MB", 200, minimum=1) * 1024 * 1024
# Every other request body: refused past this while it streams in, before Django stores
# any of it (jamwithme/limits.py). Anonymous requests and unknown routes always get it.
JAM_MAX_REQUEST_BYTES = env_int("JAM_MAX_REQUEST_KB", 1024, minimum=64) * 1024
# With a bucket, the browser uploads straight to it (presigned multipart, tracks/direct.py):
# its part URLs last this long, and the sweep aborts multipart uploads left incomplete for
# JAM_MULTIPART_ABORT_AFTER_H (a killed worker's, an abandoned browser's).
JAM_DIRECT_UPLOADS = env_bool("JAM_DIRECT_UPLOADS", True)
JAM_DIRECT_UPLOAD_URL_EXPIRE_S = env_int("JAM_DIRECT_UPLOAD_URL_EXPIRE_S", 3600, minimum=60)
JAM_MULTIPART_ABORT_AFTER_H = env_float("JAM_MULTIPART_ABORT_AFTER_H", 24, minimum=0)
JAM_MAX_DURATION_S = env_float("JAM_MAX_DURATION_S", 15 * 60, minimum=1)
# What one song may make us decode, checked on its header before any decoding: the rate
# (the engine's own ceiling is 384 kHz) and rate x seconds x channels — by default the
# duration limit at 96 kHz stereo, so a 192 kHz song may last half as long.
JAM_MAX_SAMPLE_RATE = env_int("JAM_MAX_SAMPLE_RATE", 192_000, minimum=8000)
JAM_MAX_DECODED_SAMPLES = env_int(
    "JAM_MAX_DECODED_SAMPLES", int(JAM_MAX_DURATION_S * 96_000 * 2), minimum=1
)
JAM_TRACKS_PER_PAGE = env_int("JAM_TRACKS_PER_PAGE", 10, minimum=1)
# Per user: the storage their tracks may use (originals, stems, waveforms; 0: no limit) and
# how many of their songs may wait for or be in separation at once.
JAM_USER_QUOTA_BYTES = env_int("JAM_USER_QUOTA_MB", 5 * 1024, minimum=0) * 1024 * 1024
JAM_USER_MAX_ACTIVE_JOBS = env_int("JAM_USER_MAX_ACTIVE_JOBS", 3, minimum=1)
# Share links are opened without an account: requests a minute from one address.
JAM_SHARE_LINK_REQUESTS_PER_MINUTE = env_int("JAM_SHARE_LINK_REQUESTS_PER_MINUTE", 120, minimum=1)

# --- Exports (practice/): a mix or a stem rendered at a tempo and key (formats: catalog/) ----
# Renders are streamed in pieces (memory stays flat with length), written at 48 kHz at most.
# Bounded by the length of what they write (a 15-minute song at 50 % tempo is 30 minutes), by
# a budget of worker time (refused up front when the estimate is over it, failed when a run
# passes it) and of memory (the worker's growth while it renders), and per user by how many
# are on their way and how many they keep. An export counts in the asker's storage quota.
JAM_RENDER_MAX_DURATION_S = env_int("JAM_RENDER_MAX_DURATION_S", 2 * 900, minimum=10)
JAM_RENDER_MAX_SECONDS = env_int("JAM_RENDER_MAX_SECONDS", 15 * 60, minimum=10)
JAM_RENDER_MAX_MEMORY_MB = env_int("JAM_RENDER_MAX_MEMORY_MB", 512, minimum=32)
JAM_USER_MAX_ACTIVE_RENDERS = env_int("JAM_USER_MAX_ACTIVE_RENDERS", 2, minimum=1)
JAM_USER_MAX_STORED_RENDERS = env_int("JAM_USER_MAX_STORED_RENDERS", 50, minimum=1)
RENDER_STALE_AFTER_S = env_float("RENDER_STALE_AFTER_S", 120, minimum=15)
RENDER_MAX_ATTEMPTS = env_int("RENDER_MAX_ATTEMPTS", 2, minimum=1)

# --- Add from a link (imports/; docs/deploy.md "Imports from links") ------------------------
# The worker fetches a link's audio through imports/guard.py: public unicast addresses only,
# resolved once, on these ports; optionally only (or never) these domains, and through an
# outgoing HTTP proxy (http://host:port) that is sent CONNECT <checked address>:<port>.
JAM_IMPORT_ENABLED = env_bool("JAM_IMPORT_ENABLED", True)
JAM_IMPORT_ALLOW_DOMAINS = env_list("JAM_IMPORT_ALLOW_DOMAINS", [])
JAM_IMPORT_BLOCK_DOMAINS = env_list("JAM_IMPORT_BLOCK_DOMAINS", [])
JAM_IMPORT_PORTS = [int(port) for port in env_list("JAM_IMPORT_PORTS", ["80", "443"])]
JAM_IMPORT_PROXY = env_str("JAM_IMPORT_PROXY")
# The fetched file's cap (default: the upload's), what pages may add to it, and the time one
# fetch may take, whatever the servers' headers say.
JAM_IMPORT_MAX_BYTES = env_int("JAM_IMPORT_MAX_MB", JAM_MAX_UPLOAD_BYTES // 2**20, minimum=1) * (
    1024 * 1024
)
JAM_IMPORT_PAGE_BYTES = env_int("JAM_IMPORT_PAGE_MB", 32, minimum=1) * 1024 * 1024
JAM_IMPORT_TIME_LIMIT_S = env_float("JAM_IMPORT_TIME_LIMIT_S", 600, minimum=5)
JAM_IMPORTS_PER_HOUR = env_int("JAM_IMPORTS_PER_HOUR", 10, minimum=1)
# Tests only: the one loopback "127.0.0.1:port" (the test server) an import may reach.
JAM_IMPORT_TEST_ALLOW = env_str("JAM_IMPORT_TEST_ALLOW")
IMPORT_QUEUE = env_str("JAM_IMPORT_QUEUE", "imports")
IMPORT_STALE_AFTER_S = env_float("IMPORT_STALE_AFTER_S", 120, minimum=15)
IMPORT_MAX_ATTEMPTS = env_int("IMPORT_MAX_ATTEMPTS", 3, minimum=1)

# --- Separation jobs ----------------------------------------------------------------------
# A running job whose heartbeat is older than this is taken as orphaned by a dead worker.
# At least three of the worker's heartbeats (every 5 s), so a healthy job never looks dead.
SEPARATION_STALE_AFTER_S = env_float("SEPARATION_STALE_AFTER_S", 120, minimum=15)
SEPARATION_MAX_ATTEMPTS = env_int("SEPARATION_MAX_ATTEMPTS", 3, minimum=1)
SEPARATION_POLL_INTERVAL_S = env_float("SEPARATION_POLL_INTERVAL_S", 1.0, minimum=0.05)
# Where workers decode and separate (a folder per process; dead ones' are swept at start).
# Local disk: a 15-minute song takes about 1 GB while it is worked on.
JAM_SCRATCH_DIR = Path(
    env_str("JAM_SCRATCH_DIR") or Path(tempfile.gettempdir()) / "jamwithme-scratch"
)
# Where `python -m engine fetch-weights` put the weights, and the model's threads
# (0: all cores). The engine takes both from here; it reads no environment itself.
JAMWITHME_MODEL_DIR = Path(
    env_str("JAMWITHME_MODEL_DIR")
    or Path(env_str("XDG_CACHE_HOME") or Path.home() / ".cache") / "jamwithme" / "models"
).expanduser()
JAMWITHME_MODEL_THREADS = env_int("JAMWITHME_MODEL_THREADS", 0, minimum=0)
# Where the networks run: cpu, or cuda / cuda:N on a GPU worker (onnxruntime-gpu in place of
# onnxruntime; docs/deploy.md). JAM_ENGINE_BATCH > 0: the songs one worker process separates
# at once (Celery's threads pool, `-P threads -c N`) share the networks in batches of up to
# that many 512-frame segments; 0 runs each song's pieces on their own (CPU workers).
JAM_ENGINE_DEVICE = env_str("JAM_ENGINE_DEVICE", "cpu").lower()
if not re.fullmatch(r"cpu|cuda(:\d+)?", JAM_ENGINE_DEVICE):
    raise ImproperlyConfigured(
        f"JAM_ENGINE_DEVICE={JAM_ENGINE_DEVICE!r}: use cpu, cuda or cuda:N (a GPU's number)"
    )
JAM_ENGINE_BATCH = env_int("JAM_ENGINE_BATCH", 8 if JAM_ENGINE_DEVICE != "cpu" else 0, minimum=0)

# --- Channels -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# A socket's consumer waits for its next message with BZPOPMIN, which blocks on the Redis
# connection for up to channels-redis's `brpop_timeout` (5 s) and then simply loops. redis-py
# (8.x) gives up on any reply after `socket_timeout`, 5 s by default: a socket that heard
# nothing for 5 s died with TimeoutError (close 1011). The read timeout must be longer than
# the block; it still catches a Redis that stops answering. Keepalive finds a dead peer.
CHANNEL_LAYER_BLOCK_S = 5  # channels_redis.core.RedisChannelLayer.brpop_timeout
CHANNEL_LAYER_SOCKET_TIMEOUT_S = CHANNEL_LAYER_BLOCK_S + 10
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_S,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        # redis-py's asyncio pool raises MaxConnectionsError past 100
                        # connections in use at once: 1,000 sockets opening together (each
                        # joining its group) went past it (bench/load.py).
                        "max_connections": env_int(
                            "CHANNEL_LAYER_MAX_CONNECTIONS", 1000, minimum=10
                        ),
                    }
                ],
                # A socket leaves its group as it closes; the channels of a web process that
                # died (kill -9, a lost machine) never do, and stay in their groups this long
                # (each event to such a group is written to their dead queues until those are
                # full, "N of M channels over capacity"). An open socket joins again every
                # quarter of it (notifications/renewal.py), so it never expires.
                "group_expiry": env_int("CHANNEL_LAYER_GROUP_EXPIRY_S", 3600, minimum=60),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The cache holds counters (the mail limits): shared by every process through Redis in the
# scale-out mode; the embedded mode's one web process keeps them in its memory (the default).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "jam",
        }
    }
# Without a cross-process channel layer the worker's events cannot reach the web process,
# so each notification socket relays changes it sees in its user's job rows instead.
NOTIFICATIONS_RELAY_FROM_DB = env_bool("NOTIFICATIONS_RELAY_FROM_DB", not REDIS_URL)
NOTIFICATIONS_POLL_INTERVAL_S = env_float("NOTIFICATIONS_POLL_INTERVAL_S", 0.75, minimum=0.05)
# The row relay is one loop per web process (one query per relay source each interval, for
# every user with a socket open there), not one per socket.
# Open sockets per user, across every node (a group message per user counts them): a page
# opened beyond it closes that user's oldest socket (close code 4429).
NOTIFICATIONS_MAX_SOCKETS_PER_USER = env_int("NOTIFICATIONS_MAX_SOCKETS_PER_USER", 20, minimum=1)

# --- Celery (scale-out mode only; the embedded mode uses the separation_worker command) ----
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
# A message is acknowledged only once its task has returned, and a worker that dies mid-job
# (kill -9, the out-of-memory killer) leaves it to be delivered again, not acknowledged.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # LOGGING below formats every process's lines
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One song at a time per process: a worker never holds messages another one could run.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task goes to a named queue: nothing is sent to Celery's default `celery` queue, which
# no documented worker consumes.
# Separations go to JAM_SEPARATION_QUEUE: `separation`, or `separation-gpu` where GPU workers
# (JAM_ENGINE_DEVICE=cuda) take them (docs/deploy.md); web processes and sweeping workers must
# agree on it.
SEPARATION_QUEUE = env_str("JAM_SEPARATION_QUEUE", "separation")
CELERY_TASK_DEFAULT_QUEUE = SEPARATION_QUEUE
# The Celery app jobs are sent with (loaded on the first send; `jobs.services`).
JOBS_CELERY_APP = "jamwithme.celery.app"
# Exports are shorter than separations: their own queue, so they never wait behind songs.
RENDER_QUEUE = env_str("JAM_RENDER_QUEUE", "renders")
# Each job kind sends to the queue its setting names (`jobs.kinds`); the routes say the same
# for a task sent any other way.
CELERY_TASK_ROUTES = {
    "separation.tasks.*": {"queue": SEPARATION_QUEUE},
    "practice.tasks.*": {"queue": RENDER_QUEUE},
    "imports.tasks.*": {"queue": IMPORT_QUEUE},
}
CELERY_TASK_CREATE_MISSING_QUEUES = True
# Time limits per job (prefork pool only; the solo pool cannot enforce them). The soft one
# fails the job with a reason the owner can read; the hard one kills the pool process.
SEPARATION_SOFT_TIME_LIMIT_S = env_int("SEPARATION_SOFT_TIME_LIMIT_S", 1800, minimum=10)
SEPARATION_HARD_TIME_LIMIT_S = env_int(
    "SEPARATION_HARD_TIME_LIMIT_S", SEPARATION_SOFT_TIME_LIMIT_S + 60, minimum=11
)
if SEPARATION_HARD_TIME_LIMIT_S <= SEPARATION_SOFT_TIME_LIMIT_S:
    raise ImproperlyConfigured(
        "SEPARATION_HARD_TIME_LIMIT_S must be above SEPARATION_SOFT_TIME_LIMIT_S"
    )
CELERY_TASK_SOFT_TIME_LIMIT = SEPARATION_SOFT_TIME_LIMIT_S
CELERY_TASK_TIME_LIMIT = SEPARATION_HARD_TIME_LIMIT_S
# Redis (and SQS) hand an unacknowledged message to another worker after this long: above the
# longest job, else a healthy long job would run twice (the second claim would find it taken).
CELERY_BROKER_VISIBILITY_TIMEOUT_S = env_int(
    "CELERY_BROKER_VISIBILITY_TIMEOUT_S", SEPARATION_HARD_TIME_LIMIT_S + 600, minimum=60
)
if CELERY_BROKER_VISIBILITY_TIMEOUT_S <= SEPARATION_HARD_TIME_LIMIT_S:
    raise ImproperlyConfigured(
        "CELERY_BROKER_VISIBILITY_TIMEOUT_S must be above SEPARATION_HARD_TIME_LIMIT_S"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT_S}
# A broker that is down must not hang an upload: the row stays queued and the sweep sends it.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0, minimum=0.1)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
SEPARATION_DISPATCH = "celery" if CELERY_BROKER_URL else "embedded"
# Every Celery worker sweeps every SEPARATION_SWEEP_EVERY_S: dead workers' jobs are queued and
# sent again, and a queued job whose message may be lost (the broker was down at the upload,
# or lost its queue) is sent again once it has waited SEPARATION_REDISPATCH_AFTER_S since the
# last send. A duplicate message is harmless: the claim is a conditional update.
SEPARATION_SWEEP_EVERY_S = env_float("SEPARATION_SWEEP_EVERY_S", 30, minimum=0.5)
SEPARATION_REDISPATCH_AFTER_S = env_float("SEPARATION_REDISPATCH_AFTER_S", 600, minimum=1)
# Workers write their heartbeat row (jobs.WorkerBeat) at every sweep (30 s): one whose last
# beat is older than this is not counted as live in /metrics.
JAM_WORKER_LIVE_WITHIN_S = env_float("JAM_WORKER_LIVE_WITHIN_S", 120, minimum=10)
# Tests only: the dotted path of a callable that returns the engine workers use (a fake, so a
# real Celery worker runs without the model). Empty: the real engine.
SEPARATION_ENGINE_FACTORY = env_str("SEPARATION_ENGINE_FACTORY")

# --- E-mail -------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "JamWithMe <noreply@localhost>")
# A mail server that hangs must not hold a request (and its database transaction) for long.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10, minimum=1)
# The site's address as people reach it, for links in e-mails (sign-up, band invitations).
# Unset: the scheme, host and port each request came to (accounts.mail.site_url).
JAM_SITE_URL = env_url("JAM_SITE_URL")
# Mail visitors can make the site send (password resets, sign-ups, band invitations): at
# most this many of each kind to one address, and asked for by one account or client
# address, per window (accounts.mail). Over a limit the mail is dropped, the answer unchanged.
JAM_MAIL_LIMIT_WINDOW_MINUTES = env_int("JAM_MAIL_LIMIT_WINDOW_MINUTES", 60, minimum=1)
JAM_MAIL_PER_RECIPIENT = env_int("JAM_MAIL_PER_RECIPIENT", 3, minimum=1)
JAM_MAIL_PER_REQUESTER = env_int("JAM_MAIL_PER_REQUESTER", 20, minimum=1)

# --- Bands --------------------------------------------------------------------------------
# How long an invitation to join a band can be accepted.
JAM_BAND_INVITATION_DAYS = env_int("JAM_BAND_INVITATION_DAYS", 7, minimum=1)

# --- Security -----------------------------------------------------------------------------
# Off by default (the embedded mode is plain http on 127.0.0.1); docs/deploy.md lists what
# a site served over https sets.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe the health check over plain http: answer it, don't redirect it.
SECURE_REDIRECT_EXEMPT = [r"^health/(live|ready)?$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy Django sees http; trust the proxy's X-Forwarded-Proto only
# when it is told to (the proxy must overwrite the header, or a client could forge it).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# /metrics (jamwithme/metrics.py): who may scrape it — a direct connection from these
# addresses or networks (default: loopback only), or anyone with this bearer token.
JAM_METRICS_ALLOWED = env_networks("JAM_METRICS_ALLOWED", ["127.0.0.1/32", "::1/128"])
JAM_METRICS_TOKEN = env_str("JAM_METRICS_TOKEN")
# Job durations and queue waits are quantiles of the jobs finished in this window.
JAM_METRICS_WINDOW_S = env_int("JAM_METRICS_WINDOW_S", 3600, minimum=60)

# plain: readable lines (the embedded mode); json: one JSON object per line (jamwithme/logs.py).
# Every process reads this: web, separation_worker, and Celery workers (which must not
# replace the root logger's handlers with their own: CELERY_WORKER_HIJACK_ROOT_LOGGER).
LOG_FORMAT = env_choice("LOG_FORMAT", ("plain", "json"), "plain")
# Without a mail server, the console backend prints each message, one-time links included:
# fine for the embedded mode's owner at a terminal, never for a log collector.
if not EMAIL_HOST and LOG_FORMAT == "json":
    EMAIL_BACKEND = "jamwithme.mail.RedactedLogBackend"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "jamwithme.logs.ContextFilter"},
        "one_time_links": {"()": "jamwithme.logs.OneTimeLinkFilter"},
        "channel_capacity": {"()": "jamwithme.logs.ChannelCapacityFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "jamwithme.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context", "one_time_links"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # Its "N of M channels over capacity in group G", said in words (jamwithme/logs.py).
        "channels_redis.core": {"filters": ["channel_capacity"]},
        # uvicorn configures its own loggers (plain text, their own handlers) before it loads
        # the application; these replace that with ours, so its lines — the access line of
        # every request included — are written like every other (JSON with LOG_FORMAT=json).
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
