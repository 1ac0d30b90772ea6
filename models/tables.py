"""SQLModel tables: accounts, conversations (one per upload, also the job row), turns, insights,
queue items."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class ConversationStatus:
    QUEUED = "queued"
    TRANSCRIBING = "transcribing"
    ANALYZING = "analyzing"
    ROUTED = "routed"
    FAILED = "failed"
    IN_FLIGHT = (QUEUED, TRANSCRIBING, ANALYZING)


class Account(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(index=True, unique=True)
    tier: str = "standard"
    created_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
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


class QueueItem(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("conversation_id", "queue"),)

    id: int | None = Field(default=None, primary_key=True)
    queue: str = Field(index=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True)
    priority: str = "normal"
    status: str = Field(default="open", index=True)
    # the conversation's insight indexes this item holds
    insights: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    top_score: float = 0.0
    created_at: datetime = Field(default_factory=utcnow, index=True)
