"""What the app counts for operators, in Prometheus' terms (prometheus-client).

The metrics live here, at the bottom of the layers, because every layer has something to
count: connectors their rate-limit answers and Shopify's bucket, iam its token refreshes,
jobqueue the webhooks it takes and the jobs it runs. `onboarding/metrics.py` serves them at
/metrics, with what is read from the job table at scrape time.

Several processes (app processes, worker processes) count into one set of figures through
prometheus-client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set in every process's
environment (one empty directory per host, emptied before the processes start), each value
lives in a memory-mapped file there and a scrape of any app process adds them up. Without it,
each process counts in memory and serves its own.

Counting is a dictionary lookup and a locked addition: the webhook intake counts every
delivery, so nothing here may cost more than that.
"""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "funnelsync"

webhooks_received = Counter(
    f"{PREFIX}_webhooks_received",
    "Verified webhook deliveries taken in, by source, topic and outcome (stored, or a duplicate delivery).",
    ["source", "topic", "outcome"],
)

webhook_intake_seconds = Histogram(
    f"{PREFIX}_webhook_intake_seconds",
    "Time from a webhook's request to its answer on the lean intake, by route (Litestar's"
    " funnelsync_request_duration_seconds covers every other route).",
    ["route", "status_code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# The intake's series by their label values, looked up once: `labels()` converts and checks its
# values under a lock on every call, several times the cost of the count itself. The values
# come from signed deliveries (a registry's topics, our three routes), so the caches stay small.
webhook_received_series = functools.cache(webhooks_received.labels)
webhook_intake_series = functools.cache(webhook_intake_seconds.labels)

webhook_applied_lag_seconds = Histogram(
    f"{PREFIX}_webhook_applied_lag_seconds",
    "Time from a webhook's intake to its event being applied by a worker, by source.",
    ["source"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)

job_failures = Counter(
    f"{PREFIX}_job_failures",
    "Job runs that failed (retried later, or given up as a dead letter), by kind.",
    ["kind"],
)

dead_letters_made = Counter(
    f"{PREFIX}_dead_letters_made",
    "Jobs that became dead letters, by kind (funnelsync_dead_letters counts those still there).",
    ["kind"],
)

shopify_bucket_headroom = Gauge(
    f"{PREFIX}_shopify_bucket_headroom_ratio",
    "Share of the query-cost bucket Shopify last said was available, by plan tier; across"
    " processes the lowest (the tightest shop seen last).",
    ["tier"],
    multiprocess_mode="livemin",
)

rate_limited_answers = Counter(
    f"{PREFIX}_rate_limited_answers",
    "429 answers from an external system (the CRM, the page builder, Shopify), by system.",
    ["system"],
)

token_refresh_failures = Counter(
    f"{PREFIX}_token_refresh_failures",
    "Token refreshes or grants that failed, by system and reason.",
    ["system", "reason"],
)

# Shopify's restore rate (points a second) names the shop's plan tier.
SHOPIFY_TIERS = {100.0: "standard", 200.0: "advanced", 1000.0: "plus", 2000.0: "enterprise"}


def shopify_tier(restore_rate: float) -> str:
    return SHOPIFY_TIERS.get(restore_rate, "other")


def system_label(system: str) -> str:
    """ "Page builder" -> "page_builder": a label value from a system's display name."""
    return system.lower().replace(" ", "_")
