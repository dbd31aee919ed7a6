"""Health probes for load balancers, Kubernetes and supervisors (docs/deploy.md says which
probe goes where).

* `/health/live` — liveness: this process answers requests. It touches no dependency, so a
  slow database, Redis or bucket never gets a node restarted (restarting would not help).
* `/health/ready` — readiness: may this node take traffic? Each dependency a request may
  need is tried for real, each check in its own thread with its own deadline, all at once,
  the whole answer bounded by `READY_BOUND_S` (well under the documented 10 s probe):

  - the database answers a query (connect_timeout from settings; statement_timeout here);
  - the channel layer (Redis when REDIS_URL is set) takes a group message;
  - the file storage stores and deletes a small file (the bucket through a client of its
    own, with short botocore connect/read timeouts and one attempt), so a read-only disk or
    a bucket we may not write to shows;
  - with CELERY_BROKER_URL set, the broker (Redis or RabbitMQ) is connected to.

  Only the database is required: without it no page can be served, so the answer is 503
  (`"status": "error"`). Any other check that fails or passes its deadline makes the node
  `"degraded"` — 200, with the status in the body — because pages still serve (a library,
  a player, sign-in); only uploads, live updates or file downloads suffer. A slow bucket or
  a dead Redis is shared by every node: answering 503 for it would take every node out at
  once and serve nothing at all.
* `/health/` — as before, for the callers that probe it today: the same answer as
  `/health/ready`.

The body names each check's result (`ok`, `error`, `timeout`) and nothing else — what went
wrong goes to the log, never to the anonymous caller.
"""

import asyncio
import functools
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.db import connection, connections, transaction
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

logger = logging.getLogger(__name__)

# Each check's deadline (seconds); the whole answer is bounded by READY_BOUND_S.
DATABASE_DEADLINE_S = 3
LAYER_TIMEOUT_S = 2
BROKER_TIMEOUT_S = 2
STORAGE_CONNECT_TIMEOUT_S = 1
STORAGE_READ_TIMEOUT_S = 2
STORAGE_DEADLINE_S = 3
READY_BOUND_S = 4
# Outside tracks/, where every stored file has a row (tracks/files.py names those).
PROBE_FOLDER = "health"
# Without it no page can be served: its failure is "not ready" (503), the others "degraded".
REQUIRED = frozenset({"database"})


def check_database() -> None:
    """A query, bounded by PostgreSQL's statement_timeout (connecting is bounded by the
    connection's `connect_timeout`, jamwithme.env.database_from_url)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL statement_timeout = %s", [DATABASE_DEADLINE_S * 1000])
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def send():
        # A group nobody joins: Redis is asked (the group's members), nothing is delivered.
        await asyncio.wait_for(
            layer.group_send("health", {"type": "health.check"}), LAYER_TIMEOUT_S
        )

    async_to_sync(send)()


def _bucket_probe_client(storage):
    """A client for the storage's bucket with short timeouts and a single attempt: the
    storage's own client waits for minutes (botocore's defaults, retries included). Made
    once per configuration (a botocore client is thread-safe, and slow to make)."""
    return _probe_client(
        storage.endpoint_url,
        storage.region_name,
        storage.access_key or None,
        storage.secret_key or None,
        storage.addressing_style,
        storage.signature_version,
    )


@functools.lru_cache(maxsize=4)
def _probe_client(endpoint_url, region_name, access_key, secret_key, style, signature):
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=STORAGE_CONNECT_TIMEOUT_S,
        read_timeout=STORAGE_READ_TIMEOUT_S,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": style},
        signature_version=signature,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def check_storage() -> None:
    storage = storages["default"]
    name = f"{PROBE_FOLDER}/{uuid.uuid4().hex}"
    if hasattr(storage, "bucket_name"):  # S3-compatible
        client = _bucket_probe_client(storage)
        key = f"{storage.location.strip('/')}/{name}".lstrip("/")
        client.put_object(Bucket=storage.bucket_name, Key=key, Body=b"ok")
        client.delete_object(Bucket=storage.bucket_name, Key=key)
        return
    name = default_storage.save(name, ContentFile(b"ok"))
    default_storage.delete(name)


def check_broker() -> None:
    """Connect (Redis: and PING) with a short timeout, one try, no retries."""
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT_S,
        transport_options={"socket_timeout": BROKER_TIMEOUT_S},
    ) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)


CHECKS = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "storage": check_storage,
}
DEADLINES = {
    "database": DATABASE_DEADLINE_S,
    "channel_layer": LAYER_TIMEOUT_S + 1,
    "storage": STORAGE_DEADLINE_S,
    "broker": BROKER_TIMEOUT_S * 2,
}


def active_checks() -> dict:
    """The checks that apply to this configuration: the broker only when there is one."""
    if settings.CELERY_BROKER_URL:
        return {**CHECKS, "broker": check_broker}
    return CHECKS


def _checked(name: str, check) -> str:
    try:
        check()
    except Exception:  # any failure of a dependency is a failed check, not a 500
        logger.warning("Health check %s failed", name, exc_info=True)
        return "error"
    return "ok"


def _in_own_thread(name: str, check) -> str:
    try:
        return _checked(name, check)
    finally:
        connections.close_all()  # this thread's own connections (back to the pool, if any)


def readiness() -> tuple[str, dict[str, str]]:
    """Run every check at once; ("ok" | "degraded" | "error", each check's result)."""
    checks = dict(active_checks())
    started = time.monotonic()
    # SQLite is a file on this machine, with nothing to hang on, and its in-memory test
    # database is locked against other threads: its check runs in the request's thread.
    inline = {"database": checks.pop("database")} if connection.vendor == "sqlite" else {}
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
    futures = {name: pool.submit(_in_own_thread, name, check) for name, check in checks.items()}
    results = {name: _checked(name, check) for name, check in inline.items()}
    for name, future in futures.items():
        deadline = min(DEADLINES.get(name, READY_BOUND_S), READY_BOUND_S)
        try:
            results[name] = future.result(timeout=max(0, started + deadline - time.monotonic()))
        except FutureTimeout:
            logger.warning("Health check %s passed its deadline of %s s", name, deadline)
            results[name] = "timeout"
    # A late check's thread ends on its own (each has its own timeout); nobody waits for it.
    pool.shutdown(wait=False)
    if any(results[name] != "ok" for name in REQUIRED if name in results):
        return "error", results
    if all(result == "ok" for result in results.values()):
        return "ok", results
    return "degraded", results


@require_safe
@never_cache
def ready(request):
    status, results = readiness()
    return JsonResponse(
        {"status": status, "checks": results}, status=503 if status == "error" else 200
    )


@require_safe
@never_cache
def live(request):
    """The process answers: no dependency is asked."""
    return JsonResponse({"status": "ok"})


# Today's callers probe /health/: the readiness answer.
health = ready
