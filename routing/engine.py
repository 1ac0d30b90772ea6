"""Insights to queue items, by rules kept in YAML (validated on load)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from core.errors import ErrorCode, HamsuError

DEFAULT_RULES = Path(__file__).parent / "rules.yaml"
PRIORITIES = ("high", "normal", "low")
KINDS = ("complaint", "unmet_expectation", "upsell", "churn_risk")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    queue: str
    min_score: float
    # (priority, min_score) from most to least urgent
    bands: tuple[tuple[str, float], ...]

    def priority(self, score: float) -> str:
        for name, floor in self.bands:
            if score >= floor:
                return name
        return self.bands[-1][0]


@dataclass(frozen=True)
class Route:
    queue: str
    priority: str
    # indexes into the conversation's insight list
    insights: tuple[int, ...]
    rules: tuple[str, ...]


class RuleSet:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)

    def route(self, insights: Sequence[Mapping[str, object]]) -> list[Route]:
        """One route per queue, at the most urgent priority any of its insights earned."""
        grouped: dict[str, tuple[list[int], list[str], set[str]]] = {}
        for i, insight in enumerate(insights):
            score = float(insight["score"])  # type: ignore[arg-type]
            rule = next(
                (r for r in self.rules if r.kind == insight["kind"] and score >= r.min_score),
                None,
            )
            if rule is None:
                continue
            indexes, priorities, names = grouped.setdefault(rule.queue, ([], [], set()))
            indexes.append(i)
            priorities.append(rule.priority(score))
            names.add(rule.name)
        return [
            Route(
                queue=queue,
                priority=min(priorities, key=PRIORITIES.index),
                insights=tuple(indexes),
                rules=tuple(sorted(names)),
            )
            for queue, (indexes, priorities, names) in grouped.items()
        ]


def parse_rules(raw: object, source: str) -> RuleSet:
    def bad(msg: str) -> HamsuError:
        return HamsuError(ErrorCode.BAD_RULES, f"{source}: {msg}")

    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise bad("expected a mapping with a 'rules' list")
    rules = []
    for n, item in enumerate(raw["rules"], start=1):
        if not isinstance(item, dict):
            raise bad(f"rule {n} is not a mapping")
        name = str(item.get("name") or f"rule-{n}")
        match = item.get("match") or {}
        kind = match.get("kind") if isinstance(match, dict) else None
        if kind not in KINDS:
            raise bad(f"rule {name!r}: match.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        queue = item.get("queue")
        if not isinstance(queue, str) or not queue.isidentifier():
            raise bad(f"rule {name!r}: queue must be a simple name, got {queue!r}")
        bands = item.get("priority_bands") or {"normal": 0.0}
        if not isinstance(bands, dict) or not set(bands) <= set(PRIORITIES):
            raise bad(f"rule {name!r}: priority_bands keys must be among {', '.join(PRIORITIES)}")
        try:
            ordered = tuple(
                sorted(
                    ((p, float(v)) for p, v in bands.items()),
                    key=lambda pv: PRIORITIES.index(pv[0]),
                )
            )
            min_score = float(match.get("min_score", 0.0))
        except (TypeError, ValueError) as exc:
            raise bad(f"rule {name!r}: scores must be numbers ({exc})") from exc
        rules.append(Rule(name, kind, queue, min_score, ordered))
    return RuleSet(rules)


@lru_cache(maxsize=8)
def load_rules(path: str = "") -> RuleSet:
    file = Path(path) if path else DEFAULT_RULES
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HamsuError(ErrorCode.BAD_RULES, f"routing rules file not found: {file}") from exc
    except yaml.YAMLError as exc:
        raise HamsuError(ErrorCode.BAD_RULES, f"{file}: invalid YAML ({exc})") from exc
    return parse_rules(raw, str(file))
