"""Decoding real files of every common format, and refusing bad ones with the right code."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from core.errors import ErrorCode, HamsuError
from transcribe.audio import TARGET_SAMPLE_RATE, _speech_probabilities, load_audio, speech_regions

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


# --- duration cap and memory: a few MB of compressed silence can hold hours of audio ---------

# bytes of decoded audio per second per channel: float32 at 16 kHz
_OUTPUT_BYTES_PER_S = 4 * TARGET_SAMPLE_RATE


def _silent_flac(path: Path, *, seconds: int, channels: int = 1, rate: int = 8000) -> Path:
    """Digital silence written a minute at a time: an hour of it is ~100 kB of FLAC."""
    minute = np.zeros((rate * 60, channels), dtype=np.int16)
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16") as out:
        for _ in range(seconds // 60):
            out.write(minute)
    return path


def _without_sample_count(path: Path) -> Path:
    """Zero STREAMINFO's total-samples field (36 bits; 0 means unknown in the FLAC format)."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    # "fLaC", a 4-byte block header, then 10 bytes of block and frame sizes: bytes 18..25 end
    # with the 36-bit sample count
    packed = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
    data[18:26] = packed.to_bytes(8, "big")
    path.write_bytes(data)
    return path


def test_audio_over_the_cap_is_refused_by_its_header_before_decoding(tmp_path):
    path = _silent_flac(tmp_path / "two_hours.flac", seconds=2 * 3600)
    assert path.stat().st_size < 1_000_000

    tracemalloc.start()
    try:
        with pytest.raises(HamsuError) as caught:
            load_audio(path, max_duration_s=3600)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == ErrorCode.AUDIO_TOO_LONG
    assert caught.value.http_status == 413
    assert "2:00:00 long (by its header" in caught.value.message
    assert "longer than 1:00:00 are refused" in caught.value.message
    assert caught.value.details == {"duration_s": 7200.0, "max_duration_s": 3600}
    # decoding even the first hour would have taken 230 MB
    assert peak < 5 * 2**20
    # under the cap the same file decodes (the cap is the only thing that refused it)
    assert load_audio(path, max_duration_s=7200).duration_s == pytest.approx(7200, abs=0.1)


def test_a_header_without_a_duration_is_stopped_at_the_cap(tmp_path):
    path = _without_sample_count(_silent_flac(tmp_path / "unsaid.flac", seconds=2 * 3600))
    with av.open(str(path)) as container:  # FFmpeg really has no duration for it
        assert container.duration is None and container.streams.audio[0].duration is None

    tracemalloc.start()
    try:
        with pytest.raises(HamsuError) as caught:
            load_audio(path, max_duration_s=600)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == ErrorCode.AUDIO_TOO_LONG
    assert "decoding stopped" in caught.value.message
    # memory follows the cap (10 min, 38 MB decoded), not the two hours in the file (460 MB)
    assert peak < 1.5 * 600 * _OUTPUT_BYTES_PER_S


_MEASURE = """
import json, sys, tracemalloc
from transcribe.audio import load_audio

def status_kb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))

load_audio(sys.argv[1])  # warm: FFmpeg's codecs and numpy's first allocations
before_kb = status_kb("VmRSS:")
tracemalloc.start()
audio = load_audio(sys.argv[2])
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({
    "output": sum(channel.nbytes for channel in audio.channels),
    "traced_peak": peak,
    # VmHWM, not getrusage: ru_maxrss keeps the forked parent's size across exec
    "rss_growth": (status_kb("VmHWM:") - before_kb) * 1024,
}))
"""


@pytest.mark.parametrize(("seconds", "channels"), [(3600, 1), (1800, 2)])
def test_decoding_a_long_file_keeps_peak_memory_near_its_output(tmp_path, seconds, channels):
    path = _silent_flac(tmp_path / "long.flac", seconds=seconds, channels=channels)
    # a fresh process: its high-water mark of resident memory is this decoding's alone
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(AUDIO / "en_8k.wav"), str(path)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["output"] == pytest.approx(seconds * channels * _OUTPUT_BYTES_PER_S, rel=1e-3)
    # collecting the frames and joining them held the audio twice (2.0x); now it is written
    # once into its final arrays
    assert result["traced_peak"] < 1.2 * result["output"], result
    assert result["rss_growth"] < 1.4 * result["output"], result


def _with_voices(seconds: int, at: list[float]) -> np.ndarray:
    """Low noise with the English clip spoken at each offset (seconds)."""
    voice = load_audio(AUDIO / "en_8k.wav").channels[0]
    signal = np.random.default_rng(3).normal(0, 0.002, seconds * TARGET_SAMPLE_RATE)
    signal = signal.astype(np.float32)
    for offset in at:
        start = int(offset * TARGET_SAMPLE_RATE)
        piece = voice[: len(signal) - start]
        signal[start : start + len(piece)] += piece
    return signal


def test_speech_regions_are_faster_whispers_exactly():
    from faster_whisper.vad import SileroVADModel, VadOptions, get_speech_timestamps, get_vad_model

    # voices across the 64 s batches read here and the 320 s batches faster-whisper reads,
    # and one cut off by the end
    long = _with_voices(330, [0.5, 61.0, 127.9, 317.0, 327.0])
    customer, agent = load_audio(AUDIO / "dialogue_stereo_8k.wav").channels
    signals = [long, long[: 640 * 512], long[: 640 * 512 - 100], customer, agent]
    for signal in signals:
        for min_silence_s, pad_s in ((2.0, 0.4), (0.3, 0.1)):  # the defaults, diarization's
            options = VadOptions(
                min_silence_duration_ms=int(min_silence_s * 1000), speech_pad_ms=int(pad_s * 1000)
            )
            expected = [
                (c["start"] / TARGET_SAMPLE_RATE, c["end"] / TARGET_SAMPLE_RATE)
                for c in get_speech_timestamps(signal, options)
            ]
            got = speech_regions(signal, min_silence_s=min_silence_s, pad_s=pad_s)
            assert got == expected
    assert len(speech_regions(long)) == 5

    # the probabilities themselves are bit-identical to one run over the padded signal
    model: SileroVADModel = get_vad_model()
    padded = np.pad(long, (0, 512 - len(long) % 512))
    assert np.array_equal(_speech_probabilities(long), model(padded).reshape(-1))


def test_speech_regions_hold_no_copy_of_the_audio():
    audio = np.zeros(600 * TARGET_SAMPLE_RATE, dtype=np.float32)  # 10 min, 38 MB
    speech_regions(audio[:TARGET_SAMPLE_RATE])  # the model loads outside the measurement
    tracemalloc.start()
    try:
        assert speech_regions(audio) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # faster-whisper's get_speech_timestamps pads a copy and builds a bigger one (2.1x); here
    # one 64 s batch is held at a time
    assert peak < 0.3 * audio.nbytes
