"""The structure `docs/architecture.md` promises: each label spelled once, no import cycles, and
no layer importing one above it. Read from the source (ast), so lazy imports inside functions
count too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from core.labels import InsightKind

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "transcribe", "nlp", "models", "routing", "pipeline", "api", "training")
# folder -> the project folders it may import (docs/architecture.md, "Layers")
ALLOWED = {
    "core": set(),
    "transcribe": {"core"},
    "nlp": {"core", "transcribe"},
    "models": {"core"},
    "routing": {"core", "models"},
    "pipeline": {"core", "transcribe", "nlp", "models", "routing"},
    "api": {"core", "transcribe", "nlp", "models", "routing", "pipeline"},
    "training": {"core", "nlp", "transcribe", "routing"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project modules `name` imports, anywhere in its file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports the module a.b when there is one, else a name of a
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_layer_imports_one_above_it():
    wrong = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        for target in targets
        if (low := name.split(".")[0]) != (high := target.split(".")[0])
        and high not in ALLOWED[low]
    ]
    assert wrong == []


def test_the_insight_kinds_are_spelled_out_in_one_module():
    kinds = {kind.value for kind in InsightKind}
    spelled = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path in modules().values()
        if path != ROOT / "core" / "labels.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in kinds
    )
    assert spelled == []
