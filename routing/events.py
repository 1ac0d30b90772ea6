"""Events for webhooks, written to the outbox in the caller's transaction.

A delivery row exists for every active subscription to the event as soon as the change commits,
so a crash between the change and the HTTP call loses nothing: the sender picks rows up later.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session, select

from models.tables import WebhookDelivery, WebhookSubscription, new_id, utcnow

EVENTS = ("queue_item.created", "queue_item.resolved", "insight.reviewed")


def emit(session: Session, event: str, data: BaseModel) -> str:
    """Queue `event` for every subscriber; returns the event id (shared by all deliveries)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    event_id = new_id()
    payload = {
        "id": event_id,
        "event": event,
        "created_at": utcnow().isoformat(),
        "data": data.model_dump(mode="json"),
    }
    subscriptions = session.exec(
        select(WebhookSubscription).where(WebhookSubscription.active == True)  # noqa: E712
    ).all()
    for subscription in subscriptions:
        if event in subscription.events:
            session.add(
                WebhookDelivery(
                    subscription_id=subscription.id,  # type: ignore[arg-type]
                    event=event,
                    event_id=event_id,
                    payload=payload,
                )
            )
    return event_id
