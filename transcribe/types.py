"""The one shape every channel is parsed into: a Transcript of speaker Turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Channel = Literal["call", "email", "chat"]
Role = Literal["agent", "customer", "unknown"]


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass
class Turn:
    speaker: Role
    text: str
    # "agent", "customer", "ch0", "spk1", an email address...: who exactly spoke
    speaker_label: str = ""
    # "fa" / "en"; empty when not yet identified
    language: str = ""
    # seconds from the start of the audio; None for emails and chats
    start: float | None = None
    end: float | None = None
    # wall-clock time the message was sent (emails, chats); None for calls
    sent_at: datetime | None = None
    words: list[Word] = field(default_factory=list)
    # mean word probability from ASR; None for typed text
    confidence: float | None = None


@dataclass
class Transcript:
    channel: Channel
    turns: list[Turn]
    # conversation language, "fa" or "en"
    language: str = ""
    duration_s: float | None = None
    # channel-specific facts worth keeping (email subject, sender addresses, audio sample rate...)
    meta: dict[str, object] = field(default_factory=dict)
