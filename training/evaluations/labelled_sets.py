"""The project's own labelled sentences: the dev split, the challenge sets and the blind sets.

These are the only rows written for the product's labels (public datasets are proxies), so they
say most directly how well each insight is detected: per label and language F1 / precision /
recall at the settings threshold, sentiment per language, expected calibration error (the
decision model and the review desk read the probabilities, not only the flags), false alarms on
hard negatives, and what happens to agent lines classified without their speaker. The same
measures on the challenge sets (other writers) and the blind sets (written from the label guide
alone) show how far the dev-split numbers carry to text the model has not seen the like of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from core.labels import INSIGHT_KINDS, SENTIMENTS
from nlp.analyzer import Analyzer
from training.datasets import Example
from training.evaluations.product import classify_rows, committed_analyzer, threshold
from training.evaluations.scoring import (
    COLUMNS,
    LANGUAGES,
    ROW,
    BinaryScores,
    SentimentScores,
    binary_scores,
    cell,
    rounded,
    sentiment_scores,
)
from training.metrics import expected_calibration_error

AGENT_NOTE = (
    "classified without their speaker, as a plain line; conversation analysis skips agent turns"
)
# groups scored: each language, and "all"
ALL = "all"


@dataclass(frozen=True)
class LabelScores:
    threshold: float
    by_group: dict[str, BinaryScores]

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold} | {g: s.to_json() for g, s in self.by_group.items()}


@dataclass(frozen=True)
class AgentRows:
    """Agent lines that raise a label: a product that flags its own agents' offers is noise."""

    n: int
    flagged: int
    flagged_rate: float | None
    by_label: dict[str, int]
    examples: list[dict[str, Any]]
    taken_as_agent: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"note": AGENT_NOTE}


@dataclass(frozen=True)
class CustomersTakenAsAgent:
    """Customer lines the analyzer takes for an agent's, whose insights it would then drop."""

    n: int
    taken: int
    with_an_insight_label: int
    examples: list[str]


@dataclass(frozen=True)
class HardNegatives:
    n: int
    false_alarm_rate: float | None


@dataclass(frozen=True)
class LabelledSetResult:
    columns: ClassVar[str] = COLUMNS

    n: int
    n_by_language: dict[str, int]
    labels: dict[str, LabelScores]
    sentiment: dict[str, SentimentScores]
    ece: dict[str, dict[str, float | None]]
    agent_rows: AgentRows
    customer_rows_taken_as_agent: CustomersTakenAsAgent
    hard_negatives: dict[str, HardNegatives]

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "n_by_language": self.n_by_language,
            "labels": {task: s.to_json() for task, s in self.labels.items()},
            "sentiment": {group: s.to_json() for group, s in self.sentiment.items()},
            "ece": self.ece,
            "agent_rows": self.agent_rows.to_json(),
            "customer_rows_taken_as_agent": asdict(self.customer_rows_taken_as_agent),
            "hard_negatives": {group: asdict(h) for group, h in self.hard_negatives.items()},
        }

    def table_rows(self) -> list[str]:
        lines: list[str] = []
        for task, scores in self.labels.items():
            for group in (*LANGUAGES, ALL):
                s = scores.by_group.get(group)
                if s is None:
                    continue
                ece = f" ECE {cell(self.ece[task][ALL])}" if group == ALL else ""
                reference = f"P {cell(s.precision)} R {cell(s.recall)} pos {s.positives}{ece}"
                lines.append(ROW.format(f"{task} [{group}] F1", s.n, cell(s.f1), reference))
        for group in (*LANGUAGES, ALL):
            sentiment = self.sentiment.get(group)
            if sentiment is not None:
                lines.append(
                    ROW.format(
                        f"sentiment [{group}] 3-way macro-F1",
                        sentiment.n,
                        cell(sentiment.macro_f1_3way),
                        f"binary {cell(sentiment.binary_macro_f1)}",
                    )
                )
        a, c, hard = self.agent_rows, self.customer_rows_taken_as_agent, self.hard_negatives[ALL]
        return lines + [
            ROW.format(
                "agent rows raising any label (rate)",
                a.n,
                cell(a.flagged_rate),
                f"{a.flagged} flagged",
            ),
            ROW.format(
                "customer rows taken as an agent's (no speaker)",
                c.n,
                str(c.taken),
                f"{c.with_an_insight_label} with an insight label",
            ),
            ROW.format(
                "hard negatives raising any label (rate)", hard.n, cell(hard.false_alarm_rate), ""
            ),
        ]


