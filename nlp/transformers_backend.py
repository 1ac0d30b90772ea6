"""Detectors that run Hugging Face `transformers` models on the unit texts themselves.

The default detectors are small heads on frozen embeddings: fast on 2 cores, but capped by what a
frozen 4-bit encoder sees. A deployment with a fine-tuned classifier (e.g. a Persian sentiment BERT)
or with no labelled data at all (zero-shot NLI with mDeBERTa-v3 xnli) swaps a task to one of these
by name in settings. Both read `Features.texts`, which the analyzer fills, not the embeddings.
Importing this module registers both in `nlp.detectors`, built from the `nlp.transformers` settings.

Offline rule: a model is a folder on disk (download it once, then point the settings at it); a hub
name only resolves where the network or a warm Hugging Face cache is available. Models load once
per process on first use; construction reads only the small config, so a wrong label mapping fails
at startup rather than mid-conversation.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from core.errors import ErrorCode, HamsuError
from core.labels import InsightKind
from core.settings import TransformersSettings
from nlp.batching import length_batches
from nlp.detectors import Detector, register
from nlp.features import Features
from nlp.heads import TASKS, HeadBundle
from nlp.normalize import detect_language, normalize

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

CLASSIFIER = "hamsu.transformers_classifier.v1"
ZERO_SHOT_NLI = "hamsu.zero_shot_nli.v1"
# the hypothesis language used when a text's own language has none
FALLBACK_LANGUAGE = "en"

# kind -> language -> one hypothesis per label of the kind, in `TASKS[kind]` order
DEFAULT_HYPOTHESES: dict[str, dict[str, list[str]]] = {
    InsightKind.COMPLAINT: {
        "en": ["The customer is complaining about the service."],
        "fa": ["مشتری از خدمات شکایت دارد."],
    },
    InsightKind.UNMET_EXPECTATION: {
        "en": ["The customer says a promise made to them was not kept."],
        "fa": ["مشتری می‌گوید به قولی که به او داده شده عمل نشده است."],
    },
    InsightKind.UPSELL: {
        "en": ["The customer wants to buy more or upgrade."],
        "fa": ["مشتری می‌خواهد خرید بیشتری کند یا سرویسش را ارتقا دهد."],
    },
    InsightKind.CHURN_RISK: {
        "en": ["The customer wants to cancel or leave for a competitor."],
        "fa": ["مشتری می‌خواهد قراردادش را لغو کند یا به رقیب برود."],
    },
    "sentiment": {
        "en": [
            "The customer is unhappy or angry.",
            "The customer is neither happy nor unhappy.",
            "The customer is happy or satisfied.",
        ],
        "fa": [
            "مشتری ناراضی یا عصبانی است.",
            "مشتری نه راضی است نه ناراضی.",
            "مشتری خوشحال یا راضی است.",
        ],
    },
    "complaint_category": {
        "en": [
            "The complaint is about billing, charges or payment.",
            "The complaint is about an outage or a technical problem.",
            "The complaint is about a delivery or shipping.",
            "The complaint is about how the staff treated the customer.",
            "The complaint is about the quality of a product.",
            "The complaint is about something else.",
        ],
        "fa": [
            "شکایت درباره صورتحساب، هزینه یا پرداخت است.",
            "شکایت درباره قطعی یا مشکل فنی است.",
            "شکایت درباره ارسال یا تحویل سفارش است.",
            "شکایت درباره رفتار کارکنان با مشتری است.",
            "شکایت درباره کیفیت محصول است.",
            "شکایت درباره موضوع دیگری است.",
        ],
    },
}

_UNCALIBRATED = "none: the model's own probabilities; tune thresholds on your own conversations"


# ---- loading, once per process ---------------------------------------------------------------
@dataclass(frozen=True)
class LoadedModel:
    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    device: str
    # a fast tokenizer sets padding/truncation state per call; threads sharing one may collide
    # ("Already borrowed"), while the model's forward pass itself is safe to share
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


_LOADED: dict[tuple[str, str], LoadedModel] = {}
# worker threads may ask for the same model at once; load it once, not once per thread
_LOCK = threading.Lock()


def _unavailable(model: str, exc: Exception) -> HamsuError:
    return HamsuError(
        ErrorCode.MODEL_UNAVAILABLE,
        f"cannot load transformers model {model!r} ({exc}); download it once and set the "
        "settings to its folder (docs/transformers.md)",
    )


def load_config(model: str) -> PretrainedConfig:
    from transformers import AutoConfig  # imported late: it costs seconds at startup

    try:
        return AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise _unavailable(model, exc) from exc


def load_model(model: str, device: str = "cpu") -> LoadedModel:
    """The tokenizer and model for `model` on `device`, loaded on first call."""
    folder = Path(model).expanduser()
    source = str(folder.resolve()) if folder.is_dir() else model
    key = (source, device)
    with _LOCK:
        if key not in _LOADED:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(source)
                network = AutoModelForSequenceClassification.from_pretrained(source)
            except (OSError, ValueError) as exc:
                raise _unavailable(model, exc) from exc
            network.to(device).eval()
            _LOADED[key] = LoadedModel(tokenizer, network, device)
        return _LOADED[key]


def run_logits(
    loaded: LoadedModel,
    first: Sequence[str],
    second: Sequence[str] | None = None,
    *,
    batch_size: int = 16,
    max_length: int = 256,
) -> np.ndarray:
    """Logits (n, model labels) of texts, or of (premise, hypothesis) pairs if `second` is set."""
    n_out = len(_model_labels(loaded.model.config))
    out = np.zeros((len(first), n_out), dtype=np.float32)
    if not first:
        return out
    lengths = [len(a) + (len(second[i]) if second is not None else 0) for i, a in enumerate(first)]
    with torch.inference_mode():
        # texts of similar length share a batch, so little compute goes into padding
        for index in length_batches(lengths, batch_size):
            with loaded.tokenizer_lock:
                encoded = loaded.tokenizer(
                    [first[i] for i in index],
                    [second[i] for i in index] if second is not None else None,
                    padding=True,
                    # for pairs, cut the premise and keep the whole hypothesis
                    truncation="only_first" if second is not None else True,
                    max_length=max_length,
                    return_tensors="pt",
                )
            encoded = encoded.to(loaded.device)
            logits = loaded.model(**encoded).logits
            out[index] = logits.float().cpu().numpy()
    return out


# ---- shared helpers --------------------------------------------------------------------------
def _labels(kind: str) -> tuple[str, ...]:
    if kind not in TASKS:
        raise HamsuError(
            ErrorCode.INVALID_OPTION, f"unknown task {kind!r}; known: {', '.join(sorted(TASKS))}"
        )
    return TASKS[kind]


def _texts(features: Features, detector: str) -> list[str]:
    if features.texts is None or len(features.texts) != len(features):
        raise HamsuError(
            ErrorCode.INTERNAL,
            f"{detector} reads the unit texts: build Features with texts= (one per row)",
        )
    # the model form unifies Arabic/Persian letters, digits and ZWNJ, as the other detectors see it
    return [normalize(t) for t in features.texts]


def _scores(labels: tuple[str, ...], probabilities: np.ndarray) -> dict[str, float]:
    probs = np.atleast_1d(probabilities)
    return {label: round(float(p), 4) for label, p in zip(labels, probs, strict=True)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float32)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return np.asarray(z / z.sum(axis=axis, keepdims=True), dtype=np.float32)


def _model_labels(config: PretrainedConfig) -> list[str]:
    """The model's label names by output index (keys may be ints or, from raw JSON, strings)."""
    id2label = {int(k): str(v) for k, v in (config.id2label or {}).items()}
    n = int(config.num_labels or len(id2label))
    return [id2label.get(i, f"LABEL_{i}") for i in range(n)]


