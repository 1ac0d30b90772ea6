"""Decode any common audio file into float32 16 kHz arrays, one per channel, with PyAV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from core.errors import ErrorCode, HamsuError

if TYPE_CHECKING:
    from faster_whisper.vad import VadOptions

TARGET_SAMPLE_RATE = 16_000
# a truncated file is kept when at least this much audio survives
MIN_PARTIAL_S = 0.5
# Decoding may run this far past a duration cap before refusing: codec priming and the
# resampler's tail make the decoded length differ slightly from the header's.
_CAP_SLACK_S = 1.0
# Output buffers are sized from the header's duration; with no duration (a stream-style WebM,
# a FLAC without its sample count) they start at this size and grow by _GROWTH.
_UNKNOWN_START_S = 600.0
# Without a cap a header is not trusted with more than this up front (it may lie); the buffer
# still grows past it as audio really decodes.
_MAX_PREALLOCATED_S = 4 * 3600.0
_GROWTH = 1.5

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


def load_audio(path: Path | str, *, max_duration_s: float | None = None) -> DecodedAudio:
    """Decode `path`; raise HamsuError with a precise reason when it is not usable audio.

    Audio longer than `max_duration_s` is refused (AUDIO_TOO_LONG): from the container's
    declared duration before anything is decoded, and while decoding when that duration is
    missing or understated. None means no cap (trusted files: tests, benchmarks).
    """
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
        declared_s = _declared_duration(container, stream)
        if max_duration_s is not None and declared_s is not None and declared_s > max_duration_s:
            raise _too_long(path.name, declared_s, max_duration_s, declared=True)
        channels, error = _decode(
            container,
            stream,
            original_channels,
            declared_s=declared_s,
            max_duration_s=max_duration_s,
            name=path.name,
        )
        format_name = container.format.name

    duration_s = len(channels[0]) / TARGET_SAMPLE_RATE
    if duration_s < MIN_PARTIAL_S:
        why = f"FFmpeg stopped: {error}" if error else "the data ends there"
        raise HamsuError(
            ErrorCode.CORRUPT_AUDIO,
            f"{path.name} holds only {duration_s:.2f} s of {codec_name} audio ({why}); a "
            f"truncated or damaged file (at least {MIN_PARTIAL_S} s is needed)",
        )
    return DecodedAudio(
        channels=channels,
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
    Gives exactly what faster-whisper's `get_speech_timestamps` gives, but reads the audio a
    batch at a time: that function pads a copy of the whole signal and builds a second,
    larger one before running the model, briefly tripling the memory of a long call.
    """
    from faster_whisper.vad import VadOptions

    options = VadOptions(
        min_silence_duration_ms=int(min_silence_s * 1000), speech_pad_ms=int(pad_s * 1000)
    )
    chunks = _speech_chunks(_speech_probabilities(audio), len(audio), options)
    return [(start / TARGET_SAMPLE_RATE, end / TARGET_SAMPLE_RATE) for start, end in chunks]


# Silero VAD reads 512-sample windows, each with the 64 samples before it. faster-whisper runs
# the model 10,000 windows at a time, carrying its state between runs; the model carries it
# from window to window inside a run the same way, so 2,000 (64 s of audio) gives bit-identical
# probabilities (a test compares) with ONNX Runtime holding 50 MB instead of 180 MB per run.
_VAD_WINDOW = 512
_VAD_CONTEXT = 64
_VAD_BATCH = 2_000


