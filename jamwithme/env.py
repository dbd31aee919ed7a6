"""Small helpers that read settings from environment variables and fail loudly.

A value that is set but malformed raises ImproperlyConfigured instead of silently falling
back to the default: a misspelt `DEBUG=Flase` must stop the process, not turn debug off.
"""

import functools
import ipaddress
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_url(name: str, default: str = "") -> str:
    """An absolute http(s) address without a trailing slash, such as the site's own ("" when
    unset and without a default)."""
    value = os.environ.get(name) or default
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// address, not {value!r}")
    return value.rstrip("/")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list:
    """Comma-separated addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list addresses or networks, not {item!r}"
            ) from None
    return networks


def database_from_url(url: str, *, pool_max_size: int = 0) -> dict:
    """Turn `postgres://user:pass@host:port/name` or `sqlite:///path` into a DATABASES entry.
    ``pool_max_size`` > 0: PostgreSQL connections come from a pool of at most that many (for
    the web process, see jamwithme/asgi.py), instead of one opened for each request."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL must name a database: postgres://.../name")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # No persistent connections (Django's advice under ASGI): every request runs in a
            # thread of its own, and a connection kept per thread piles up until PostgreSQL
            # refuses more ("too many clients": bench/load.py found it with 1,000 sockets).
            # With a pool, a request or a socket's check borrows an open connection and gives
            # it back when it is done: no connection setup (~9 ms, a PostgreSQL backend
            # forked) on each one.
            "CONN_MAX_AGE": 0,
            # Each connection is tried before it is used (without a pool: once per request;
            # pooled: as the pool lends it, Django passes psycopg_pool's check_connection),
            # and replaced if the server closed it — a restarted database or a killed backend
            # costs a reconnect, not a 500 on the first requests after it.
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # A database that does not answer fails the connection (and /health/ready's
                # check) after this, rather than after the operating system's minutes.
                "connect_timeout": env_int("JAM_DB_CONNECT_TIMEOUT_S", 5, minimum=1),
                **(
                    {"pool": {"min_size": 2, "max_size": pool_max_size, "timeout": 10}}
                    if pool_max_size
                    else {}
                ),
            },
        }
    if parts.scheme == "sqlite":
        # sqlite:///relative/path.db or sqlite:////absolute/path.db, as dj-database-url reads them
        path = unquote(parts.path)[1:]
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path or ":memory:"}
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported (use postgres:// or sqlite:///)"
    )


def env_choice(name: str, choices: tuple[str, ...], default: str = "") -> str:
    """One of ``choices`` (or ``default`` when unset); anything else stops the process."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def s3_storage_from_env(bucket: str) -> dict:
    """The STORAGES["default"] entry for an S3-compatible bucket (AWS, MinIO, Ceph, R2...),
    from the environment. Objects stay private; files are served through our views, which
    check access and then redirect to a URL signed for `JAM_S3_URL_EXPIRE_S` seconds."""
    endpoint_url = os.environ.get("AWS_S3_ENDPOINT_URL") or None
    if endpoint_url is not None:
        endpoint_url = env_url("AWS_S3_ENDPOINT_URL", endpoint_url)
    access_key = env_str("AWS_S3_ACCESS_KEY_ID")
    secret_key = env_str("AWS_S3_SECRET_ACCESS_KEY")
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured(
            "Set both AWS_S3_ACCESS_KEY_ID and AWS_S3_SECRET_ACCESS_KEY, or neither "
            "(then boto3 finds credentials itself: AWS_ACCESS_KEY_ID, an instance role...)"
        )
    expire = env_int("JAM_S3_URL_EXPIRE_S", 300, minimum=1)
    if expire > 3600:
        raise ImproperlyConfigured(f"JAM_S3_URL_EXPIRE_S must be at most 3600, not {expire}")
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url,
        "region_name": env_str("AWS_S3_REGION_NAME") or None,
        # None lets botocore choose (virtual-hosted on AWS); MinIO and most others want "path".
        "addressing_style": env_choice("AWS_S3_ADDRESSING_STYLE", ("path", "virtual")) or None,
        "signature_version": env_choice("AWS_S3_SIGNATURE_VERSION", ("s3v4", "s3"), "s3v4"),
        "default_acl": "private",
        "querystring_auth": True,
        "querystring_expire": expire,
        "custom_domain": None,  # a public domain would serve unsigned, unchecked URLs
        "file_overwrite": False,
    }
    if access_key:
        options["access_key"] = access_key
        options["secret_key"] = secret_key
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def kept_secret_key(path: Path):
    """A SECRET_KEY kept in a file on this machine, for every process one `serve` starts:
    a lazy string, read when first used and made then (with its folder) if it is not there,
    so that importing settings writes nothing. Django casts it wherever it reads the key."""
    return lazy(_read_or_make_key, str)(path)


@functools.cache
def _read_or_make_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name (mode 0600), then linked into place: of processes
        # starting together the first wins, and none reads a key half written.
        handle, fresh = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(secrets.token_urlsafe(50))
            os.link(fresh, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(fresh)
    return path.read_text().strip()