class _TransformersDetector:
    """What both backends share: the task, the model and how it is run."""

    def __init__(
        self, kind: str, model: str, device: str, batch_size: int, max_length: int
    ) -> None:
        self.kind = kind
        self.labels = _labels(kind)
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length


# ---- a fine-tuned sequence classifier ---------------------------------------------------------
class TransformersClassifierDetector(_TransformersDetector):
    """Any sequence-classification model, its labels mapped onto the task's labels.

    `label_map` maps model labels (case-insensitive) to Hamsu labels. For a binary task the score
    is the probability of the model labels mapped to the task (e.g. {"complaint": "complaint"});
    unmapped labels count as "not this". For sentiment, model labels map onto negative / neutral /
    positive (a 5-star model maps two labels to each end); unmapped labels are dropped and the rest
    renormalised. Without a map, model labels that equal Hamsu labels map to themselves.
    """

    name = CLASSIFIER

    def __init__(
        self,
        kind: str,
        model: str,
        *,
        label_map: Mapping[str, str] | None = None,
        device: str = "cpu",
        batch_size: int = 16,
        max_length: int = 256,
    ) -> None:
        super().__init__(kind, model, device, batch_size, max_length)
        config = load_config(model)
        self.model_labels = _model_labels(config)
        # one logit, or independent labels: sigmoid per label instead of a softmax across them
        self._sigmoid = (
            len(self.model_labels) == 1 or config.problem_type == "multi_label_classification"
        )
        self.label_map = self._resolve(label_map)
        # (model labels, outputs): which model label feeds which Hamsu label
        n_cols = 1 if len(self.labels) == 1 else len(self.labels)
        self._matrix = np.zeros((len(self.model_labels), n_cols), dtype=np.float32)
        for i, label in enumerate(self.model_labels):
            target = self.label_map.get(label)
            if target is not None:
                self._matrix[i, self.labels.index(target) if n_cols > 1 else 0] = 1.0

    def _resolve(self, label_map: Mapping[str, str] | None) -> dict[str, str]:
        by_lower = {label.lower(): label for label in self.model_labels}
        if label_map is None:
            if len(self.labels) == 1 and len(self.model_labels) == 1:
                # a single-logit binary model scores the task itself
                return {self.model_labels[0]: self.kind}
            resolved = {by_lower[x.lower()]: x for x in self.labels if x.lower() in by_lower}
        else:
            resolved = {}
            for source, target in label_map.items():
                if source.lower() not in by_lower:
                    raise HamsuError(
                        ErrorCode.INVALID_OPTION,
                        f"{self.model}: no model label {source!r}; it has {self.model_labels}",
                    )
                if target not in self.labels:
                    raise HamsuError(
                        ErrorCode.INVALID_OPTION,
                        f"label map target {target!r} is not a {self.kind} label {self.labels}",
                    )
                resolved[by_lower[source.lower()]] = target
        if not resolved:
            raise HamsuError(
                ErrorCode.INVALID_OPTION,
                f"{self.model}: none of its labels {self.model_labels} maps to {self.labels}; "
                "set a label map for this task",
            )
        return resolved

    def predict(self, features: Features) -> np.ndarray:
        texts = _texts(features, self.name)
        loaded = load_model(self.model, self.device)
        logits = run_logits(loaded, texts, batch_size=self.batch_size, max_length=self.max_length)
        probs = _sigmoid(logits) if self._sigmoid else _softmax(logits, axis=1)
        if len(self.labels) == 1:
            if self._sigmoid:
                # independent labels: the strongest mapped one, since their sum can pass 1
                masked = np.where(self._matrix[:, 0] > 0, probs, 0.0)
                return np.asarray(masked.max(axis=1), dtype=np.float32)
            return np.asarray(probs @ self._matrix[:, 0], dtype=np.float32)
        mapped = probs @ self._matrix
        total = mapped.sum(axis=1, keepdims=True)
        return np.asarray(mapped / np.where(total > 0, total, 1.0), dtype=np.float32)

    def explain(self, probabilities: np.ndarray) -> dict[str, object]:
        return {
            "detector": self.name,
            "backend": "transformers sequence classification",
            "model": self.model,
            "label_map": dict(self.label_map),
            "probabilities": _scores(self.labels, probabilities),
            "calibration": _UNCALIBRATED,
        }


