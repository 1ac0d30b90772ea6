"""Insights to queue decisions, by rules kept in YAML (validated on load, with clear errors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import ErrorCode, HamsuError
from core.labels import INSIGHT_KINDS, PRIORITIES

DEFAULT_RULES = Path(__file__).parent / "rules.yaml"
CONDITIONS = ("kind", "min_score", "category", "language", "channel", "tier")
# the tier a rule sees for a conversation linked to no account
NO_TIER = "none"


@dataclass(frozen=True)
class Context:
    """What a rule may look at besides the insight itself."""

    channel: str = ""
    tier: str = NO_TIER


@dataclass(frozen=True)
class Rule:
    name: str
    queue: str
    # condition -> accepted values (empty = any); min_score separately
    conditions: tuple[tuple[str, frozenset[str]], ...]
    min_score: float
    # (priority, min_score) from most to least urgent
    bands: tuple[tuple[str, float], ...]
    # priority -> hours until due; None = no SLA
    sla_hours: tuple[tuple[str, float], ...]

    def matches(self, insight: Mapping[str, Any], context: Context) -> bool:
        if float(insight["score"]) < self.min_score:
            return False
        values = {
            "kind": insight.get("kind"),
            "category": insight.get("category"),
            "language": insight.get("language"),
            "channel": context.channel,
            "tier": context.tier,
        }
        return all(values[name] in accepted for name, accepted in self.conditions)

    def priority(self, score: float) -> str:
        for name, floor in self.bands:
            if score >= floor:
                return name
        return self.bands[-1][0]

    def sla_for(self, priority: str) -> float | None:
        return dict(self.sla_hours).get(priority)


@dataclass(frozen=True)
class Decision:
    rule: str
    queue: str
    kind: str
    priority: str
    sla_hours: float | None


@dataclass(frozen=True)
class Route:
    queue: str
    priority: str
    # indexes into the conversation's insight list
    insights: tuple[int, ...]
    rules: tuple[str, ...]
    # each of those insights' decision, in the same order: what its queue item is opened with
    decisions: tuple[Decision, ...] = ()


class RuleSet:
    def __init__(self, rules: Sequence[Rule], dedupe_window_hours: float = 72.0) -> None:
        self.rules = list(rules)
        self.dedupe_window_hours = dedupe_window_hours

    def decide(
        self, insight: Mapping[str, Any], context: Context = Context(), *, listened: bool = False
    ) -> Decision | None:
        """The first matching rule's decision; None for no match, and for an insight held for
        listening (`needs_listening`) until a person who listened confirms it (`listened`)."""
        if insight.get("needs_listening") and not listened:
            return None
        rule = next((r for r in self.rules if r.matches(insight, context)), None)
        if rule is None:
            return None
        priority = rule.priority(float(insight["score"]))
        return Decision(
            rule.name, rule.queue, str(insight["kind"]), priority, rule.sla_for(priority)
        )

    def route(self, insights: Sequence[Mapping[str, Any]], context: Context) -> list[Route]:
        """One route per queue, at the most urgent priority any of its insights earned. Called
        once per conversation (`pipeline.analyze.decide_routes`), with its whole context."""
        grouped: dict[str, list[tuple[int, Decision]]] = {}
        for i, insight in enumerate(insights):
            decision = self.decide(insight, context)
            if decision is not None:
                grouped.setdefault(decision.queue, []).append((i, decision))
        return [
            Route(
                queue=queue,
                priority=min((d.priority for _, d in decided), key=PRIORITIES.index),
                insights=tuple(i for i, _ in decided),
                rules=tuple(sorted({d.rule for _, d in decided})),
                decisions=tuple(d for _, d in decided),
            )
            for queue, decided in grouped.items()
        ]


def _as_set(value: object, name: str, rule: str, source: str) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise HamsuError(
            ErrorCode.BAD_RULES,
            f"{source}: rule {rule!r}: match.{name} must be a name or a list of names",
        )
    return frozenset(values)  # type: ignore[arg-type]


def parse_rules(raw: object, source: str) -> RuleSet:
    def bad(msg: str) -> HamsuError:
        return HamsuError(ErrorCode.BAD_RULES, f"{source}: {msg}")

    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise bad("expected a mapping with a 'rules' list")
    try:
        window = float(raw.get("dedupe_window_hours", 72))
    except (TypeError, ValueError) as exc:
        raise bad("dedupe_window_hours must be a number") from exc
    rules = []
    for n, item in enumerate(raw["rules"], start=1):
        if not isinstance(item, dict):
            raise bad(f"rule {n} is not a mapping")
        name = str(item.get("name") or f"rule-{n}")
        unknown = set(item) - {"name", "match", "queue", "priority_bands", "sla_hours"}
        if unknown:
            raise bad(f"rule {name!r}: unknown keys {', '.join(sorted(unknown))}")
        match = item.get("match")
        if not isinstance(match, dict):
            raise bad(f"rule {name!r}: 'match' must be a mapping with at least 'kind'")
        if set(match) - set(CONDITIONS):
            raise bad(
                f"rule {name!r}: unknown match conditions "
                f"{', '.join(sorted(set(match) - set(CONDITIONS)))}; "
                f"allowed: {', '.join(CONDITIONS)}"
            )
        kinds = _as_set(match.get("kind"), "kind", name, source)
        if not kinds <= set(INSIGHT_KINDS):
            raise bad(
                f"rule {name!r}: match.kind must be among {', '.join(INSIGHT_KINDS)}, "
                f"got {', '.join(sorted(kinds))}"
            )
        conditions = [("kind", kinds)] + [
            (cond, _as_set(match[cond], cond, name, source))
            for cond in ("category", "language", "channel", "tier")
            if cond in match
        ]
        queue = item.get("queue")
        if not isinstance(queue, str) or not queue.isidentifier():
            raise bad(f"rule {name!r}: queue must be a simple name, got {queue!r}")
        bands = item.get("priority_bands") or {"normal": 0.0}
        if not isinstance(bands, dict) or not set(bands) <= set(PRIORITIES):
            raise bad(f"rule {name!r}: priority_bands keys must be among {', '.join(PRIORITIES)}")
        sla = item.get("sla_hours")
        try:
            ordered = tuple(
                sorted(
                    ((p, float(v)) for p, v in bands.items()),
                    key=lambda pv: PRIORITIES.index(pv[0]),
                )
            )
            min_score = float(match.get("min_score", 0.0))
            if sla is None:
                sla_hours: tuple[tuple[str, float], ...] = ()
            elif isinstance(sla, dict):
                if not set(sla) <= set(PRIORITIES):
                    raise bad(
                        f"rule {name!r}: sla_hours keys must be among {', '.join(PRIORITIES)}"
                    )
                sla_hours = tuple((p, float(v)) for p, v in sla.items())
            else:
                sla_hours = tuple((p, float(sla)) for p in PRIORITIES)
        except (TypeError, ValueError) as exc:
            raise bad(f"rule {name!r}: scores and hours must be numbers ({exc})") from exc
        if any(hours <= 0 for _, hours in sla_hours):
            raise bad(f"rule {name!r}: sla_hours must be positive")
        rules.append(Rule(name, queue, tuple(conditions), min_score, ordered, sla_hours))
    return RuleSet(rules, window)


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
