"""`/metrics`: Prometheus series for this web node and for the separation queue.

Two kinds of series, answered together:

* **This process** (django-prometheus, prometheus-client's defaults): requests, responses,
  latencies, exceptions, the process's CPU and memory. Each web process counts its own;
  scrape every node.
* **The queue** (`jamwithme_separation_*`, `JobCollector`): read from the SeparationJob rows
  at scrape time — the row is the truth. Workers run in other processes, on other machines,
  and what they kept in memory would never be scraped; the database sees every worker's
  jobs. So every node answers the same values: aggregate them with `max`, not `sum`.

* **Every kind of job and the workers** (`jamwithme_workers_*`, `jamwithme_jobs_*`,
  `jamwithme_job_duration_seconds`, `WorkerCollector`): live workers per queue from their
  heartbeat rows, waiting jobs and the oldest one's age per kind, the time since the last
  claim, a histogram of run times per kind; the broker's queue lengths (Redis only).
* **Sockets** (`jamwithme_sockets_open`): this process's open WebSockets; per node.

The separation durations above are not a Prometheus histogram (those are counters that
only grow, for `rate()`): they are quantiles of the jobs that finished within the last
`JAM_METRICS_WINDOW_S`, so a value is "the p95 of the last hour", recomputed at each
scrape, and absent (no sample) when no job finished in the window.
"""

import hmac
import ipaddress
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from jobs import kinds
from jobs import services as job_services
from jobs.models import DONE, FAILED, QUEUED
from separation.models import SeparationJob

logger = logging.getLogger(__name__)