# ---- zero-shot classification by NLI ----------------------------------------------------------
def nli_indices(config: PretrainedConfig) -> tuple[int, int]:
    """(entailment, contradiction) logit indices of an NLI model, read from its config."""

    def find(table: Mapping[str, int], prefix: str) -> int | None:
        hits = [i for name, i in table.items() if name.lower() == prefix]
        return hits[0] if hits else None

    label2id = {str(k): int(v) for k, v in (config.label2id or {}).items()}
    # `from_pretrained(..., id2label=...)` leaves label2id at LABEL_0.. in transformers 5, so a
    # model whose names live only in id2label is still read correctly
    id2label = {str(v): int(k) for k, v in (config.id2label or {}).items()}
    entail = find(label2id, "entailment")
    table = label2id
    if entail is None:
        entail, table = find(id2label, "entailment"), id2label
    if entail is None:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"not an NLI model: no 'entailment' label in {sorted(label2id)} / {sorted(id2label)}",
        )
    contra = find(table, "contradiction")
    if contra is None and len(_model_labels(config)) == 2:
        # entailment / not_entailment models: the other label plays contradiction
        contra = 1 - entail
    if contra is None:
        raise HamsuError(
            ErrorCode.INVALID_OPTION, f"NLI model has no 'contradiction' label: {table}"
        )
    return entail, contra


