"""Detectors, registered by versioned name (`hamsu.complaint.v1`), with one protocol.

A detector maps text features (embedding + n-grams) to probabilities (`predict`) and says why a
score is what it is (`explain`). Deployments pick detectors by name in settings; a new version
registers beside the old one so stored insights keep naming the model that produced them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from core.errors import ErrorCode, HamsuError
from nlp.features import Features
from nlp.heads import TASKS, HeadBundle


class Detector(Protocol):
    name: str
    # the task it scores: "sentiment", "complaint", "complaint_category", ...
    kind: str
    labels: tuple[str, ...]

    def predict(self, features: Features) -> np.ndarray:
        """Binary tasks: shape (n,) probabilities; multi-class: (n, len(labels))."""
        ...

    def explain(self, probabilities: np.ndarray) -> dict[str, object]:
        """A CSM-readable account of one prediction."""
        ...


DetectorFactory = Callable[[HeadBundle], Detector]
_REGISTRY: dict[str, DetectorFactory] = {}


def register(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    def wrap(factory: DetectorFactory) -> DetectorFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def create(name: str, bundle: HeadBundle) -> Detector:
    if name not in _REGISTRY:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"unknown detector {name!r}; registered: {', '.join(sorted(_REGISTRY))}",
        )
    return _REGISTRY[name](bundle)


def registered() -> list[str]:
    return sorted(_REGISTRY)


class HeadDetector:
    """A trained torch head on multilingual-e5-small embeddings and hashed n-grams."""

    def __init__(self, bundle: HeadBundle, kind: str, version: int = 1) -> None:
        if kind not in bundle.heads:
            raise HamsuError(
                ErrorCode.MODEL_UNAVAILABLE, f"weights {bundle.version} have no head for {kind!r}"
            )
        self.kind = kind
        self.name = f"hamsu.{kind}.v{version}"
        self.labels = TASKS[kind]
        self._head = bundle.heads[kind]
        self._weights_version = bundle.version
        metrics = bundle.meta.get("metrics", {})
        self._dev_metrics = metrics.get(kind, {}) if isinstance(metrics, dict) else {}

    def predict(self, features: Features) -> np.ndarray:
        return self._head.probabilities(features)

    def explain(self, probabilities: np.ndarray) -> dict[str, object]:
        probs = np.atleast_1d(probabilities)
        if len(self.labels) == 1:
            scores = {self.labels[0]: round(float(probs[0]), 4)}
        else:
            scores = {
                label: round(float(p), 4) for label, p in zip(self.labels, probs, strict=True)
            }
        return {
            "detector": self.name,
            "weights": self._weights_version,
            "probabilities": scores,
            "calibration": "Platt/temperature scaling on a held-out split",
            "dev_metrics": self._dev_metrics,
        }


def _head_factory(task: str) -> DetectorFactory:
    def build(bundle: HeadBundle) -> Detector:
        return HeadDetector(bundle, task)

    return build


for _task in TASKS:
    register(f"hamsu.{_task}.v1")(_head_factory(_task))