def _speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Speech probability per 512-sample window, as faster-whisper's SileroVADModel computes it.

    Like faster-whisper: the audio is padded with zeros to a whole number of windows plus
    (when it is already whole) one window, the first window's context is zeros and the last
    window's final 64 samples are zeroed.
    """
    from faster_whisper.vad import get_vad_model

    session = get_vad_model().session
    n_windows = len(audio) // _VAD_WINDOW + 1
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    # one model input, reused by every batch: rows of [context, window]
    batch = np.empty((min(_VAD_BATCH, n_windows), _VAD_CONTEXT + _VAD_WINDOW), dtype=np.float32)
    previous_tail = np.zeros(_VAD_CONTEXT, dtype=np.float32)
    outputs: list[np.ndarray] = []
    for first in range(0, n_windows, _VAD_BATCH):
        last = min(first + _VAD_BATCH, n_windows)
        rows = batch[: last - first]
        piece = audio[first * _VAD_WINDOW : last * _VAD_WINDOW]
        whole = len(piece) // _VAD_WINDOW
        rows[:whole, _VAD_CONTEXT:] = piece[: whole * _VAD_WINDOW].reshape(whole, _VAD_WINDOW)
        if whole < len(rows):  # the end of the audio: zero padding
            rows[whole:, _VAD_CONTEXT:] = 0
            rest = piece[whole * _VAD_WINDOW :]
            rows[whole, _VAD_CONTEXT : _VAD_CONTEXT + len(rest)] = rest
        if last == n_windows:
            rows[-1, -_VAD_CONTEXT:] = 0
        rows[0, :_VAD_CONTEXT] = previous_tail
        rows[1:, :_VAD_CONTEXT] = rows[:-1, -_VAD_CONTEXT:]
        previous_tail = rows[-1, -_VAD_CONTEXT:].copy()
        output, h, c = session.run(None, {"input": rows, "h": h, "c": c})
        outputs.append(np.asarray(output, dtype=np.float32).reshape(-1))
    return np.concatenate(outputs)


def _speech_chunks(probs: np.ndarray, n_samples: int, options: VadOptions) -> list[tuple[int, int]]:
    """faster-whisper 1.2.1's `get_speech_timestamps` after the model, in samples.

    Its split of speech longer than `max_speech_duration_s` is left out: that is infinite in
    every call here, so the branch never runs. A test compares the two on real and long audio.
    """
    threshold = options.threshold
    neg_threshold = options.neg_threshold
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    sr = TARGET_SAMPLE_RATE
    min_speech = sr * options.min_speech_duration_ms / 1000
    min_silence = sr * options.min_silence_duration_ms / 1000
    pad = sr * options.speech_pad_ms / 1000
    # compared as numpy compares them there (float32 against the Python threshold)
    speaking = (probs >= threshold).tolist()
    quiet = (probs < neg_threshold).tolist()

    speeches: list[list[int]] = []
    triggered = False
    start = temp_end = 0
    for i, (is_speech, is_quiet) in enumerate(zip(speaking, quiet, strict=True)):
        position = _VAD_WINDOW * i
        if is_speech and temp_end:
            temp_end = 0
        if is_speech and not triggered:
            triggered, start = True, position
            continue
        if is_quiet and triggered:
            if not temp_end:
                temp_end = position
            if position - temp_end < min_silence:
                continue
            if temp_end - start > min_speech:
                speeches.append([start, temp_end])
            triggered, temp_end = False, 0
    if triggered and n_samples - start > min_speech:
        speeches.append([start, n_samples])

    for i, speech in enumerate(speeches):
        if i == 0:
            speech[0] = int(max(0, speech[0] - pad))
        if i != len(speeches) - 1:
            silence = speeches[i + 1][0] - speech[1]
            if silence < 2 * pad:
                speech[1] += int(silence // 2)
                speeches[i + 1][0] = int(max(0, speeches[i + 1][0] - silence // 2))
            else:
                speech[1] = int(min(n_samples, speech[1] + pad))
                speeches[i + 1][0] = int(max(0, speeches[i + 1][0] - pad))
        else:
            speech[1] = int(min(n_samples, speech[1] + pad))
    return [(start, end) for start, end in speeches]


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    """Seconds the container says the audio lasts (known at open, nothing decoded), or None."""
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return None
    return seconds if seconds > 0 else None


def _decode(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    n_channels: int,
    *,
    declared_s: float | None,
    max_duration_s: float | None,
    name: str,
) -> tuple[list[np.ndarray], str | None]:
    """Resample the stream to float32 at 16 kHz; keep what decoded before an error.

    Each resampled frame is copied straight into one preallocated array per channel, so peak
    memory is about the 16 kHz output itself (collecting frames and joining them at the end
    held everything twice).
    """
    # Two channels stay apart (one party each in call-centre recordings); anything wider has
    # no such convention and is mixed down to mono.
    layout = "stereo" if n_channels == 2 else "mono"
    width = 2 if layout == "stereo" else 1
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=TARGET_SAMPLE_RATE)
    limit = (
        None
        if max_duration_s is None
        else int((max_duration_s + _CAP_SLACK_S) * TARGET_SAMPLE_RATE)
    )
    out = _Output(width, _first_capacity(declared_s, max_duration_s), limit)
    error: str | None = None
    try:
        for frame in container.decode(stream):
            frame.pts = None  # timestamps of damaged files jump; the resampler need not check
            for resampled in resampler.resample(frame):
                if not out.append(resampled.to_ndarray()):
                    raise _too_long(
                        name, out.length / TARGET_SAMPLE_RATE, max_duration_s, declared=False
                    )
    except av.FFmpegError as exc:
        error = _reason(exc)
    for resampled in resampler.resample(None):
        if not out.append(resampled.to_ndarray()):
            raise _too_long(name, out.length / TARGET_SAMPLE_RATE, max_duration_s, declared=False)
    return out.channels(), error


def _first_capacity(declared_s: float | None, max_duration_s: float | None) -> int:
    """Samples per channel to allocate before decoding: the declared length, within reason."""
    seconds = _UNKNOWN_START_S if declared_s is None else declared_s + _CAP_SLACK_S
    ceiling = _MAX_PREALLOCATED_S if max_duration_s is None else max_duration_s + _CAP_SLACK_S
    return int(min(seconds, ceiling) * TARGET_SAMPLE_RATE) + 1


class _Output:
    """One growing float32 array per channel, filled in place frame by frame."""

    def __init__(self, width: int, capacity: int, limit: int | None) -> None:
        # np.empty: pages are only committed as samples are written, so an overestimated
        # header (a truncated file) costs address space, not memory
        self._arrays = [np.empty(capacity, dtype=np.float32) for _ in range(width)]
        self._limit = limit
        self.length = 0

    def append(self, block: np.ndarray) -> bool:
        """Copy a (width, n) block in; False, copying nothing, when it would pass the limit."""
        end = self.length + block.shape[1]
        if self._limit is not None and end > self._limit:
            self.length = end
            return False
        capacity = len(self._arrays[0])
        if end > capacity:
            grown = max(end, int(capacity * _GROWTH))
            if self._limit is not None:
                grown = min(grown, self._limit)
            for array in self._arrays:
                # in place: glibc's realloc remaps a block this large instead of copying it,
                # so growing never holds the old and the new array at once; nothing else holds
                # a view of these arrays yet, so the reference check can be skipped
                array.resize(grown, refcheck=False)
        for array, row in zip(self._arrays, block, strict=True):
            array[self.length : end] = row
        self.length = end
        return True

    def channels(self) -> list[np.ndarray]:
        # a prefix view: contiguous, and the unused tail was never touched
        return [array[: self.length] for array in self._arrays]


def _too_long(
    name: str, seconds: float, max_duration_s: float | None, *, declared: bool
) -> HamsuError:
    if declared:
        said = f"{name} is {_clock(seconds)} long (by its header, read before decoding)"
    else:
        # the header gave no duration or a shorter one: decoding stopped at the limit
        said = f"{name} runs past {_clock(seconds)} (its header did not say so; decoding stopped)"
    limit = max_duration_s or 0.0
    return HamsuError(
        ErrorCode.AUDIO_TOO_LONG,
        f"{said}; calls longer than {_clock(limit)} are refused "
        f"(HAMSU_ASR__MAX_DURATION_S={limit:g})",
    ).with_details(duration_s=round(seconds, 1), max_duration_s=limit)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


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
