"""Public JSON shapes of the webhook endpoints (v1). Fields may be added; none is renamed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.labels import InsightKind

# the subscribable events; kept equal to routing.events.EVENTS (a test checks)
EventName = Literal["queue_item.created", "queue_item.resolved", "insight.reviewed"]

_URL = Field(
    min_length=1,
    max_length=2000,
    description="http:// or https:// URL; private addresses only when allow-listed",
    examples=["https://crm.example.com/hooks/hamsu"],
)


class WebhookCreate(BaseModel):
    url: str = _URL
    events: list[EventName] = Field(
        min_length=1, examples=[["queue_item.created", "queue_item.resolved"]]
    )
    description: str = Field(default="", max_length=500, examples=["CRM sync"])
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="signing secret; one is generated when left out",
        examples=[None],
    )


class WebhookUpdate(BaseModel):
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="a new target, checked like at creation",
        examples=["https://crm.example.com/hooks/hamsu-v2"],
    )
    events: list[EventName] | None = Field(
        default=None, min_length=1, examples=[["queue_item.created"]]
    )
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = Field(
        default=None,
        description="false pauses the subscription: no new deliveries are recorded and pending "
        "ones wait; true resumes them",
        examples=[False],
    )
    rotate_secret: bool = Field(
        default=False, description="generate a new signing secret and return it once"
    )


class WebhookPublic(BaseModel):
    id: int = Field(examples=[3])
    url: str = Field(examples=["https://crm.example.com/hooks/hamsu"])
    events: list[str] = Field(examples=[["queue_item.created", "queue_item.resolved"]])
    description: str = Field(examples=["CRM sync"])
    active: bool = Field(examples=[True])
    created_at: str = Field(examples=["2025-03-02T09:14:03.120000+00:00"])
    deliveries: dict[str, int] = Field(
        description="how many deliveries are pending, succeeded and failed",
        examples=[{"pending": 1, "succeeded": 42, "failed": 0}],
    )
    secret: str | None = Field(
        default=None,
        description="the signing secret: only in the answer to creation and to a rotation, "
        "null everywhere else",
        examples=["whsec_0mKq3n2v7c9J0yVt3bX4R1a8sQe6wP5uZ2kH9dL4fG0"],
    )


class WebhookAttemptPublic(BaseModel):
    id: int = Field(examples=[57])
    at: str = Field(examples=["2025-03-02T09:14:04.002000+00:00"])
    status_code: int | None = Field(description="null when no HTTP answer came", examples=[500])
    error: str | None = Field(
        description="why the attempt failed; 'in flight' while it runs", examples=["HTTP 500"]
    )
    duration_ms: int = Field(examples=[38])


class WebhookDeliveryPublic(BaseModel):
    id: int = Field(examples=[120])
    webhook_id: int = Field(examples=[3])
    event: str = Field(examples=["queue_item.created"])
    event_id: str = Field(
        description="the envelope's id; the same on every retry and replay",
        examples=["5f0c1d2e3a4b4c5d8e9f00112233aabb"],
    )
    status: Literal["pending", "succeeded", "failed"] = Field(examples=["succeeded"])
    attempt_count: int = Field(description="attempts in the current cycle", examples=[2])
    next_attempt_at: str | None = Field(
        description="when a pending delivery is tried next; null once it is done",
        examples=[None],
    )
    last_status_code: int | None = Field(examples=[200])
    last_error: str | None = Field(examples=[None])
    created_at: str = Field(examples=["2025-03-02T09:14:03.120000+00:00"])
    delivered_at: str | None = Field(examples=["2025-03-02T09:14:06.310000+00:00"])
    payload: dict[str, Any] = Field(
        description="the JSON body sent (the event envelope)",
        examples=[
            {
                "id": "5f0c1d2e3a4b4c5d8e9f00112233aabb",
                "event": "queue_item.created",
                "created_at": "2025-03-02T09:14:03.118000+00:00",
                "data": {"id": 17, "queue": "cs", "kind": InsightKind.CHURN_RISK, "status": "open"},
            }
        ],
    )
    attempts: list[WebhookAttemptPublic] = Field(
        description="every HTTP attempt, replays included, oldest first"
    )


class WebhookDeliveriesPage(BaseModel):
    webhook_id: int = Field(examples=[3])
    deliveries: list[WebhookDeliveryPublic]
    total: int = Field(description="deliveries matching the filter", examples=[1])
    next_before: int | None = Field(
        description="pass as `before` for the next (older) page; null on the last page",
        examples=[None],
    )
