"""Throughput of `hamsu classify` on 10,000 lines: `python bench/classify.py [--lines N]`.

Runs the real console script as a user would (a subprocess reading stdin) on lines taken from the
project's labelled set, Persian and English mixed, and writes bench/results/classify.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lines(n: int) -> list[str]:
    texts = [
        json.loads(row)["text"]
        for path in sorted((ROOT / "labelled").glob("*.jsonl"))
        for row in path.read_text(encoding="utf-8").splitlines()
        if row.strip()
    ]
    return [texts[i % len(texts)] for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classify.json")
    args = parser.parse_args()
    payload = "\n".join(line.replace("\n", " ") for line in lines(args.lines)) + "\n"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "classify"],
        input=payload.encode("utf-8"),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    outputs = done.stdout.decode("utf-8").splitlines()
    assert len(outputs) == args.lines, f"{len(outputs)} outputs for {args.lines} lines"
    languages = [json.loads(o)["language"] for o in outputs]
    report = {
        "command": "hamsu classify < lines (subprocess, model loading included)",
        "lines": args.lines,
        "languages": {lang: languages.count(lang) for lang in sorted(set(languages))},
        "wall_s": round(wall, 1),
        "lines_per_s": round(args.lines / wall, 1),
        "child_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "machine": {
            "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "load_average_before_end": os.getloadavg(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
