"""The process's own Prometheus metrics (`prometheus-client`), defined once. What every process
can read from the database (conversations per status, queue depth, failures by code, webhook
deliveries) is collected at scrape time instead (`api.metrics`), so the API reports the whole
deployment however many workers run."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

STAGE_SECONDS = Histogram(
    "hamsu_stage_seconds",
    "Seconds one stage of a conversation took in this process",
    ["stage"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
MODEL_LOAD_SECONDS = Gauge(
    "hamsu_model_load_seconds", "Seconds this process took to load a model", ["model"]
)
