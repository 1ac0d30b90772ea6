"""The product's code path, which the evaluations score through.

Scoring the analyzer `hamsu classify` builds from the settings, at the thresholds it applies,
means the numbers describe what users get rather than a research variant of the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.settings import get_settings
from nlp.analyzer import Analyzer, analyzer_for, heads_path


def committed_analyzer() -> Analyzer:
    """The analyzer `hamsu classify` builds from the settings."""
    return analyzer_for(get_settings().nlp)


def weights_path() -> Path:
    return heads_path(get_settings().nlp)


def threshold(analyzer: Analyzer, task: str) -> float:
    # the same lookup the analyzer applies when it raises an insight
    return float(analyzer.thresholds.get(task, 0.5))


def classify_rows(
    analyzer: Analyzer, texts: Sequence[str], batch: int = 256
) -> list[dict[str, Any]]:
    """`analyzer.classify` in batches, exactly as `hamsu classify` runs it."""
    return list(analyzer.classify_stream(texts, batch=batch))
