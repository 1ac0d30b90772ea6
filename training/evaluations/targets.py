"""The issue's quality targets, checked against a quality.json report.

Each target names the set it is measured on and whether it is primary (the number the issue asked
for) or secondary (the same bar on another set, to show how far it carries). Targets read the
report's JSON rather than the results, so parts that were not run come out "not measured" instead
of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.labels import INSIGHT_KINDS
from training.evaluations.scoring import LANGUAGES, cell

MINIMUM = {
    "persian_sentiment_binary": 0.88,
    "persian_sentiment_3way": 0.65,
    "complaints_macro_f1": 0.85,
    "own_label_f1": 0.85,
}
ROW = "{:<34} {:<26} {:>7} {:>7}  {}{}"
COLUMNS = ROW.format("target", "measured on", "min", "value", "result", "")


@dataclass(frozen=True)
class Target:
    target: str
    measured_on: str
    minimum: float
    value: float | None
    primary: bool

    @property
    def passed(self) -> bool | None:
        return None if self.value is None else bool(self.value >= self.minimum)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "measured_on": self.measured_on,
            "minimum": self.minimum,
            "value": self.value,
            "pass": self.passed,
            "primary": self.primary,
        }

    def table_row(self) -> str:
        result = "not measured" if self.passed is None else ("PASS" if self.passed else "FAIL")
        return ROW.format(
            self.target,
            self.measured_on,
            cell(self.minimum, 2),
            cell(self.value),
            result,
            "" if self.primary else "  (secondary)",
        )


def lookup(report: Mapping[str, Any], *path: str) -> Any:
    """The value at `path` in the report, or None where a part of it is missing."""
    node: Any = report
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def check_targets(report: Mapping[str, Any]) -> list[Target]:
    """The issue's targets with the measured value and pass/fail (None: not measured)."""
    binary, three_way = "persian_sentiment_binary", "persian_sentiment_3way"
    checks = [
        (
            binary,
            "DeepSentiPers dev",
            ("deepsentipers", "committed_model", "binary_macro_f1"),
            True,
        ),
        (
            three_way,
            "DeepSentiPers dev",
            ("deepsentipers", "committed_model", "macro_f1_3way"),
            True,
        ),
        (
            binary,
            "ParsiNLU dev, unseen",
            ("parsinlu", "unseen_in_training", "binary_macro_f1"),
            False,
        ),
        (
            three_way,
            "ParsiNLU dev, unseen",
            ("parsinlu", "unseen_in_training", "macro_f1_3way"),
            False,
        ),
        (binary, "own fa dev", ("own", "sentiment", "fa", "binary_macro_f1"), False),
        (three_way, "own fa dev", ("own", "sentiment", "fa", "macro_f1_3way"), False),
        (
            "complaints_macro_f1",
            "complaints 5-fold CV mean",
            ("complaints_cv", "macro_f1", "mean"),
            True,
        ),
    ]
    targets = [
        Target(name, measured_on, MINIMUM[name], lookup(report, *path), primary)
        for name, measured_on, path, primary in checks
    ]
    for task in INSIGHT_KINDS:
        for lang in LANGUAGES:
            value = lookup(report, "own", "labels", task, lang, "f1")
            targets.append(
                Target(
                    f"own_{task}_f1_{lang}", f"own {lang} dev", MINIMUM["own_label_f1"], value, True
                )
            )
    return targets
