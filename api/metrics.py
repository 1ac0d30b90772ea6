"""`GET /metrics`: Prometheus metrics. The deployment's state is read from the database at scrape
time (one query per family), beside this process's own histograms (`core.metrics`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Select, func, select
from sqlmodel import Session, col

from models.db import get_engine
from models.tables import (
    Conversation,
    ConversationStatus,
    QueueItem,
    QueueItemStatus,
    WebhookDelivery,
)


def _by(column: Any, *conditions: Any) -> Select[Any]:
    """Rows of (value of `column`, count), grouped by it."""
    return select(column, func.count()).where(*conditions).group_by(column)


# name, help, label, the grouped count
FAMILIES = (
    ("hamsu_conversations", "Conversations by job status", "status", _by(Conversation.status)),
    (
        "hamsu_conversations_failed",
        "Failed conversations by error code",
        "code",
        _by(Conversation.error_code, Conversation.status == ConversationStatus.FAILED),
    ),
    (
        "hamsu_queue_depth",
        "Open and claimed queue items by queue",
        "queue",
        _by(QueueItem.queue, col(QueueItem.status).in_(QueueItemStatus.ACTIVE)),
    ),
    (
        "hamsu_webhook_deliveries",
        "Webhook deliveries by status (pending, succeeded, failed)",
        "status",
        _by(WebhookDelivery.status),
    ),
)


class DatabaseCollector(Collector):
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with Session(get_engine(self.database_url)) as session:
            for name, documentation, label, query in FAMILIES:
                family = GaugeMetricFamily(name, documentation, labels=[label])
                for value, n in session.execute(query).all():
                    family.add_metric([value or "unknown"], n)
                yield family
