"""SQLModel tables: accounts, conversations (one per upload, also the job row), turns, insights,
queue items and their history, reviews, API keys, webhook subscriptions and deliveries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

# the largest row id every supported database stores: PostgreSQL's INTEGER (SQLite's is 2**63-1);
# ids in paths and cursors above it are refused as invalid instead of failing in the database
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything Hamsu stores is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def new_id() -> str:
    return uuid.uuid4().hex


class ConversationStatus:
    QUEUED = "queued"
    TRANSCRIBING = "transcribing"
    ANALYZING = "analyzing"
    ROUTED = "routed"
    FAILED = "failed"


class Account(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(index=True, unique=True)
    # the customer's id in the company's CRM, for explicit linking on upload
    external_id: str | None = Field(default=None, index=True, unique=True)
    tier: str = "standard"
    # email domains and phone numbers (E.164-like digits) that identify the account
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    phones: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    # the caller's phone number given at upload, normalized (digits with the country code)
    caller_phone: str | None = None
    # the file as uploaded: name, hash, where the untouched original is stored
    filename: str
    sha256: str = Field(index=True, unique=True)
    size_bytes: int
    storage_path: str
    # call / email / chat; known after sniffing the file
    channel: str = ""
    # what the uploader asked for ("auto", "fa", "en") and what was found
    requested_language: str = "auto"
    language: str = ""
    agent_channel: int | None = None
    status: str = Field(default=ConversationStatus.QUEUED, index=True)
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    duration_s: float | None = None
    # transcript meta, speaker sentiment summary, routes
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class Turn(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("conversation_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    index: int
    speaker: str
    speaker_label: str = ""
    text: str
    language: str = ""
    start: float | None = None
    end: float | None = None
    sent_at: datetime | None = None
    confidence: float | None = None
    sentiment_label: str = "neutral"
    sentiment_score: float = 0.0
    sentiment_polarity: float = 0.0


class Insight(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    # position in the conversation's insight list (what routes refer to)
    index: int
    kind: str = Field(index=True)
    score: float
    turn: int
    speaker: str
    quote: str
    span_start: int
    span_end: int
    start: float | None = None
    detector: str
    language: str = ""
    category: str | None = None
    category_score: float | None = None
    threshold: float = 0.5
    explanation: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # calibrated probability that the quoted turn, read in context, carries the kind
    evidence_score: float | None = None
    # the recogniser's confidence in the quoted turn (calls)
    transcript_confidence: float | None = None
    # held for listening: routed only once a person confirms it (a review)
    needs_listening: bool = Field(default=False, index=True)


class QueueItemStatus:
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"
    ACTIVE = (OPEN, CLAIMED)


class QueueItem(SQLModel, table=True):
    """Work for a person: one open item per account, queue and kind within the dedupe window."""

    id: int | None = Field(default=None, primary_key=True)
    queue: str = Field(index=True)
    kind: str = Field(index=True)
    # the conversation that opened the item; later insights may come from other conversations
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    priority: str = Field(default="normal", index=True)
    status: str = Field(default=QueueItemStatus.OPEN, index=True)
    assignee: str | None = Field(default=None, index=True)
    rule: str = ""
    top_score: float = 0.0
    category: str | None = None
    language: str = ""
    channel: str = ""
    sla_hours: float | None = None
    due_at: datetime | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


class QueueItemInsight(SQLModel, table=True):
    item_id: int = Field(foreign_key="queueitem.id", primary_key=True)
    insight_id: int = Field(foreign_key="insight.id", primary_key=True)


class QueueItemEvent(SQLModel, table=True):
    """History of an item: created, attached, claimed, released, noted, resolved, dismissed..."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="queueitem.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    # API key name of the person, or "hamsu" for automatic changes
    actor: str
    action: str
    note: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Review(SQLModel, table=True):
    """A person's verdict on one insight; the latest one counts, all are kept."""

    id: int | None = Field(default=None, primary_key=True)
    insight_id: int = Field(foreign_key="insight.id", index=True)
    reviewer: str
    verdict: str  # confirm / reject / correct
    corrected_kind: str | None = None
    corrected_category: str | None = None
    corrected_sentiment: str | None = None
    note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    role: str  # admin / uploader / csm / sales
    # the first characters of the key, to find its row; only a hash of the whole key is stored
    prefix: str = Field(index=True)
    key_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class WebhookSubscription(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # shared secret for the HMAC-SHA256 signature; shown once at creation
    secret: str
    description: str = ""
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription; written in the same transaction as the change (outbox)."""

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhooksubscription.id", index=True)
    event: str
    # stable across retries and replays, so receivers can drop duplicates
    event_id: str = Field(default_factory=new_id, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default="pending", index=True)  # pending / succeeded / failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: every HTTP attempt with its outcome."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhookdelivery.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