def evaluate_labelled_set(
    examples: Sequence[Example], analyzer: Analyzer | None = None, batch: int = 256
) -> LabelledSetResult:
    """Scores the committed model on labelled rows read by `training.datasets.own_examples`."""
    analyzer = analyzer or committed_analyzer()
    rows = classify_rows(analyzer, [ex.text for ex in examples], batch)
    langs = sorted({ex.lang for ex in examples})
    groups = {lang: [i for i, ex in enumerate(examples) if ex.lang == lang] for lang in langs}
    groups[ALL] = list(range(len(examples)))
    thresholds = {task: threshold(analyzer, task) for task in INSIGHT_KINDS}

    labels: dict[str, LabelScores] = {}
    ece: dict[str, dict[str, float | None]] = {}
    for task in INSIGHT_KINDS:
        by_group, ece[task] = {}, {}
        for group, idx in groups.items():
            idx = [i for i in idx if task in examples[i].binary]
            y = np.array([examples[i].binary[task] for i in idx], dtype=int)
            p = np.array([rows[i][task] for i in idx], dtype=float)
            by_group[group] = binary_scores(y, p, thresholds[task])
            ece[task][group] = expected_calibration_error(y, p) if len(y) else None
        labels[task] = LabelScores(thresholds[task], by_group)

    sentiment = {}
    for group, idx in groups.items():
        idx = [i for i in idx if examples[i].sentiment in SENTIMENTS]
        sentiment[group] = sentiment_scores(
            [examples[i].sentiment or "" for i in idx], [rows[i] for i in idx]
        )

    def flagged(i: int) -> list[str]:
        return [t for t in INSIGHT_KINDS if rows[i][t] >= thresholds[t]]

    agents = [i for i, ex in enumerate(examples) if ex.speaker == "agent"]
    agent_hits = [i for i in agents if flagged(i)]
    inferred = {i for i, row in enumerate(rows) if row.get("speaker_inferred")}
    customers = [i for i, ex in enumerate(examples) if ex.speaker != "agent"]
    hard = {
        group: [i for i in idx if examples[i].hard_negative and examples[i].speaker != "agent"]
        for group, idx in groups.items()
    }
    return LabelledSetResult(
        n=len(examples),
        n_by_language={lang: len(groups[lang]) for lang in langs},
        labels=labels,
        sentiment=sentiment,
        ece=ece,
        agent_rows=AgentRows(
            n=len(agents),
            flagged=len(agent_hits),
            flagged_rate=rounded(len(agent_hits) / len(agents)) if agents else None,
            by_label={t: sum(rows[i][t] >= thresholds[t] for i in agents) for t in INSIGHT_KINDS},
            examples=[{"text": examples[i].text, "labels": flagged(i)} for i in agent_hits[:5]],
            taken_as_agent=sum(i in inferred for i in agents),
        ),
        customer_rows_taken_as_agent=CustomersTakenAsAgent(
            n=len(customers),
            taken=sum(i in inferred for i in customers),
            with_an_insight_label=sum(
                i in inferred and any(examples[i].binary.values()) for i in customers
            ),
            examples=[examples[i].text for i in customers if i in inferred][:5],
        ),
        hard_negatives={
            group: HardNegatives(
                n=len(idx),
                false_alarm_rate=rounded(sum(bool(flagged(i)) for i in idx) / len(idx))
                if idx
                else None,
            )
            for group, idx in hard.items()
        },
    )
