"""Quality evaluation (`make eval`): `python -m training.evaluate --data ../shared/data`.

Prints a table and writes `bench/results/quality.json`; each part is one module of
`training.evaluations`:

1. DeepSentiPers dev split (the rows `make train` holds out): binary and 3-way macro-F1 of the
   committed model, plus 5-way macro-F1 of a 5-class head fitted here on the train split only
   (it is not shipped; it exists to compare with the published multi-class numbers).
2. Complaints (the given 70%): 5-fold cross-validated macro-F1 of the complaint detector, each
   fold retrained from an encoder that never saw the tweets (`complaints_cv`); and the committed
   model on the dev split's tweets (`complaints_dev`).
3. BANKING77 `terminate_account` and NLU++ banking churn / upsell one-vs-rest F1 on the dev split.
4. ParsiNLU sentiment dev (food + movie, the overall aspect): 3-way and binary macro-F1.
5. The project's own labelled sets (dev split): F1 / precision / recall per label and language,
   sentiment per language, calibration error, and whether agent rows raise labels.
6. The challenge sets (`labelled/challenge/`): the same measures on utterances written later by
   other writers, in their own style, never trained on (but used to choose between training
   recipes, see `labelled/DATA_CARD.md`).
7. The blind sets (`labelled/blind/`): the same measures on rows written from the label guide
   alone after the challenge sets had been used to choose recipes; no choice of the shipped model
   has looked at them.
8. The labelled conversations (`labelled/conversations/`) the decision model is fitted on, each
   decided by the fold model fitted without it (cross-fitted), beside the sentence-level reading.
9. The same on the blind conversation split (`labelled/conversations/blind/`), written after the
   decision recipe was fixed.

Every part but the 5-way head and the complaint cross-validation scores the committed weights
through the code path of `hamsu classify`, with the decision thresholds from settings. Published
baselines and the issue's targets sit next to our numbers, each target with pass/fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.labels import INSIGHT_KINDS, InsightKind
from core.machine import machine_facts
from nlp.analyzer import Analyzer
from nlp.heads import HeadBundle
from training.datasets import BLIND_DIR, CHALLENGE_DIR, own_examples
from training.evaluations import complaints_cv, deepsentipers
from training.evaluations.complaints_dev import evaluate_complaints_dev
from training.evaluations.conversations import (
    evaluate_blind_conversations,
    evaluate_cross_fitted_conversations,
)
from training.evaluations.intents import evaluate_intents
from training.evaluations.labelled_sets import evaluate_labelled_set
from training.evaluations.parsinlu import evaluate_parsinlu
from training.evaluations.product import committed_analyzer, threshold, weights_path
from training.evaluations.scoring import RULE, Result, cell
from training.evaluations.targets import COLUMNS as TARGET_COLUMNS
from training.evaluations.targets import Target, check_targets

DEFAULT_OUT = Path("bench/results/quality.json")
# what --only can pick; "complaints" runs both complaint parts
SECTIONS = (
    "deepsentipers",
    "complaints",
    "intents",
    "parsinlu",
    "own",
    "challenge",
    "blind",
    "conversations",
    "conversations_blind",
)
# the printed table: a block per title, of the results under these quality.json keys
TABLES = (
    ("1. DeepSentiPers dev (stable_split; committed model via classify)", ("deepsentipers",)),
    (
        "2. Complaints (tweets; CV retrained per fold, and the committed model)",
        ("complaints_cv", "complaints_committed_dev"),
    ),
    ("3. Intents, dev split (committed model via classify, settings threshold)", ("intents",)),
    ("4. ParsiNLU sentiment dev, overall aspect (committed model via classify)", ("parsinlu",)),
    ("5. Own labelled sets, dev split (committed model via classify)", ("own",)),
    ("6. Challenge sets: other writers, never trained or tuned on (via classify)", ("challenge",)),
    (
        "7. Blind sets: written from the label guide only, never trained on (via classify)",
        ("blind",),
    ),
    ("8. Labelled conversations, cross-fitted: decision per conversation", ("conversations",)),
    (
        "9. Labelled conversations, blind split (written last, used once)",
        ("conversations_blind",),
    ),
)


@dataclass(frozen=True)
class Evaluation:
    """One `make eval` run: the results by their quality.json key, in the order they ran."""

    date: str
    model: dict[str, Any]
    results: dict[str, Result]
    skipped: str | None
    targets: list[Target]
    seconds: dict[str, float]
    wall_seconds: float
    machine: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        report: dict[str, Any] = {"date": self.date, "model": self.model}
        report |= {key: result.to_json() for key, result in self.results.items()}
        if self.skipped:
            report["skipped"] = self.skipped
        return report | {
            "published_baselines": {
                "sentipers": deepsentipers.PUBLISHED,
                "complaints": complaints_cv.PUBLISHED,
            },
            "targets": [t.to_json() for t in self.targets],
            "seconds": self.seconds,
            "wall_seconds": self.wall_seconds,
            "machine": self.machine,
        }

    def table(self) -> str:
        lines = [
            f"Hamsu quality — weights {self.model.get('version', '?')} (trained "
            f"{self.model.get('trained_at', '?')}), {self.date}, "
            f"{self.machine.get('usable_cores')} cores, {cell(self.wall_seconds, 0)} s"
        ]
        for title, keys in TABLES:
            present = [self.results[key] for key in keys if key in self.results]
            if present:
                lines += ["", title, present[0].columns, RULE]
                lines += [row for result in present for row in result.table_rows()]
        if self.targets:
            lines += ["", "Targets", TARGET_COLUMNS, RULE]
            lines += [t.table_row() for t in self.targets]
        return "\n".join(lines)


def model_info(analyzer: Analyzer) -> dict[str, Any]:
    """Which weights were scored, so a report can be traced to the model it describes."""
    path = weights_path()
    bundle = HeadBundle.load(path)
    return {
        "version": bundle.version,
        "trained_at": bundle.meta.get("trained_at"),
        "embedder": bundle.embedder,
        "weights": str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path),
        "weights_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "thresholds": {task: threshold(analyzer, task) for task in INSIGHT_KINDS},
    }


def evaluate(
    data: Path | None, cache: Path, folds: int = 5, sections: Iterable[str] | None = None
) -> Evaluation:
    """Runs the chosen parts; the public datasets' parts only with `data`."""
    wanted = set(sections or SECTIONS)
    started = time.time()
    load_before = os.getloadavg()
    analyzer = committed_analyzer()
    date = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    model = model_info(analyzer)
    results: dict[str, Result] = {}
    seconds: dict[str, float] = {}

    def timed(key: str, run: Callable[[], Result]) -> None:
        t = time.time()
        print(f"evaluating {key} ...", flush=True)
        results[key] = run()
        seconds[key] = round(time.time() - t, 1)

    if "own" in wanted:
        timed(
            "own",
            lambda: evaluate_labelled_set(
                [ex for ex in own_examples() if ex.split == "dev"], analyzer
            ),
        )
    if "challenge" in wanted:
        timed(
            "challenge", lambda: evaluate_labelled_set(list(own_examples(CHALLENGE_DIR)), analyzer)
        )
    if "blind" in wanted:
        timed("blind", lambda: evaluate_labelled_set(list(own_examples(BLIND_DIR)), analyzer))
    if "conversations" in wanted:
        timed("conversations", lambda: evaluate_cross_fitted_conversations(analyzer, cache))
    if "conversations_blind" in wanted:
        timed("conversations_blind", lambda: evaluate_blind_conversations(analyzer, cache))
    if data is not None:
        if "deepsentipers" in wanted:
            timed(
                "deepsentipers", lambda: deepsentipers.evaluate_deepsentipers(data, analyzer, cache)
            )
        if "intents" in wanted:
            timed("intents", lambda: evaluate_intents(data, analyzer))
        if "parsinlu" in wanted:
            timed("parsinlu", lambda: evaluate_parsinlu(data, analyzer))
        if "complaints" in wanted:
            timed("complaints_committed_dev", lambda: evaluate_complaints_dev(data, analyzer))
            timed(
                "complaints_cv",
                lambda: complaints_cv.evaluate_complaints_cv(
                    data,
                    complaints_cv.finetune_options(),
                    folds,
                    threshold(analyzer, InsightKind.COMPLAINT),
                ),
            )
    measured = {key: result.to_json() for key, result in results.items()}
    return Evaluation(
        date=date,
        model=model,
        results=results,
        skipped=None if data is not None else "public datasets (no --data given)",
        targets=check_targets(measured),
        seconds=seconds,
        wall_seconds=round(time.time() - started, 1),
        machine={**machine_facts(load_before), "torch_threads": torch.get_num_threads()},
    )


def merged(previous: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A part rerun (`--only`) into the report of the last full run: its sections and timings
    replaced, the others kept as they were measured, the targets checked again over all."""
    kept = ("seconds", "targets", "wall_seconds")
    report = previous | {k: v for k, v in update.items() if k not in kept}
    report["seconds"] = previous.get("seconds", {}) | update.get("seconds", {})
    report.pop("skipped", None)
    report["targets"] = [t.to_json() for t in check_targets(report)]
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder of public datasets (../shared/data); "
        "without it only the own labelled sets are scored",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=Path("var/cache"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only these parts (repeatable); the default runs all",
    )
    args = parser.parse_args(argv)
    evaluation = evaluate(args.data, args.cache, args.folds, args.only)
    print(evaluation.table())
    report = evaluation.to_json()
    if args.only and args.out.exists():
        report = merged(json.loads(args.out.read_text(encoding="utf-8")), report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    text = json.dumps(report, indent=1, ensure_ascii=False)
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
