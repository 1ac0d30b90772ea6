"""`GET /metrics`: Prometheus metrics. The deployment's state is read from the database at scrape
time (one query per family), beside this process's own histograms (`core.metrics`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import Session, col, func, select

from models.db import get_engine
from models.tables import (
    Conversation,
    ConversationStatus,
    QueueItem,
    QueueItemStatus,
    WebhookDelivery,
)


class DatabaseCollector(Collector):
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with Session(get_engine(self.database_url)) as session:
            by_status = GaugeMetricFamily(
                "hamsu_conversations", "Conversations by job status", labels=["status"]
            )
            for status, n in session.exec(
                select(Conversation.status, func.count()).group_by(Conversation.status)
            ).all():
                by_status.add_metric([status], n)
            yield by_status
            failed = GaugeMetricFamily(
                "hamsu_conversations_failed",
                "Failed conversations by error code",
                labels=["code"],
            )
            for code, n in session.exec(
                select(Conversation.error_code, func.count())
                .where(Conversation.status == ConversationStatus.FAILED)
                .group_by(Conversation.error_code)
            ).all():
                failed.add_metric([code or "unknown"], n)
            yield failed
            depth = GaugeMetricFamily(
                "hamsu_queue_depth", "Open and claimed queue items by queue", labels=["queue"]
            )
            for queue, n in session.exec(
                select(QueueItem.queue, func.count())
                .where(col(QueueItem.status).in_(QueueItemStatus.ACTIVE))
                .group_by(QueueItem.queue)
            ).all():
                depth.add_metric([queue], n)
            yield depth
            deliveries = GaugeMetricFamily(
                "hamsu_webhook_deliveries",
                "Webhook deliveries by status (pending, succeeded, failed)",
                labels=["status"],
            )
            for status, n in session.exec(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            ).all():
                deliveries.add_metric([status], n)
            yield deliveries
