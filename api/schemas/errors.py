"""Errors in the public JSON (v1): every 4xx and 5xx body, and a failed conversation's reason."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(examples=["E002_unsupported_format"])
    message: str = Field(
        examples=["call.wav is a PDF document (named .wav); upload call audio, ..."]
    )
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorInfo(BaseModel):
    code: str
    message: str
