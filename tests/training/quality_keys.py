"""The committed `bench/results/quality.json`, and a check that a report has its structure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
COMMITTED: dict[str, Any] = json.loads(
    (ROOT / "bench" / "results" / "quality.json").read_text(encoding="utf-8")
)
# dicts keyed by what the data holds (labels seen, intents that misfired), not by the format
DATA_KEYED = {"gold_counts", "false_alarm_intents"}


def assert_same_keys(ours: Any, committed: Any, path: str = "") -> None:
    """The same field names, in the same order, at every level of dicts (and of the first item of
    lists of dicts)."""
    if isinstance(committed, dict):
        assert isinstance(ours, dict), path
        assert list(ours) == list(committed), path
        for key, value in committed.items():
            if key not in DATA_KEYED:
                assert_same_keys(ours[key], value, f"{path}.{key}")
    elif isinstance(committed, list) and committed and isinstance(committed[0], dict):
        assert isinstance(ours, list), path
        if ours:
            assert_same_keys(ours[0], committed[0], f"{path}[0]")
