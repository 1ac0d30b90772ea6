"""Who spoke when in a mono call: Resemblyzer voice embeddings of short windows, two clusters."""

from __future__ import annotations

import bisect
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.errors import ErrorCode, HamsuError
from transcribe.audio import TARGET_SAMPLE_RATE, speech_regions

# Resemblyzer embeds 1.6 s windows; this many per second of speech (a 0.5 s hop)
_WINDOWS_PER_S = 2.0
# Two speakers only when splitting brings windows this much closer (mean cosine) to their own
# centroid than to the single overall one. Measured with this encoder: one-voice recordings
# 0.009-0.034 (AWS agent-only calls, each channel of the AWS stereo calls, espeak clips),
# two-voice mixes 0.049-0.077 (AWS Auto_Repairs_40 mixdown, PCA mono call, espeak dialogue);
# the AWS Auto_Repairs_49 mixdown (two similar voices) gives 0.020 and stays one speaker.
MIN_SPLIT_GAIN = 0.04
# A second "speaker" holding less than this share of the windows is noise, not a party
MIN_SPEAKER_SHARE = 0.05
# windows a label must persist for; shorter flips are smoothed away (median filter width)
_SMOOTHING = 3


@dataclass(frozen=True)
class SpeakerSpan:
    start: float
    end: float
    # "spk0" is whoever speaks first, "spk1" the other
    label: str


def diarize(audio: np.ndarray) -> list[SpeakerSpan]:
    """Split 16 kHz mono speech into at most two speakers; one voice gives one label."""
    regions = speech_regions(audio, min_silence_s=0.3, pad_s=0.1)
    if not regions:
        return []
    centres, embeddings = _embed_windows(audio, regions)
    labels = _cluster_two(embeddings)
    return _spans(regions, centres, labels)


def speaker_lookup(spans: list[SpeakerSpan]) -> Callable[[float], str]:
    """A function giving the speaker at time t: the span holding t, else the nearest one."""
    starts = [span.start for span in spans]

    def speaker_at(t: float) -> str:
        if not spans:
            return "spk0"
        index = bisect.bisect_right(starts, t) - 1
        candidates = spans[max(index, 0) : index + 2]
        return min(candidates, key=lambda s: max(s.start - t, t - s.end, 0.0)).label

    return speaker_at


_ENCODER_LOCK = threading.Lock()


@cache
def _encoder():  # -> resemblyzer.VoiceEncoder; loaded once, ships its weights in the wheel
    try:
        with warnings.catch_warnings():  # resemblyzer imports a deprecated scipy path
            warnings.simplefilter("ignore", DeprecationWarning)
            from resemblyzer import VoiceEncoder
    except ImportError as exc:  # seen: plain webrtcvad shadowing webrtcvad-wheels
        raise HamsuError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"mono calls need Resemblyzer for speaker separation, and it fails to import "
            f"({exc}); if pkg_resources is missing, run: pip install --force-reinstall "
            f"--no-deps webrtcvad-wheels",
        ) from exc

    return VoiceEncoder(device="cpu", verbose=False)


def _embed_windows(
    audio: np.ndarray, regions: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (s) and L2-normalised embeddings of ~1.6 s windows over every speech region."""
    import torch

    encoder = _encoder()  # first: it imports resemblyzer with the scipy warning silenced
    from resemblyzer.audio import normalize_volume

    centres: list[float] = []
    embeddings: list[np.ndarray] = []
    sr = TARGET_SAMPLE_RATE
    with _ENCODER_LOCK:
        # The small LSTM batches run ~10x slower on several threads when the cores are busy
        # (measured on 2 cores shared with a training job: 60 s of a call took 31 s on 2
        # threads, 2.9 s on 1), so use one.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for start, end in regions:
                wav = audio[int(start * sr) : int(end * sr)]
                wav = normalize_volume(wav, -30, increase_only=True)
                _, partials, slices = encoder.embed_utterance(
                    wav, return_partials=True, rate=_WINDOWS_PER_S, min_coverage=0.5
                )
                for window, piece in zip(partials, slices, strict=True):
                    # a window padded past the region's end is centred on the speech it holds
                    stop = min(piece.stop, len(wav))
                    centres.append(start + (piece.start + stop) / 2 / sr)
                    embeddings.append(window)
        finally:
            torch.set_num_threads(threads)
    return np.asarray(centres), np.asarray(embeddings)


def _cluster_two(embeddings: np.ndarray) -> np.ndarray:
    """0/1 per window by spherical k-means; all zeros when the two clusters are one voice."""
    n = len(embeddings)
    if n < 4:
        return np.zeros(n, dtype=int)
    # deterministic seeds: the window least like the average voice, then the one least like it
    first = int(np.argmin(embeddings @ embeddings.mean(axis=0)))
    second = int(np.argmin(embeddings @ embeddings[first]))
    centroids = embeddings[[first, second]]
    labels = np.argmax(embeddings @ centroids.T, axis=1)
    for _ in range(30):
        for k in (0, 1):
            members = embeddings[labels == k]
            if len(members):
                mean = members.mean(axis=0)
                centroids[k] = mean / np.linalg.norm(mean)
        new = np.argmax(embeddings @ centroids.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    share = min(np.mean(labels == 0), np.mean(labels == 1))
    overall = embeddings.mean(axis=0)
    overall /= np.linalg.norm(overall)
    own = np.einsum("ij,ij->i", embeddings, centroids[labels])
    gain = float(own.mean() - (embeddings @ overall).mean())
    if gain < MIN_SPLIT_GAIN or share < MIN_SPEAKER_SHARE:
        return np.zeros(n, dtype=int)
    return labels


def _spans(
    regions: list[tuple[float, float]], centres: np.ndarray, labels: np.ndarray
) -> list[SpeakerSpan]:
    """Turn per-window labels into spans, cutting between windows whose labels differ."""
    if len(labels) and labels[0] == 1:
        labels = 1 - labels  # spk0 speaks first
    labels = labels.copy()
    spans: list[SpeakerSpan] = []
    for start, end in regions:
        inside = np.flatnonzero((centres >= start) & (centres <= end))
        # smooth within a region only: a short answer between two pauses is a real turn
        labels[inside] = _median_smooth(labels[inside])
        if len(inside) == 0:
            nearest = int(np.argmin(np.abs(centres - (start + end) / 2)))
            spans.append(SpeakerSpan(start, end, f"spk{labels[nearest]}"))
            continue
        cut = start
        for a, b in zip(inside[:-1], inside[1:], strict=True):
            if labels[a] != labels[b]:
                middle = float((centres[a] + centres[b]) / 2)
                spans.append(SpeakerSpan(cut, middle, f"spk{labels[a]}"))
                cut = middle
        spans.append(SpeakerSpan(cut, end, f"spk{labels[inside[-1]]}"))
    return spans


def _median_smooth(labels: np.ndarray) -> np.ndarray:
    if len(labels) < _SMOOTHING:
        return labels
    half = _SMOOTHING // 2
    padded = np.pad(labels, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, _SMOOTHING)
    return (windows.mean(axis=1) > 0.5).astype(int)
