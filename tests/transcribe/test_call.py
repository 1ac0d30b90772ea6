"""Real Whisper base and Resemblyzer on real (espeak-ng) recordings: ASR, diarization, calls."""

from __future__ import annotations

import os
import re
import tempfile
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from core.errors import ErrorCode, HamsuError
from core.settings import AsrSettings, Settings
from transcribe.asr import FasterWhisperBackend, ensure_bundled_base, get_backend
from transcribe.audio import load_audio
from transcribe.call import transcribe_call
from transcribe.diarize import diarize

AUDIO = Path(__file__).parents[1] / "data" / "audio"
SETTINGS = AsrSettings()  # the defaults: bundled Whisper base, int8, 2 threads, VAD on


@pytest.fixture(scope="module")
def data_dir() -> Path:
    # The joined model (145 MB) is kept between runs; joining again is idempotent and atomic.
    default = Path(tempfile.gettempdir()) / "hamsu-test-data"
    return Path(os.environ.get("HAMSU_TEST_DATA_DIR", default))


@pytest.fixture(scope="module")
def backend(data_dir) -> FasterWhisperBackend:
    return FasterWhisperBackend(SETTINGS, data_dir)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _overlap(expected: str, got: str) -> float:
    """Share of the expected words that were recognised (multiset intersection)."""
    want, have = _words(expected), _words(got)
    hits = 0
    for word in want:
        if word in have:
            have.remove(word)
            hits += 1
    return hits / len(want)