Status = SeparationJob.Status
OUTCOMES = (Status.DONE, Status.FAILED)
QUANTILES = (0.5, 0.95)
# At most this many finished jobs are read per scrape (the most recent ones).
MAX_JOBS_READ = 10_000


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolated between the nearest ranks."""
    position = (len(values) - 1) * q
    below = int(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


class JobCollector:
    """Series computed from the job rows each time Prometheus scrapes."""

    def collect(self):
        up = GaugeMetricFamily(
            "jamwithme_separation_metrics_up",
            "1 when the job series below could be read from the database, else 0.",
        )
        try:
            families = list(self._job_families())
        except DatabaseError:
            logger.warning("Could not read job metrics from the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _job_families(self):
        now = timezone.now()
        window_s = settings.JAM_METRICS_WINDOW_S

        counts = dict(
            SeparationJob.objects.filter(status__in=(Status.QUEUED, Status.RUNNING))
            .values_list("status")
            .annotate(n=Count("id"))
        )
        queued = GaugeMetricFamily(
            "jamwithme_separation_jobs_queued", "Jobs waiting for a worker now."
        )
        queued.add_metric([], counts.get(Status.QUEUED, 0))
        yield queued
        running = GaugeMetricFamily(
            "jamwithme_separation_jobs_running", "Jobs a worker has claimed and is running now."
        )
        running.add_metric([], counts.get(Status.RUNNING, 0))
        yield running

        oldest = SeparationJob.objects.filter(status=Status.QUEUED).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        oldest_age = GaugeMetricFamily(
            "jamwithme_separation_oldest_queued_age_seconds",
            "Age since its upload of the oldest queued job (0: none queued).",
        )
        oldest_age.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        yield oldest_age

        since = now - timedelta(seconds=window_s)
        finished = (
            SeparationJob.objects.filter(
                status__in=OUTCOMES, finished_at__gte=since, started_at__isnull=False
            )
            .order_by("-finished_at")
            .values_list("status", "created_at", "started_at", "finished_at")[:MAX_JOBS_READ]
        )
        durations: dict[str, list[float]] = {outcome: [] for outcome in OUTCOMES}
        waits: list[float] = []
        for status, created_at, started_at, finished_at in finished:
            durations[status].append(max((finished_at - started_at).total_seconds(), 0.0))
            waits.append(max((started_at - created_at).total_seconds(), 0.0))

        count = GaugeMetricFamily(
            "jamwithme_separation_jobs_finished_window",
            f"Jobs that finished in the last {window_s} s, by outcome.",
            labels=["outcome"],
        )
        duration = GaugeMetricFamily(
            "jamwithme_separation_job_duration_seconds",
            f"Run time (claim to finish, last attempt) of jobs that finished in the last "
            f"{window_s} s: quantiles and max, by outcome.",
            labels=["outcome", "quantile"],
        )
        for outcome in OUTCOMES:
            values = sorted(durations[outcome])
            count.add_metric([outcome], len(values))
            for q in QUANTILES:
                if values:
                    duration.add_metric([outcome, str(q)], quantile(values, q))
            if values:
                duration.add_metric([outcome, "1"], values[-1])
        yield count
        yield duration

        wait = GaugeMetricFamily(
            "jamwithme_separation_queue_wait_seconds",
            f"Time from upload to the last claim (retries included), of jobs that finished "
            f"in the last {window_s} s: quantiles and max.",
            labels=["quantile"],
        )
        waits.sort()
        if waits:
            for q in QUANTILES:
                wait.add_metric([str(q)], quantile(waits, q))
            wait.add_metric(["1"], waits[-1])
        yield wait


# Upper bounds of the job-duration histogram's buckets, in seconds (a song separates in
# ~13 s on a fast machine, minutes on a slow one; an export in a few seconds).
DURATION_BUCKETS_S = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
BROKER_TIMEOUT_S = 0.5


class WorkerCollector:
    """Every job kind's queue and the workers, from the rows (the job rows and the workers'
    heartbeat rows, `jobs.WorkerBeat`), plus the broker's queue lengths where that is cheap
    (a Redis broker: one LLEN per queue, half a second at most)."""

    def collect(self):
        try:
            families = list(self._families())
        except DatabaseError:
            logger.warning("Could not read worker metrics from the database", exc_info=True)
            return
        yield from families
        yield from self._broker_families()

    def _families(self):
        now = timezone.now()
        registered = kinds.all_kinds()

        live = GaugeMetricFamily(
            "jamwithme_workers_live",
            "Workers whose heartbeat row is recent (JAM_WORKER_LIVE_WITHIN_S), by the queue "
            "they take jobs from (a worker on two queues counts in both).",
            labels=["queue"],
        )
        per_queue = {kind.queue: 0 for kind in registered}
        for beat in job_services.workers_live():
            for queue in beat.queue_names:
                per_queue[queue] = per_queue.get(queue, 0) + 1
        for queue, count in sorted(per_queue.items()):
            live.add_metric([queue], count)
        yield live

        waiting = GaugeMetricFamily(
            "jamwithme_jobs_waiting",
            "Queued jobs (the rows), by kind and by the queue their kind is sent to.",
            labels=["kind", "queue"],
        )
        oldest = GaugeMetricFamily(
            "jamwithme_jobs_oldest_waiting_age_seconds",
            "Age of the oldest queued job of the kind (0: none waits).",
            labels=["kind"],
        )
        last_claim = GaugeMetricFamily(
            "jamwithme_jobs_last_claim_age_seconds",
            "Time since a worker last claimed a job of the kind (the latest start of any of "
            "its jobs); absent when none ever started. With jobs waiting, a large value means "
            "no worker takes them.",
            labels=["kind"],
        )
        durations = HistogramMetricFamily(
            "jamwithme_job_duration_seconds",
            "Run time (claim to finish, last attempt) of the kind's finished jobs (done or "
            "failed), every one the rows keep: a cumulative histogram, for rate() and "
            "histogram_quantile() (deleting tracks deletes their jobs, seen as a reset).",
            labels=["kind"],
        )
        for kind in registered:
            model = kind.model
            queued = model.objects.filter(status=QUEUED).aggregate(
                count=Count("id"), oldest=Min("created_at")
            )
            waiting.add_metric([kind.name, kind.queue], queued["count"])
            age = (now - queued["oldest"]).total_seconds() if queued["oldest"] else 0
            oldest.add_metric([kind.name], max(age, 0.0))
            latest = model.objects.aggregate(latest=Max("started_at"))["latest"]
            if latest is not None:
                last_claim.add_metric([kind.name], max((now - latest).total_seconds(), 0.0))
            buckets, total, count = self._duration_buckets(model)
            durations.add_metric([kind.name], buckets=buckets, sum_value=total)
        yield waiting
        yield oldest
        yield last_claim
        yield durations

    @staticmethod
    def _duration_buckets(model):
        """One query: how many finished jobs ran at most each bound, and their total."""
        ran = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        finished = model.objects.filter(
            status__in=(DONE, FAILED), started_at__isnull=False, finished_at__isnull=False
        ).annotate(ran=ran)
        counts = finished.aggregate(
            total=Sum("ran"),
            count=Count("id"),
            **{
                f"le_{index}": Count("id", filter=Q(ran__lte=timedelta(seconds=bound)))
                for index, bound in enumerate(DURATION_BUCKETS_S)
            },
        )
        buckets = [
            (str(float(bound)), counts[f"le_{index}"])
            for index, bound in enumerate(DURATION_BUCKETS_S)
        ]
        buckets.append(("+Inf", counts["count"]))
        total = counts["total"].total_seconds() if counts["total"] else 0.0
        return buckets, total, counts["count"]

    def _broker_families(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return
        length = GaugeMetricFamily(
            "jamwithme_broker_queue_length",
            "Messages waiting in the broker's queue (Redis LLEN; messages a worker has taken "
            "but not acknowledged are not in it).",
            labels=["queue"],
        )
        try:
            import redis

            client = redis.Redis.from_url(
                url, socket_timeout=BROKER_TIMEOUT_S, socket_connect_timeout=BROKER_TIMEOUT_S
            )
            try:
                for queue in sorted({kind.queue for kind in kinds.all_kinds()}):
                    length.add_metric([queue], client.llen(queue))
            finally:
                client.close()
        except Exception:  # the broker is away: no sample, and a line in the log
            logger.warning("Could not read the broker's queue lengths", exc_info=True)
            return
        yield length


# Open WebSockets on this process (SocketCounter, around the websocket application).
SOCKETS_OPEN = Gauge(
    "jamwithme_sockets_open", "WebSocket connections open on this web process now."
)


class SocketCounter:
    """ASGI middleware for the websocket application: counts each connection while its
    application runs (from the handshake until it is closed, whichever side closes)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        SOCKETS_OPEN.inc()
        try:
            return await self.app(scope, receive, send)
        finally:
            SOCKETS_OPEN.dec()


JOB_REGISTRY = CollectorRegistry(auto_describe=False)
JOB_REGISTRY.register(JobCollector())
JOB_REGISTRY.register(WorkerCollector())


def may_scrape(request) -> bool:
    """A bearer token equal to JAM_METRICS_TOKEN, or a direct connection from an allowed
    address. A request that came through a proxy (it names a forwarded client) is never let
    in by address: behind a proxy on the same machine everyone would seem to be loopback."""
    token = settings.JAM_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    if any(name in request.headers for name in ("X-Forwarded-For", "Forwarded", "X-Real-IP")):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.JAM_METRICS_ALLOWED)


@require_safe
@never_cache
def metrics(request):
    if not may_scrape(request):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    body = generate_latest(REGISTRY) + generate_latest(JOB_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
