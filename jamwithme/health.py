"""`/health/`: may this web node take traffic? For load balancers and supervisors.

Each dependency a request may need is tried for real: the database answers a query, the
channel layer (Redis when REDIS_URL is set) takes a group message, and the file storage
(local disk or the bucket) stores and deletes a small file, so a read-only disk or a bucket
we may not write to shows. With CELERY_BROKER_URL set, the broker (Redis or RabbitMQ) is
connected to as well: an upload queues its job there. 200 when all pass, else 503; the
body names each check's result and nothing else — what went wrong goes to the log, never
to the anonymous caller.
"""

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

logger = logging.getLogger(__name__)

LAYER_TIMEOUT_S = 3
BROKER_TIMEOUT_S = 2
# Outside tracks/, where every stored file has a row (tracks/files.py names those).
PROBE_FOLDER = "health"


def check_database() -> None:
    with connection.cursor() as cursor:
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


def check_storage() -> None:
    name = default_storage.save(f"{PROBE_FOLDER}/{uuid.uuid4().hex}", ContentFile(b"ok"))
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


def active_checks() -> dict:
    """The checks that apply to this configuration: the broker only when there is one."""
    if settings.CELERY_BROKER_URL:
        return {**CHECKS, "broker": check_broker}
    return CHECKS


@require_safe
@never_cache
def health(request):
    results = {}
    for name, check in active_checks().items():
        try:
            check()
        except Exception:  # any failure of a dependency is a failed check, not a 500
            logger.warning("Health check %s failed", name, exc_info=True)
            results[name] = "error"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": results},
        status=200 if healthy else 503,
    )