def _write_wav(path: Path, channels: list[np.ndarray], rate: int = 16000) -> Path:
    pcm = (np.stack(channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.mark.parametrize("name", ["en.ogg", "en_8k_ulaw.wav"])
def test_english_asr_matches_the_spoken_text(backend, name):
    audio = load_audio(AUDIO / name).channels[0]
    expected = (AUDIO / "en_text.txt").read_text()

    segments, info = backend.transcribe(audio, language=None)

    assert info.language == "en"
    text = " ".join(segment.text for segment in segments)
    assert _overlap(expected, text) >= 0.7, text
    words = [word for segment in segments for word in segment.words]
    assert _overlap(expected, " ".join(word.text for word in words)) >= 0.7
    assert all(0.0 <= word.probability <= 1.0 for word in words)
    starts = [word.start for word in words]
    assert starts == sorted(starts) and 0 <= starts[0] and words[-1].end <= info.duration_s + 0.1


def test_persian_language_is_detected_and_written_in_persian_script(backend):
    audio = load_audio(AUDIO / "fa.ogg").channels[0]
    assert backend.detect_language(audio).language == "fa"
    segments, info = backend.transcribe(audio, language="fa")
    text = "".join(segment.text for segment in segments)
    persian_letters = len(re.findall("[\u0600-\u06ff]", text))
    assert info.language_probability == 1.0
    assert persian_letters > 0.6 * len(text.replace(" ", ""))


def test_stereo_call_gives_each_channel_its_role(backend, data_dir):
    seen: list[float] = []
    transcript = transcribe_call(
        AUDIO / "dialogue_stereo_8k.wav",
        settings=SETTINGS,
        data_dir=data_dir,
        backend=backend,
        progress=seen.append,
    )

    assert transcript.channel == "call" and transcript.language == "en"
    # dialogue.txt: agent, customer, agent, customer
    assert [turn.speaker for turn in transcript.turns] == ["agent", "customer"] * 2
    assert [turn.speaker_label for turn in transcript.turns] == ["ch1", "ch0"] * 2
    agent = " ".join(t.text for t in transcript.turns if t.speaker == "agent").lower()
    customer = " ".join(t.text for t in transcript.turns if t.speaker == "customer").lower()
    assert "thank you for calling" in agent and "help you" in agent
    assert "internet" in customer and "internet" not in agent
    for turn in transcript.turns:
        assert turn.language == "en" and turn.words and 0 < turn.confidence <= 1
        assert turn.start <= turn.words[0].start and turn.words[-1].end <= turn.end
    starts = [turn.start for turn in transcript.turns]
    assert starts == sorted(starts)
    assert transcript.meta["sample_rate"] == 8000 and transcript.meta["channels"] == 2
    assert transcript.meta["layout"] == "stereo"
    assert transcript.meta["asr_model"] == "faster-whisper:bundled-base"
    assert 0 < transcript.meta["language_probability"] <= 1
    assert transcript.duration_s == pytest.approx(20.275, abs=0.01)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_agent_channel_override_swaps_roles(backend, data_dir):
    transcript = transcribe_call(
        AUDIO / "dialogue_stereo_8k.wav",
        settings=SETTINGS,
        data_dir=data_dir,
        language="en",
        agent_channel=0,
        backend=backend,
    )
    first = transcript.turns[0]
    assert first.speaker_label == "ch1" and first.speaker == "customer"
    assert "calling" in first.text.lower()


def test_mono_call_is_diarized_and_roles_come_from_words(backend, data_dir):
    transcript = transcribe_call(
        AUDIO / "dialogue_mono.wav", settings=SETTINGS, data_dir=data_dir, backend=backend
    )

    assert transcript.meta["layout"] == "mono" and transcript.meta["speakers"] == 2
    assert [turn.speaker for turn in transcript.turns] == ["agent", "customer"] * 2
    agent = " ".join(t.text for t in transcript.turns if t.speaker == "agent").lower()
    customer = " ".join(t.text for t in transcript.turns if t.speaker == "customer").lower()
    assert "thank you for calling" in agent and "internet" in customer
    evidence = transcript.meta["role_evidence"]
    agent_label = transcript.turns[0].speaker_label
    assert "thank you for calling" in evidence[agent_label]["cues"]


def test_diarizer_keeps_one_voice_as_one_speaker():
    audio = load_audio(AUDIO / "en.ogg").channels[0]
    spans = diarize(audio)
    assert spans and {span.label for span in spans} == {"spk0"}
    assert diarize(np.zeros(16000, dtype=np.float32)) == []


def test_copied_or_half_silent_stereo_is_treated_as_mono(backend, data_dir, tmp_path):
    copied = transcribe_call(
        AUDIO / "en_44k_stereo.flac", settings=SETTINGS, data_dir=data_dir, backend=backend
    )
    assert copied.meta["layout"] == "mono"
    assert copied.meta["mono_reason"] == "both channels carry the same signal"
    assert copied.turns[0].speaker == "agent"  # "thank you for calling ... how can I help"

    voice = load_audio(AUDIO / "en_8k.wav").channels[0]
    half = _write_wav(tmp_path / "half.wav", [voice, np.zeros_like(voice)])
    lonely = transcribe_call(half, settings=SETTINGS, data_dir=data_dir, backend=backend)
    assert lonely.meta["mono_reason"] == "channel 1 has no speech"
    assert _overlap((AUDIO / "en_text.txt").read_text(), lonely.turns[0].text) >= 0.7


def test_silence_raises_no_speech(backend, data_dir, tmp_path):
    rng = np.random.default_rng(0)
    hiss = _write_wav(tmp_path / "hiss.wav", [rng.normal(0, 0.001, 3 * 16000)] * 2, rate=8000)
    with pytest.raises(HamsuError) as caught:
        transcribe_call(hiss, settings=SETTINGS, data_dir=data_dir, backend=backend)
    assert caught.value.code == ErrorCode.NO_SPEECH
    assert "6.0 s of silence or noise" in caught.value.message


def test_a_call_longer_than_the_setting_fails_before_decoding(monkeypatch, data_dir, tmp_path):
    # HAMSU_ASR__MAX_DURATION_S reaches the decoder; 30 s of speechless audio over a 20 s cap
    # fails as too long, not as "no speech" (which would mean it was decoded and searched)
    monkeypatch.setenv("HAMSU_ASR__MAX_DURATION_S", "20")
    settings = Settings().asr
    assert settings.max_duration_s == 20
    assert AsrSettings().max_duration_s == 2 * 3600
    path = _write_wav(tmp_path / "long.wav", [np.zeros(30 * 8000)], rate=8000)
    with pytest.raises(HamsuError) as caught:
        transcribe_call(path, settings=settings, data_dir=data_dir)
    assert caught.value.code == ErrorCode.AUDIO_TOO_LONG
    assert "0:00:30 long" in caught.value.message
    with pytest.raises(ValidationError):
        AsrSettings(max_duration_s=0)


@pytest.mark.parametrize(
    ("name", "code"),
    [("empty.wav", ErrorCode.EMPTY_FILE), ("fake_pdf.wav", ErrorCode.UNSUPPORTED_FORMAT)],
)
def test_bad_files_fail_the_call_with_their_code(backend, data_dir, name, code):
    with pytest.raises(HamsuError) as caught:
        transcribe_call(AUDIO / name, settings=SETTINGS, data_dir=data_dir, backend=backend)
    assert caught.value.code == code


def test_bad_options_are_refused(backend, data_dir):
    path = AUDIO / "en.ogg"
    with pytest.raises(HamsuError) as language:
        transcribe_call(path, settings=SETTINGS, data_dir=data_dir, language="de")
    assert language.value.code == ErrorCode.INVALID_OPTION
    with pytest.raises(HamsuError) as channel:
        transcribe_call(path, settings=SETTINGS, data_dir=data_dir, agent_channel=2)
    assert channel.value.code == ErrorCode.INVALID_OPTION
    with pytest.raises(HamsuError) as model:
        get_backend(AsrSettings(model="no-such-model"), data_dir)
    assert model.value.code == ErrorCode.MODEL_UNAVAILABLE
    # a backend this build does not have is refused when the settings load, not at first use
    with pytest.raises(ValidationError, match="faster-whisper"):
        AsrSettings(backend="openai-whisper")


def test_bundled_model_join_is_idempotent_and_race_safe(data_dir, tmp_path):
    folder = ensure_bundled_base(data_dir)
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert ensure_bundled_base(data_dir) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not rewritten

    results: list[Path] = []
    racers = [
        threading.Thread(target=lambda: results.append(ensure_bundled_base(tmp_path)))
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    raced = tmp_path / "models" / "whisper-base"
    assert results == [raced, raced]
    assert (raced / "model.bin").stat().st_size == (folder / "model.bin").stat().st_size
    assert sorted(p.name for p in raced.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
