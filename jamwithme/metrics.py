"""`/metrics`: Prometheus series for this web node and for the separation queue.

Two kinds of series, answered together:

* **This process** (django-prometheus, prometheus-client's defaults): requests, responses,
  latencies, exceptions, the process's CPU and memory. Each web process counts its own;
  scrape every node.
* **The queue** (`jamwithme_separation_*`, `JobCollector`): read from the SeparationJob rows
  at scrape time — the row is the truth. Workers run in other processes, on other machines,
  and what they kept in memory would never be scraped; the database sees every worker's
  jobs. So every node answers the same values: aggregate them with `max`, not `sum`.

Durations are not a Prometheus histogram (those are counters that only grow, for `rate()`):
they are quantiles of the jobs that finished within the last `JAM_METRICS_WINDOW_S`, so a
value is "the p95 of the last hour", recomputed at each scrape, and absent (no sample) when
no job finished in the window.
"""

import hmac
import ipaddress
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

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


JOB_REGISTRY = CollectorRegistry(auto_describe=False)
JOB_REGISTRY.register(JobCollector())


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