class ZeroShotNliDetector(_TransformersDetector):
    """Zero-shot scores: does the text entail the task's hypothesis?

    Hypotheses come per language (`{"en": [...], "fa": [...]}`, one per task label); each text is
    paired with those of its own script's language, since a multilingual NLI model is most reliable
    when premise and hypothesis share a language. A binary score is the softmax over the
    (entailment, contradiction) logits of entailment; a multi-class task (sentiment, category) is a
    softmax of the entailment logits across its labels' hypotheses.
    """

    name = ZERO_SHOT_NLI

    def __init__(
        self,
        kind: str,
        model: str,
        *,
        hypotheses: Mapping[str, Sequence[str]] | None = None,
        device: str = "cpu",
        batch_size: int = 16,
        max_length: int = 256,
    ) -> None:
        super().__init__(kind, model, device, batch_size, max_length)
        chosen = hypotheses if hypotheses is not None else DEFAULT_HYPOTHESES.get(kind)
        if not chosen or FALLBACK_LANGUAGE not in chosen:
            raise HamsuError(
                ErrorCode.INVALID_OPTION,
                f"zero-shot {kind!r} needs hypotheses, at least in {FALLBACK_LANGUAGE!r}",
            )
        for language, texts in chosen.items():
            if len(texts) != len(self.labels):
                raise HamsuError(
                    ErrorCode.INVALID_OPTION,
                    f"{kind} hypotheses in {language!r}: need one per label {self.labels}",
                )
        self.hypotheses = {language: list(texts) for language, texts in chosen.items()}
        self.entailment, self.contradiction = nli_indices(load_config(model))

    def pairs(self, texts: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        """Premises, hypotheses (len(texts) * labels, text-major) and each text's language."""
        premises: list[str] = []
        hypotheses: list[str] = []
        languages: list[str] = []
        for text in texts:
            language = detect_language(text, FALLBACK_LANGUAGE)
            if language not in self.hypotheses:
                language = FALLBACK_LANGUAGE
            languages.append(language)
            for hypothesis in self.hypotheses[language]:
                premises.append(text)
                hypotheses.append(hypothesis)
        return premises, hypotheses, languages

    def predict(self, features: Features) -> np.ndarray:
        texts = _texts(features, self.name)
        premises, hypotheses, _ = self.pairs(texts)
        logits = run_logits(
            load_model(self.model, self.device),
            premises,
            hypotheses,
            batch_size=self.batch_size,
            max_length=self.max_length,
        ).reshape(len(texts), len(self.labels), -1)
        entail = logits[:, :, self.entailment]
        if len(self.labels) == 1:
            # softmax over (entailment, contradiction), entailment's share: sigmoid(e - c)
            return _sigmoid(entail[:, 0] - logits[:, 0, self.contradiction])
        return _softmax(entail, axis=1)

    def explain(self, probabilities: np.ndarray) -> dict[str, object]:
        return {
            "detector": self.name,
            "backend": "transformers zero-shot NLI",
            "model": self.model,
            # the sentence's script picks the language (see the insight's `language`)
            "hypotheses": {
                language: dict(zip(self.labels, texts, strict=True))
                for language, texts in self.hypotheses.items()
            },
            "entailment_index": self.entailment,
            "probabilities": _scores(self.labels, probabilities),
            "calibration": _UNCALIBRATED,
        }


# ---- registered in nlp.detectors, built from the `nlp.transformers` settings -----------------
def _model_for(settings: TransformersSettings, kind: str) -> str:
    """The model that scores `kind`: its own entry in `models`, else the shared `model`."""
    model = settings.models.get(kind) or settings.model
    if not model:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"task {kind!r} uses a transformers detector but no model is set "
            "(nlp.transformers.model or nlp.transformers.models)",
        )
    return model


@register(CLASSIFIER)
def _build_classifier(kind: str, bundle: HeadBundle, settings: TransformersSettings) -> Detector:
    return TransformersClassifierDetector(
        kind,
        _model_for(settings, kind),
        label_map=settings.label_maps.get(kind),
        device=settings.device,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
    )


@register(ZERO_SHOT_NLI)
def _build_zero_shot(kind: str, bundle: HeadBundle, settings: TransformersSettings) -> Detector:
    return ZeroShotNliDetector(
        kind,
        _model_for(settings, kind),
        hypotheses=settings.hypotheses.get(kind),
        device=settings.device,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
    )
