"""One call recording in, one Transcript of agent and customer turns out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ErrorCode, HamsuError
from core.settings import AsrSettings
from transcribe.asr import SUPPORTED_LANGUAGES, AsrBackend, AsrSegment, get_backend
from transcribe.audio import DecodedAudio, load_audio, speech_regions
from transcribe.diarize import diarize, speaker_lookup
from transcribe.roles import decide_roles, score_speakers
from transcribe.types import Role, Transcript, Turn, Word

# Consecutive pieces of one speaker closer than this (seconds) read as one turn.
MERGE_GAP_S = 1.0
# Two channels correlating this much carry the same signal (a mono call saved as stereo).
_SAME_SIGNAL_CORRELATION = 0.98
# Seconds of customer speech below which the agent's channel is used to pick the language.
_MIN_LANGUAGE_SPEECH_S = 2.0
# Shares of the progress bar: decoding and VAD, language id, recognition, speaker split.
_P_DECODED, _P_LANGUAGE, _P_ASR_END = 0.05, 0.1, 0.9

Progress = Callable[[float], None]


@dataclass(frozen=True)
class _Piece:
    """A stretch of one speaker's words before merging into turns."""

    label: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


def transcribe_call(
    path: Path | str,
    *,
    settings: AsrSettings,
    data_dir: Path,
    language: str | None = None,
    agent_channel: int | None = None,
    progress: Progress | None = None,
    backend: AsrBackend | None = None,
) -> Transcript:
    """Transcribe a call: stereo is one party per channel, mono is diarized and roles guessed.

    `language` ("fa"/"en") skips detection; `agent_channel` overrides `settings.agent_channel`;
    `progress` receives the fraction done; `backend` replaces the one `settings` selects.
    """
    report = progress or (lambda _fraction: None)
    report(0.0)
    if language is not None and language not in SUPPORTED_LANGUAGES:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"language {language!r} is not supported; use one of {SUPPORTED_LANGUAGES}",
        )
    agent_ch = settings.agent_channel if agent_channel is None else agent_channel
    if agent_ch not in (0, 1):
        raise HamsuError(
            ErrorCode.INVALID_OPTION, f"agent_channel must be 0 (left) or 1 (right), not {agent_ch}"
        )
    audio = load_audio(path, max_duration_s=settings.max_duration_s)
    speech = [speech_regions(channel) for channel in audio.channels]
    if not any(speech):
        raise HamsuError(
            ErrorCode.NO_SPEECH,
            f"no speech found in {Path(path).name} ({audio.duration_s:.1f} s of silence or noise)",
        )
    report(_P_DECODED)
    asr = backend or get_backend(settings, data_dir)
    layout, mono_reason = _layout(audio, speech)
    if layout == "stereo":
        outcome = _stereo(asr, audio, speech, agent_ch, language, report)
    else:
        outcome = _mono(asr, _mono_signal(audio, speech), language, report)
        outcome.meta["mono_reason"] = mono_reason
    if not outcome.turns:
        found = sum(end - start for regions in speech for start, end in regions)
        raise HamsuError(
            ErrorCode.NO_SPEECH,
            f"voice activity found ({found:.1f} s) but the ASR model recognised no words",
        )
    report(1.0)
    return Transcript(
        channel="call",
        turns=outcome.turns,
        language=outcome.language,
        duration_s=audio.duration_s,
        meta={
            "sample_rate": audio.original_sample_rate,
            "channels": audio.original_channels,
            "format": audio.format_name,
            "codec": audio.codec_name,
            "asr_model": asr.model_name,
            "layout": layout,
            "language_probability": outcome.language_probability,
            "speakers": len({turn.speaker_label for turn in outcome.turns}),
            **outcome.meta,
        },
    )


@dataclass(frozen=True)
class _Outcome:
    turns: list[Turn]
    language: str
    language_probability: float
    # layout-specific facts for Transcript.meta
    meta: dict[str, object]


def _stereo(
    asr: AsrBackend,
    audio: DecodedAudio,
    speech: list[list[tuple[float, float]]],
    agent_ch: int,
    language: str | None,
    report: Progress,
) -> _Outcome:
    """One party per channel: transcribe both, interleave by time; roles from the channel."""
    # the customer's speech decides the language, unless they barely spoke
    customer_s = sum(end - start for start, end in speech[1 - agent_ch])
    judged = 1 - agent_ch if customer_s >= _MIN_LANGUAGE_SPEECH_S else agent_ch
    language, probability = _language(asr, audio.channels[judged], language)
    report(_P_LANGUAGE)
    pieces: list[_Piece] = []
    share = (_P_ASR_END - _P_LANGUAGE) / 2
    for index, channel in enumerate(audio.channels):
        segments = _recognise(asr, channel, language, report, _P_LANGUAGE + index * share, share)
        pieces += [_piece(f"ch{index}", segment) for segment in segments]
    roles: dict[str, Role] = {f"ch{agent_ch}": "agent", f"ch{1 - agent_ch}": "customer"}
    turns = [
        dataclasses.replace(turn, speaker=roles[turn.speaker_label])
        for turn in _merge(pieces, language)
    ]
    meta: dict[str, object] = {"agent_channel": agent_ch, "role_method": "channel"}
    return _Outcome(turns, language, probability, meta)


