"""Detectors, registered by versioned name (`hamsu.complaint.v1`), with one protocol.

A detector maps text features (embedding + n-grams) to probabilities (`predict`) and says why a
score is what it is (`explain`). Deployments pick detectors by name in settings; a new version
registers beside the old one so stored insights keep naming the model that produced them.

This is the one registry: the trained heads register below, other backends register themselves
when their module is imported (`nlp.transformers_backend`, which the analyzer imports).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from core.errors import ErrorCode, HamsuError
from core.settings import TransformersSettings
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


# (task, trained heads, transformers settings) -> detector; each factory reads what it needs
DetectorFactory = Callable[[str, HeadBundle, TransformersSettings], Detector]
_REGISTRY: dict[str, DetectorFactory] = {}


def register(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    def wrap(factory: DetectorFactory) -> DetectorFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def registered() -> list[str]:
    """Every detector name that `create` builds."""
    return sorted(_REGISTRY)


def create(
    name: str, kind: str, bundle: HeadBundle, settings: TransformersSettings | None = None
) -> Detector:
    """The detector registered as `name`, scoring task `kind`."""
    if name not in _REGISTRY:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"unknown detector {name!r}; registered: {', '.join(registered())}",
        )
    return _REGISTRY[name](kind, bundle, settings or TransformersSettings())


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
    # a head scores the task it was trained for, whichever task the settings point at it
    def build(kind: str, bundle: HeadBundle, settings: TransformersSettings) -> Detector:
        return HeadDetector(bundle, task)

    return build


for _task in TASKS:
    register(f"hamsu.{_task}.v1")(_head_factory(_task))
