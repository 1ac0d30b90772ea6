"""Intent datasets as proxies for churn and upsell: BANKING77 and NLU++ banking, dev split.

No public dataset labels churn risk or upsell intent in support conversations; BANKING77's
`terminate_account` is close to churn, and the NLU++ banking intents give two looser proxies.
Each is scored one-vs-rest through `classify` at the settings threshold; the notes in
quality.json say where a proxy's labels differ from the product's, so a low number is read right.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from core.labels import InsightKind
from nlp.analyzer import Analyzer
from training.datasets import banking77, nlupp_banking, stable_split
from training.evaluations.product import classify_rows, threshold
from training.evaluations.scoring import COLUMNS, BinaryScores, binary_scores

BANKING77_NOTE = (
    "all_intents: every train.csv row in the dev split (77 intents); training_dev_rows: "
    "the dev part of the rows make train samples (terminate_account + 2,500 others)"
)
CHURN_NOTE = (
    "proxy: cancel_close_leave_freeze unless the text says 'freeze'; broader than "
    "churn (it includes stopping a direct debit or an appointment, which training "
    "teaches as not churn), so a good churn model scores low precision here"
)
UPSELL_NOTE = (
    "proxy: more_higher_after marks 'more/higher' in any sense ('how much more did "
    "I spend'), not buying intent; not used in training"
)


@dataclass(frozen=True)
class IntentsResult:
    columns: ClassVar[str] = COLUMNS

    banking77_all_intents: BinaryScores
    banking77_training_dev_rows: BinaryScores
    # the intents that raise churn most often, with how many dev rows each
    banking77_false_alarm_intents: dict[str, int]
    nlupp_cancel_churn: BinaryScores
    nlupp_more_higher_after_upsell: BinaryScores

    def to_json(self) -> dict[str, Any]:
        return {
            "banking77_terminate_account": {
                "all_intents": self.banking77_all_intents.to_json(),
                "training_dev_rows": self.banking77_training_dev_rows.to_json(),
                "false_alarm_intents": self.banking77_false_alarm_intents,
                "note": BANKING77_NOTE,
            },
            "nlupp_cancel_churn": self.nlupp_cancel_churn.to_json() | {"note": CHURN_NOTE},
            "nlupp_more_higher_after_upsell": self.nlupp_more_higher_after_upsell.to_json()
            | {"note": UPSELL_NOTE},
        }

    def table_rows(self) -> list[str]:
        return [
            self.banking77_all_intents.row("BANKING77 terminate_account F1 (all 77 intents)"),
            self.banking77_training_dev_rows.row("  same, make-train dev rows only"),
            self.nlupp_cancel_churn.row("NLU++ banking cancel → churn F1"),
            self.nlupp_more_higher_after_upsell.row("NLU++ more_higher_after → upsell F1"),
        ]


def evaluate_intents(data: Path, analyzer: Analyzer) -> IntentsResult:
    churn, upsell = InsightKind.CHURN_RISK, InsightKind.UPSELL
    with (data / "en_intent_banking77" / "train.csv").open(encoding="utf-8") as fh:
        b77 = [r for r in csv.DictReader(fh) if stable_split(f"b77-{r['text']}") == "dev"]
    rows = classify_rows(analyzer, [r["text"] for r in b77])
    thr = threshold(analyzer, churn)
    y = [int(r["category"] == "terminate_account") for r in b77]
    scores = [row[churn] for row in rows]
    # make train samples BANKING77 (all terminate_account rows, a share of the others)
    sampled = {ex.text for ex in banking77(data) if ex.split == "dev"}
    sub = [i for i, r in enumerate(b77) if r["text"] in sampled]
    false_alarms = Counter(
        r["category"] for r, s, t in zip(b77, scores, y, strict=True) if t == 0 and s >= thr
    )
    nlupp = [ex for ex in nlupp_banking(data) if ex.split == "dev"]
    nrows = classify_rows(analyzer, [ex.text for ex in nlupp])
    return IntentsResult(
        banking77_all_intents=binary_scores(y, scores, thr),
        banking77_training_dev_rows=binary_scores(
            [y[i] for i in sub], [scores[i] for i in sub], thr
        ),
        banking77_false_alarm_intents=dict(false_alarms.most_common(8)),
        nlupp_cancel_churn=binary_scores(
            [ex.binary[churn] for ex in nlupp], [r[churn] for r in nrows], thr
        ),
        nlupp_more_higher_after_upsell=binary_scores(
            [ex.binary[upsell] for ex in nlupp],
            [r[upsell] for r in nrows],
            threshold(analyzer, upsell),
        ),
    )
