"""The one shape every channel is parsed into: a Transcript of speaker Turns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

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


def jsonable_meta(meta: dict[str, object]) -> dict[str, Any]:
    """Channel facts as JSON: plain values kept, anything else as its string."""
    return {
        k: (v if isinstance(v, str | int | float | bool | type(None) | list | dict) else str(v))
        for k, v in meta.items()
    }


def transcript_to_json(transcript: Transcript) -> dict[str, Any]:
    """The transcript as plain JSON: what a transcribe worker hands to an analyze worker (the
    stages may run on different machines). Channel facts that are not JSON become their text."""
    return {
        "channel": transcript.channel,
        "language": transcript.language,
        "duration_s": transcript.duration_s,
        "meta": jsonable_meta(transcript.meta),
        "turns": [
            {
                **{k: v for k, v in asdict(turn).items() if k not in ("words", "sent_at")},
                "sent_at": turn.sent_at.isoformat() if turn.sent_at else None,
                "words": [[w.start, w.end, w.text, w.probability] for w in turn.words],
            }
            for turn in transcript.turns
        ],
    }


def transcript_from_json(data: dict[str, Any]) -> Transcript:
    turns = []
    for raw in data["turns"]:
        fields = {k: v for k, v in raw.items() if k not in ("words", "sent_at")}
        turns.append(
            Turn(
                **fields,
                sent_at=datetime.fromisoformat(raw["sent_at"]) if raw["sent_at"] else None,
                words=[Word(*w) for w in raw["words"]],
            )
        )
    return Transcript(
        channel=data["channel"],
        turns=turns,
        language=data["language"],
        duration_s=data["duration_s"],
        meta=data["meta"],
    )
