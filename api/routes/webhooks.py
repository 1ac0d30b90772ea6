"""Webhook subscriptions, their delivery log and replays (admin only). See docs/webhooks.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from api.deps import AdminKey, SessionDep, SettingsDep
from api.schemas.errors import ErrorBody
from api.schemas.webhooks import (
    WebhookCreate,
    WebhookDeliveriesPage,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
)
from core.errors import ErrorCode, HamsuError
from models.tables import (
    MAX_ID,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    aware,
    utcnow,
)
from routing.webhooks import DeliveryStatus, generate_secret, queue_ping, validate_target

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="the webhook's id", examples=[3])]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="the delivery's id", examples=[120])]

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no or invalid API key"},
    403: {"model": ErrorBody, "description": "the key is not an admin key"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such webhook or delivery"}
}
_TARGET: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "bad request body, or a target that is not http(s) or is a private "
        "address that is not allow-listed (E015_invalid_webhook_target)",
    }
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "bad parameters"}
}


def _iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value is not None else None  # type: ignore[union-attr]


def _sender_notify(request: Request) -> None:
    sender = getattr(request.app.state, "webhook_sender", None)
    if sender is not None:
        sender.notify()


def _get_subscription(session: Session, webhook_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, webhook_id)
    if subscription is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"webhook {webhook_id} not found")
    return subscription


def _get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"webhook delivery {delivery_id} not found")
    return delivery


def _webhook_view(
    session: Session, subscription: WebhookSubscription, secret: str | None = None
) -> dict[str, Any]:
    counts = dict.fromkeys(DeliveryStatus.ALL, 0)
    rows = session.exec(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.subscription_id == subscription.id)
        .group_by(col(WebhookDelivery.status))
    ).all()
    for status, count in rows:
        counts[status] = count
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "description": subscription.description,
        "active": subscription.active,
        "created_at": _iso(subscription.created_at),
        "deliveries": counts,
        "secret": secret,
    }


def _delivery_view(session: Session, delivery: WebhookDelivery) -> dict[str, Any]:
    attempts = session.exec(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(col(WebhookAttempt.id))
    ).all()
    return {
        "id": delivery.id,
        "webhook_id": delivery.subscription_id,
        "event": delivery.event,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "attempt_count": delivery.attempts,
        "next_attempt_at": (
            _iso(delivery.next_attempt_at) if delivery.status == DeliveryStatus.PENDING else None
        ),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _iso(delivery.created_at),
        "delivered_at": _iso(delivery.delivered_at),
        "payload": delivery.payload,
        "attempts": [
            {
                "id": a.id,
                "at": _iso(a.at),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    }


def _unique(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


@router.post(
    "",
    status_code=201,
    response_model=WebhookPublic,
    responses={**_AUTH, **_TARGET},
    summary="Subscribe a URL to events (the signing secret is returned once)",
)
def create_webhook(
    body: WebhookCreate, session: SessionDep, settings: SettingsDep, _admin: AdminKey
) -> Any:
    """The target must be http(s); hosts resolving to loopback, private, link-local, reserved,
    multicast or unspecified addresses are refused unless listed in `webhooks.allow_private`."""
    url = body.url.strip()
    validate_target(url, settings.webhooks.allow_private)
    secret = body.secret or generate_secret()
    subscription = WebhookSubscription(
        url=url, events=_unique(list(body.events)), secret=secret, description=body.description
    )
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return _webhook_view(session, subscription, secret=secret)


@router.get(
    "",
    response_model=list[WebhookPublic],
    responses=_AUTH,
    summary="All webhook subscriptions (secrets are never shown)",
)
def list_webhooks(
    session: SessionDep,
    _admin: AdminKey,
    active: Annotated[bool | None, Query(description="only active or only paused ones")] = None,
) -> Any:
    query = select(WebhookSubscription).order_by(col(WebhookSubscription.id))
    if active is not None:
        query = query.where(WebhookSubscription.active == active)
    return [_webhook_view(session, s) for s in session.exec(query).all()]


@router.get(
    "/deliveries/{delivery_id}",
    response_model=WebhookDeliveryPublic,
    responses={**_AUTH, **_NOT_FOUND, **_INVALID},
    summary="One delivery with its attempts",
)
def get_delivery(delivery_id: DeliveryId, session: SessionDep, _admin: AdminKey) -> Any:
    return _delivery_view(session, _get_delivery(session, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses={
        **_AUTH,
        **_NOT_FOUND,
        **_INVALID,
        409: {
            "model": ErrorBody,
            "description": "the delivery is still pending, or its webhook is paused",
        },
    },
    summary="Send a succeeded or failed delivery again (same event id, new attempt cycle)",
)
def replay_delivery(
    delivery_id: DeliveryId, request: Request, session: SessionDep, _admin: AdminKey
) -> Any:
    """The body is the stored envelope, signed afresh with the webhook's current secret and sent
    to its current URL. Earlier attempts stay in the log."""
    delivery = _get_delivery(session, delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        raise HamsuError(
            ErrorCode.CONFLICT,
            f"webhook delivery {delivery_id} is still pending (next attempt at "
            f"{_iso(delivery.next_attempt_at)}); only succeeded or failed deliveries are replayed",
        )
    subscription = _get_subscription(session, delivery.subscription_id)
    if not subscription.active:
        raise HamsuError(
            ErrorCode.CONFLICT,
            f"webhook {subscription.id} is paused; set active=true before replaying",
        )
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.delivered_at = None
    delivery.last_error = None
    delivery.last_status_code = None
    session.add(delivery)
    session.commit()
    session.refresh(delivery)
    _sender_notify(request)
    return _delivery_view(session, delivery)


@router.get(
    "/{webhook_id}",
    response_model=WebhookPublic,
    responses={**_AUTH, **_NOT_FOUND, **_INVALID},
    summary="One webhook subscription",
)
def get_webhook(webhook_id: WebhookId, session: SessionDep, _admin: AdminKey) -> Any:
    return _webhook_view(session, _get_subscription(session, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookPublic,
    responses={**_AUTH, **_NOT_FOUND, **_TARGET},
    summary="Change the URL, events or description, pause/resume, or rotate the secret",
)
def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    _admin: AdminKey,
) -> Any:
    """Pausing (`active: false`) stops recording new deliveries and holds pending ones; resuming
    sends the held ones. A rotated secret is returned once and signs every later attempt."""
    subscription = _get_subscription(session, webhook_id)
    if body.url is not None:
        url = body.url.strip()
        validate_target(url, settings.webhooks.allow_private)
        subscription.url = url
    if body.events is not None:
        subscription.events = _unique(list(body.events))
    if body.description is not None:
        subscription.description = body.description
    if body.active is not None:
        subscription.active = body.active
    secret = None
    if body.rotate_secret:
        secret = subscription.secret = generate_secret()
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    if subscription.active:
        _sender_notify(request)
    return _webhook_view(session, subscription, secret=secret)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    responses={**_AUTH, **_NOT_FOUND, **_INVALID},
    summary="Delete a subscription with its deliveries and their log",
)
def delete_webhook(webhook_id: WebhookId, session: SessionDep, _admin: AdminKey) -> None:
    """Deletion is final: pending deliveries are dropped and the log goes too. To stop sending
    for a while and keep the log, PATCH `active: false` instead."""
    subscription = _get_subscription(session, webhook_id)
    delivery_ids = select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == webhook_id)
    session.exec(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(delivery_ids)))
    session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == webhook_id))
    session.delete(subscription)
    session.commit()


@router.get(
    "/{webhook_id}/deliveries",
    response_model=WebhookDeliveriesPage,
    responses={**_AUTH, **_NOT_FOUND, **_INVALID},
    summary="The delivery log of a subscription, newest first",
)
def list_deliveries(
    webhook_id: WebhookId,
    session: SessionDep,
    _admin: AdminKey,
    status: Annotated[
        Literal["pending", "succeeded", "failed"] | None, Query(description="filter by status")
    ] = None,
    event: Annotated[str | None, Query(description="filter by event name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="cursor: only deliveries with a smaller id"),
    ] = None,
) -> Any:
    _get_subscription(session, webhook_id)
    filters = [col(WebhookDelivery.subscription_id) == webhook_id]
    if status:
        filters.append(col(WebhookDelivery.status) == status)
    if event:
        filters.append(col(WebhookDelivery.event) == event)
    total = session.exec(select(func.count()).select_from(WebhookDelivery).where(*filters)).one()
    query = select(WebhookDelivery).where(*filters)
    if before is not None:
        query = query.where(col(WebhookDelivery.id) < before)
    rows = session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit + 1)).all()
    page = rows[:limit]
    return {
        "webhook_id": webhook_id,
        "deliveries": [_delivery_view(session, d) for d in page],
        "total": total,
        "next_before": page[-1].id if len(rows) > limit else None,
    }


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses={
        **_AUTH,
        **_NOT_FOUND,
        **_INVALID,
        409: {"model": ErrorBody, "description": "the webhook is paused"},
    },
    summary="Queue a signed `ping` event to this subscription only",
)
def test_webhook(
    webhook_id: WebhookId, request: Request, session: SessionDep, _admin: AdminKey
) -> Any:
    """The ping goes through the normal outbox, signing and retries; follow it with
    `GET /v1/webhooks/deliveries/{id}`. `ping` cannot be subscribed to."""
    subscription = _get_subscription(session, webhook_id)
    if not subscription.active:
        raise HamsuError(
            ErrorCode.CONFLICT, f"webhook {webhook_id} is paused; set active=true to test it"
        )
    delivery = queue_ping(session, subscription)
    session.commit()
    session.refresh(delivery)
    _sender_notify(request)
    return _delivery_view(session, delivery)
