"""Transcription speed: bare faster-whisper vs the whole Hamsu pipeline, per file.

    python bench/speed.py DATA_DIR [--out bench/results/speed.json]

Files: the English call(s) in samples/ (if any) and every audio file under
DATA_DIR/callcenter_audio_aws_samples. Speed is audio seconds (file duration, not summed over
channels) per wall-clock second; models are loaded and warmed up before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.machine import machine_facts  # noqa: E402
from core.settings import AsrSettings, get_settings  # noqa: E402
from pipeline.analyze import decide_routes, run  # noqa: E402
from routing.engine import NO_TIER  # noqa: E402
from transcribe.asr import FasterWhisperBackend  # noqa: E402
from transcribe.audio import load_audio  # noqa: E402
from transcribe.call import transcribe_call  # noqa: E402

AUDIO_SUFFIXES = {".wav", ".mp3", ".ogg", ".opus", ".flac", ".m4a", ".aac", ".webm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="folder holding callcenter_audio_aws_samples")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speed.json")
    args = parser.parse_args()

    settings = get_settings()
    asr, hamsu_data = settings.asr, settings.storage.data_dir
    files = _files(args.data_dir)
    if not files:
        sys.exit(f"no audio found in {ROOT / 'samples'} or {args.data_dir}")
    backend = FasterWhisperBackend(asr, hamsu_data)
    pipeline = "pipeline.analyze.run (decode, VAD, ASR, roles, NLP detectors, routing)"
    _warm_up(backend, asr, hamsu_data)
    load_before = os.getloadavg()

    results = []
    for path in files:
        print(f"{path.name} ...", file=sys.stderr, flush=True)
        results.append(_measure(path, backend, asr, hamsu_data))
        print(f"  {json.dumps(results[-1])}", file=sys.stderr, flush=True)

    report = {
        "machine": _machine(load_before),
        "model": backend.model_name,
        "settings": asr.model_dump(),
        "pipeline": pipeline,
        "speed_unit": "audio seconds per wall second (file duration / wall time)",
        "bare_faster_whisper": (
            "faster_whisper.decode_audio (split_stereo for 2-channel files, as Hamsu does) + "
            "WhisperModel.transcribe per channel with the language Hamsu chose, same beam_size, "
            "vad_filter, word_timestamps=True, condition_on_previous_text=False; same loaded "
            "model; run right after the pipeline on the same file"
        ),
        "peak_rss_mb": _peak_rss_mb(),
        "totals": _totals(results),
        "files": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["totals"], indent=2))


def _files(data_dir: Path) -> list[Path]:
    samples = [p for p in sorted((ROOT / "samples").rglob("*")) if p.suffix in AUDIO_SUFFIXES]
    english_calls = [p for p in samples if "en" in p.stem and "call" in p.stem]
    aws = data_dir / "callcenter_audio_aws_samples"
    found = sorted(p for p in aws.rglob("*") if p.suffix in AUDIO_SUFFIXES)
    return (english_calls or samples[:1]) + found


def _warm_up(backend: FasterWhisperBackend, asr: AsrSettings, hamsu_data: Path) -> None:
    """Load every model once (Whisper, VAD, Resemblyzer, detectors): timings exclude loading."""
    clip = ROOT / "tests" / "data" / "audio" / "dialogue_mono.wav"
    transcribe_call(clip, settings=asr, data_dir=hamsu_data, backend=backend)
    run(clip, settings=get_settings())


def _measure(path: Path, backend: FasterWhisperBackend, asr: AsrSettings, data: Path) -> dict:
    decoded = load_audio(path)
    start = time.perf_counter()
    result = decide_routes(
        run(path, settings=get_settings()), settings=get_settings(), tier=NO_TIER
    )
    transcript = result.transcript
    summary: dict[str, object] = {
        "language": transcript.language,
        "layout": transcript.meta["layout"],
        "speakers": transcript.meta["speakers"],
        "turns": len(transcript.turns),
        "words": sum(len(turn.words) for turn in transcript.turns),
        "insights": len(result.analysis.insights),
    }
    pipeline_s = time.perf_counter() - start
    bare_s = _bare(path, backend, asr, decoded.original_channels == 2, summary.get("language"))
    duration = decoded.duration_s
    return {
        "file": _shown(path),
        "duration_s": round(duration, 2),
        "sample_rate": decoded.original_sample_rate,
        "channels": decoded.original_channels,
        "bare_wall_s": round(bare_s, 2),
        "bare_speed": round(duration / bare_s, 2),
        "pipeline_wall_s": round(pipeline_s, 2),
        "pipeline_speed": round(duration / pipeline_s, 2),
        "peak_rss_mb_so_far": _peak_rss_mb(),
        **summary,
    }


def _bare(
    path: Path, backend: FasterWhisperBackend, asr: AsrSettings, stereo: bool, language: object
) -> float:
    """Wall seconds of plain faster-whisper doing the same recognition work as Hamsu."""
    from faster_whisper import decode_audio

    start = time.perf_counter()
    channels = decode_audio(str(path), split_stereo=stereo)
    for channel in channels if stereo else [channels]:
        segments, _ = backend.whisper_model.transcribe(  # the very model object Hamsu uses
            channel,
            # Hamsu's language, so both decode the same way (left free, Whisper base picks
            # e.g. Thai on a quiet customer channel and decodes garbage at another speed)
            language=language if isinstance(language, str) else None,
            beam_size=asr.beam_size,
            vad_filter=asr.vad,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        for _ in segments:  # decoding happens while the generator is consumed
            pass
    return time.perf_counter() - start


def _shown(path: Path) -> str:
    for base in (ROOT, path.parents[2]):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return path.name


def _totals(results: list[dict]) -> dict[str, float]:
    audio = sum(r["duration_s"] for r in results)
    bare = sum(r["bare_wall_s"] for r in results)
    pipeline = sum(r["pipeline_wall_s"] for r in results)
    return {
        "files": len(results),
        "audio_s": round(audio, 1),
        "bare_wall_s": round(bare, 1),
        "bare_speed": round(audio / bare, 2),
        "pipeline_wall_s": round(pipeline, 1),
        "pipeline_speed": round(audio / pipeline, 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _machine(load_before: tuple[float, float, float]) -> dict[str, object]:
    packages = ("faster-whisper", "ctranslate2", "av", "torch", "resemblyzer", "onnxruntime")
    return {
        **machine_facts(load_before),
        "packages": {name: metadata.version(name) for name in packages},
    }


if __name__ == "__main__":
    main()
