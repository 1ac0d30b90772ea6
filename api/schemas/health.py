"""Liveness, readiness (v1)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    conversations: dict[str, int] = Field(
        description="conversations per status", examples=[{"routed": 41, "queued": 2}]
    )


class Readiness(BaseModel):
    status: str = Field(description="ready, or not ready", examples=["ready"])
    checks: dict[str, str] = Field(
        description='"ok", "not used" (the broker with the embedded worker), or why it failed',
        examples=[{"database": "ok", "broker": "ok"}],
    )
