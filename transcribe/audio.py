"""Decode any common audio file into float32 16 kHz arrays, one per channel, with PyAV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from core.errors import ErrorCode, HamsuError

TARGET_SAMPLE_RATE = 16_000
# a truncated file is kept when at least this much audio survives
MIN_PARTIAL_S = 0.5

# Leading bytes of files people upload by mistake; checked before FFmpeg, whose probing would
# otherwise read some of them as video (text becomes an "ANSI art" stream) or fail vaguely.
_NOT_AUDIO_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a Linux executable"),
    (b"MZ", "a Windows executable"),
    (b"{\\rtf", "an RTF document"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)
# Leading bytes of audio containers: a failure on these means a damaged file, not a wrong one.
_AUDIO_SIGNATURES: tuple[bytes, ...] = (b"RIFF", b"ID3", b"OggS", b"fLaC", b"\x1aE\xdf\xa3")


@dataclass(frozen=True)
class DecodedAudio:
    # one float32 array per channel, at sample_rate; stereo stays two arrays (one party each)
    channels: list[np.ndarray]
    # always TARGET_SAMPLE_RATE, what Whisper, Silero VAD and Resemblyzer expect
    sample_rate: int
    duration_s: float
    # the file's own rate (8000 for telephony) and channel count, kept for the transcript's meta
    original_sample_rate: int
    original_channels: int
    # FFmpeg's container name ("wav", "mp3", "ogg", "matroska,webm", ...)
    format_name: str
    # FFmpeg's codec name ("pcm_s16le", "pcm_mulaw", "opus", "aac", ...)
    codec_name: str


def load_audio(path: Path | str) -> DecodedAudio:
    """Decode `path`; raise HamsuError with a precise reason when it is not usable audio."""
    path = Path(path)
    if not path.is_file():
        raise HamsuError(ErrorCode.NOT_FOUND, f"audio file {path} does not exist")
    with path.open("rb") as fh:
        head = fh.read(512)
    if not head:
        raise HamsuError(ErrorCode.EMPTY_FILE, f"{path.name} is empty (0 bytes)")
    _refuse_known_non_audio(path.name, head)
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise _unreadable(path.name, head, exc) from exc
    with container:
        if not container.streams.audio:
            found = ", ".join(f"{s.type} ({s.codec_context.name})" for s in container.streams)
            raise HamsuError(
                ErrorCode.CORRUPT_AUDIO,
                f"{path.name} has no audio stream (found: {found or 'no streams at all'})",
            )
        stream = container.streams.audio[0]
        original_rate = stream.codec_context.sample_rate
        original_channels = stream.codec_context.channels
        codec_name = stream.codec_context.name
        samples, error = _decode(container, stream, original_channels)
        format_name = container.format.name

    duration_s = samples.shape[1] / TARGET_SAMPLE_RATE
    if duration_s < MIN_PARTIAL_S:
        why = f"FFmpeg stopped: {error}" if error else "the data ends there"
        raise HamsuError(
            ErrorCode.CORRUPT_AUDIO,
            f"{path.name} holds only {duration_s:.2f} s of {codec_name} audio ({why}); a "
            f"truncated or damaged file (at least {MIN_PARTIAL_S} s is needed)",
        )
    return DecodedAudio(
        channels=[np.ascontiguousarray(channel) for channel in samples],
        sample_rate=TARGET_SAMPLE_RATE,
        duration_s=duration_s,
        original_sample_rate=original_rate,
        original_channels=original_channels,
        format_name=format_name,
        codec_name=codec_name,
    )


def speech_regions(
    audio: np.ndarray, *, min_silence_s: float = 2.0, pad_s: float = 0.4
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in 16 kHz audio, by the Silero VAD in faster-whisper.

    The defaults are faster-whisper's own; diarization asks for shorter silences to split turns.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=int(min_silence_s * 1000), speech_pad_ms=int(pad_s * 1000)
    )
    chunks = get_speech_timestamps(audio, options, sampling_rate=TARGET_SAMPLE_RATE)
    return [(c["start"] / TARGET_SAMPLE_RATE, c["end"] / TARGET_SAMPLE_RATE) for c in chunks]


def _decode(
    container: av.container.InputContainer, stream: av.AudioStream, n_channels: int
) -> tuple[np.ndarray, str | None]:
    """Resample the stream to planar float32 at 16 kHz; keep what decoded before an error."""
    # Two channels stay apart (one party each in call-centre recordings); anything wider has
    # no such convention and is mixed down to mono.
    layout = "stereo" if n_channels == 2 else "mono"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=TARGET_SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    error: str | None = None
    try:
        for frame in container.decode(stream):
            frame.pts = None  # timestamps of damaged files jump; the resampler need not check
            chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
    except av.FFmpegError as exc:
        error = _reason(exc)
    chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    width = 2 if layout == "stereo" else 1
    if not chunks:
        return np.zeros((width, 0), dtype=np.float32), error
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), error


def _refuse_known_non_audio(name: str, head: bytes) -> None:
    for signature, kind in _NOT_AUDIO_SIGNATURES:
        if head.startswith(signature):
            shown = signature.decode("latin-1").strip("\x00")
            raise HamsuError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{name} starts with {shown!r}; it is {kind}, not audio",
            )
    text = _as_text(head)
    if text is not None:
        raise HamsuError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{name} is a text file, not audio (it starts with {text[:40]!r})",
        )


def _as_text(head: bytes) -> str | None:
    """Return the decoded head if it is readable text (UTF-8, printable), else None."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # the 512-byte cut may split a multi-byte character: only that tail may fail
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if text and printable / len(text) > 0.95 else None


def _unreadable(name: str, head: bytes, exc: Exception) -> HamsuError:
    if head.startswith(_AUDIO_SIGNATURES) or head[4:8] == b"ftyp":
        return HamsuError(
            ErrorCode.CORRUPT_AUDIO,
            f"{name} looks like audio (starts with {head[:4]!r}) but FFmpeg cannot read it: "
            f"{_reason(exc)}",
        )
    return HamsuError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"{name} is not in any audio format FFmpeg knows (first bytes: {head[:8].hex(' ')})",
    )


def _reason(exc: Exception) -> str:
    """FFmpeg's reason without the server-side path that str(exc) appends."""
    return getattr(exc, "strerror", None) or type(exc).__name__