def _mono(asr: AsrBackend, channel: np.ndarray, language: str | None, report: Progress) -> _Outcome:
    """Both parties on one signal: transcribe, split by voice, roles from what each says."""
    language, probability = _language(asr, channel, language)
    report(_P_LANGUAGE)
    segments = _recognise(asr, channel, language, report, _P_LANGUAGE, _P_ASR_END - _P_LANGUAGE)
    speaker_at = speaker_lookup(diarize(channel))
    pieces = [piece for segment in segments for piece in _split_by_speaker(segment, speaker_at)]
    turns = _merge(pieces, language)
    evidence = score_speakers(turns)
    roles = decide_roles(evidence)
    turns = [dataclasses.replace(turn, speaker=roles[turn.speaker_label]) for turn in turns]
    meta: dict[str, object] = {
        "role_method": "content",
        "role_evidence": {
            label: {
                "agent_score": found.agent_score,
                "customer_score": found.customer_score,
                "cues": list(found.matched),
                "spoke_first": found.spoke_first,
            }
            for label, found in evidence.items()
        },
    }
    return _Outcome(turns, language, probability, meta)


def _layout(audio: DecodedAudio, speech: list[list[tuple[float, float]]]) -> tuple[str, str]:
    """("stereo", "") when each channel holds its own speaker, else ("mono", why)."""
    if len(audio.channels) == 1:
        return "mono", "one channel"
    if not all(speech):
        silent = next(index for index, regions in enumerate(speech) if not regions)
        return "mono", f"channel {silent} has no speech"
    left, right = audio.channels
    denominator = float(np.linalg.norm(left) * np.linalg.norm(right))
    if denominator > 0 and float(left @ right) / denominator > _SAME_SIGNAL_CORRELATION:
        return "mono", "both channels carry the same signal"
    return "stereo", ""


def _mono_signal(audio: DecodedAudio, speech: list[list[tuple[float, float]]]) -> np.ndarray:
    """The channel that has speech (the first when both carry the same signal)."""
    return next(ch for ch, regions in zip(audio.channels, speech, strict=True) if regions)


def _language(asr: AsrBackend, audio: np.ndarray, given: str | None) -> tuple[str, float]:
    if given is not None:
        return given, 1.0
    guess = asr.detect_language(audio)
    return guess.language, guess.probability


def _recognise(
    asr: AsrBackend,
    audio: np.ndarray,
    language: str,
    report: Progress,
    offset: float,
    share: float,
) -> list[AsrSegment]:
    segments, _ = asr.transcribe(
        audio, language=language, progress=lambda fraction: report(offset + share * fraction)
    )
    return segments


def _piece(label: str, segment: AsrSegment) -> _Piece:
    return _Piece(label, segment.start, segment.end, segment.text, segment.words)


def _split_by_speaker(segment: AsrSegment, speaker_at: Callable[[float], str]) -> list[_Piece]:
    """Cut an ASR segment where the diarizer's speaker changes, word by word."""
    if not segment.words:
        return [_piece(speaker_at((segment.start + segment.end) / 2), segment)]
    pieces: list[_Piece] = []
    run: list[Word] = []
    run_label = ""
    for word in segment.words:
        label = speaker_at((word.start + word.end) / 2)
        if run and label != run_label:
            pieces.append(_words_piece(run_label, run))
            run = []
        run_label = label
        run.append(word)
    pieces.append(_words_piece(run_label, run))
    return pieces


def _words_piece(label: str, words: list[Word]) -> _Piece:
    text = " ".join(word.text for word in words)
    return _Piece(label, words[0].start, words[-1].end, text, tuple(words))


def _merge(pieces: list[_Piece], language: str) -> list[Turn]:
    """Order pieces by start; join a speaker's consecutive pieces separated by < MERGE_GAP_S."""
    groups: list[list[_Piece]] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if not piece.text:
            continue
        last = groups[-1][-1] if groups else None
        if last and last.label == piece.label and piece.start - last.end < MERGE_GAP_S:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return [_turn(group, language) for group in groups]


def _turn(group: list[_Piece], language: str) -> Turn:
    words = [word for piece in group for word in piece.words]
    return Turn(
        speaker="unknown",
        text=" ".join(piece.text for piece in group),
        speaker_label=group[0].label,
        language=language,
        start=group[0].start,
        end=max(piece.end for piece in group),
        words=words,
        confidence=float(np.mean([w.probability for w in words])) if words else None,
    )
