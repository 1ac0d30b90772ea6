"""Decoding real files of every common format, and refusing bad ones with the right code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ErrorCode, HamsuError
from transcribe.audio import TARGET_SAMPLE_RATE, load_audio, speech_regions

AUDIO = Path(__file__).parents[1] / "data" / "audio"
# every English clip was rendered from one 6.098 s espeak-ng recording (make_fixtures.sh)
CLIP_S = 6.098


def _envelope(samples: np.ndarray) -> np.ndarray:
    """RMS per 20 ms: compares content while ignoring codec phase and a few ms of delay."""
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    return np.sqrt((frames**2).mean(axis=1))


@pytest.mark.parametrize(
    ("name", "rate", "channels", "container", "codec"),
    [
        ("en_8k.wav", 8000, 1, "wav", "pcm_s16le"),
        ("en_8k_ulaw.wav", 8000, 1, "wav", "pcm_mulaw"),
        ("en.mp3", 16000, 1, "mp3", "mp3"),
        ("en.ogg", 48000, 1, "ogg", "opus"),
        ("en_44k_stereo.flac", 44100, 2, "flac", "flac"),
        ("en.m4a", 16000, 1, "mp4", "aac"),
        ("en.webm", 48000, 1, "webm", "opus"),
    ],
)
def test_every_format_decodes_to_16k_float(name, rate, channels, container, codec):
    audio = load_audio(AUDIO / name)
    reference = load_audio(AUDIO / "en_8k.wav").channels[0]

    assert audio.sample_rate == TARGET_SAMPLE_RATE
    assert audio.original_sample_rate == rate
    assert audio.original_channels == channels
    assert len(audio.channels) == channels
    assert container in audio.format_name
    assert audio.codec_name.startswith(codec)
    # AAC keeps its 1024-sample encoder priming, hence the 60 ms tolerance
    assert audio.duration_s == pytest.approx(CLIP_S, abs=0.06)
    for channel in audio.channels:
        assert channel.dtype == np.float32
        assert len(channel) == round(audio.duration_s * TARGET_SAMPLE_RATE)
        assert 0.3 < np.abs(channel).max() <= 1.0
        a, b = _envelope(channel), _envelope(reference)
        n = min(len(a), len(b))
        assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.95


def test_stereo_keeps_one_party_per_channel():
    audio = load_audio(AUDIO / "dialogue_stereo_8k.wav")
    customer, agent = audio.channels
    assert audio.original_channels == 2 and audio.original_sample_rate == 8000
    assert audio.duration_s == pytest.approx(20.275, abs=0.01)
    # the agent opens the call: only the right channel has speech in the first 5 s
    first = slice(0, 5 * TARGET_SAMPLE_RATE)
    assert np.abs(agent[first]).max() > 0.3
    assert np.abs(customer[first]).max() < 1e-3  # dither only


def test_truncated_file_keeps_what_decodes():
    audio = load_audio(AUDIO / "truncated.mp3")  # the first half of en.mp3
    assert 2.5 < audio.duration_s < 3.5


@pytest.mark.parametrize(
    ("name", "code", "says"),
    [
        ("empty.wav", ErrorCode.EMPTY_FILE, "0 bytes"),
        ("fake_pdf.wav", ErrorCode.UNSUPPORTED_FORMAT, "PDF document, not audio"),
        ("text.mp3", ErrorCode.UNSUPPORTED_FORMAT, "text file, not audio"),
        ("truncated_tiny.mp3", ErrorCode.CORRUPT_AUDIO, "only 0.18 s"),
        ("video_only.webm", ErrorCode.CORRUPT_AUDIO, "no audio stream (found: video (vp8))"),
        ("does_not_exist.wav", ErrorCode.NOT_FOUND, "does not exist"),
    ],
)
def test_bad_files_raise_precise_errors(name, code, says):
    with pytest.raises(HamsuError) as caught:
        load_audio(AUDIO / name)
    assert caught.value.code == code
    assert says in caught.value.message
    assert str(AUDIO) not in caught.value.message or code == ErrorCode.NOT_FOUND


def test_unknown_bytes_and_damaged_container(tmp_path):
    noise = np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (tmp_path / "noise.wav").write_bytes(b"\x13\x37" + noise)
    (tmp_path / "riff.wav").write_bytes(b"RIFF" + noise)

    with pytest.raises(HamsuError) as unknown:
        load_audio(tmp_path / "noise.wav")
    assert unknown.value.code == ErrorCode.UNSUPPORTED_FORMAT
    assert "first bytes: 13 37" in unknown.value.message

    with pytest.raises(HamsuError) as damaged:
        load_audio(tmp_path / "riff.wav")
    assert damaged.value.code == ErrorCode.CORRUPT_AUDIO
    assert "looks like audio" in damaged.value.message


def test_speech_regions_find_speech_and_ignore_silence():
    customer, agent = load_audio(AUDIO / "dialogue_stereo_8k.wav").channels
    assert speech_regions(np.zeros(3 * TARGET_SAMPLE_RATE, dtype=np.float32)) == []
    agent_regions = speech_regions(agent)
    customer_regions = speech_regions(customer)
    # two utterances each, agent first (dialogue.txt)
    assert len(agent_regions) == 2 and len(customer_regions) == 2
    assert agent_regions[0][0] < 0.5 < agent_regions[0][1] < customer_regions[0][0]
