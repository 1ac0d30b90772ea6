"""`make eval`'s driver and its own-set part, on a handful of real labelled rows and a tiny
stand-in for the public datasets, through the committed model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.labels import INSIGHT_KINDS
from tests.training.quality_keys import COMMITTED, assert_same_keys
from training.datasets import Example, own_examples
from training.evaluate import TABLES, Evaluation, main, merged
from training.evaluations.labelled_sets import evaluate_labelled_set
from training.evaluations.product import classify_rows, committed_analyzer
from training.evaluations.targets import check_targets


@pytest.fixture(scope="module")
def rows() -> list[Example]:
    """Per language: a customer row for each label, a row with none, and an agent row."""
    chosen: list[Example] = []
    pool = list(own_examples())
    for lang in ("en", "fa"):
        mine = [ex for ex in pool if ex.lang == lang]
        for task in INSIGHT_KINDS:
            chosen.append(next(ex for ex in mine if ex.binary[task] and ex not in chosen))
        chosen.append(
            next(ex for ex in mine if ex.speaker == "customer" and not any(ex.binary.values()))
        )
        chosen.append(next(ex for ex in mine if ex.speaker == "agent"))
    return chosen


@pytest.fixture(scope="module")
def result(rows):
    return evaluate_labelled_set(rows, committed_analyzer(), batch=5)


def _unit(value) -> bool:
    return value is None or 0.0 <= value <= 1.0


def test_classify_rows_is_hamsu_classify_plus_polarity(rows):
    analyzer = committed_analyzer()
    texts = [ex.text for ex in rows[:4]]
    plain = analyzer.classify(texts)
    ours = classify_rows(analyzer, texts, batch=3)
    for a, b in zip(plain, ours, strict=True):
        assert {k: v for k, v in b.items() if k != "sentiment"} == {
            k: v for k, v in a.items() if k != "sentiment"
        }
        assert b["sentiment"]["label"] == a["sentiment"]["label"]
        assert -1.0 <= b["sentiment"]["polarity"] <= 1.0
    # the analyzer is shared (lru_cache): the recording hook must be gone afterwards
    assert "_sentiment" not in vars(analyzer)


def test_labelled_set_structure_and_ranges(result, rows):
    report = result.to_json()
    assert_same_keys(report, COMMITTED["own"])
    assert report["n"] == len(rows) == 12
    assert report["n_by_language"] == {"en": 6, "fa": 6}
    for task in INSIGHT_KINDS:
        entry = report["labels"][task]
        assert 0.0 < entry["threshold"] < 1.0
        for group in ("en", "fa", "all"):
            scores = entry[group]
            assert scores["n"] == (12 if group == "all" else 6)
            assert scores["positives"] >= 1
            for key in ("f1", "precision", "recall", "macro_f1"):
                assert _unit(scores[key]), (task, group, key, scores[key])
            assert scores["f1"] is not None and scores["recall"] is not None
            assert _unit(report["ece"][task][group])
    for group in ("en", "fa", "all"):
        sentiment = report["sentiment"][group]
        assert sentiment["n"] == (12 if group == "all" else 6)
        assert _unit(sentiment["macro_f1_3way"]) and _unit(sentiment["accuracy_3way"])
        assert _unit(sentiment["binary_macro_f1"])
    agents = report["agent_rows"]
    assert agents["n"] == 2
    assert 0 <= agents["flagged"] <= 2 and _unit(agents["flagged_rate"])
    assert set(agents["by_label"]) == set(INSIGHT_KINDS)


def test_targets_and_table_from_an_own_only_run(result):
    targets = check_targets({"own": result.to_json()})
    own_targets = [t for t in targets if t.target.startswith("own_")]
    assert len(own_targets) == 2 * len(INSIGHT_KINDS)
    assert all(isinstance(t.passed, bool) for t in own_targets)
    # parts that were not run are reported as not measured, not as failures
    assert all(t.passed is None for t in targets if t.measured_on.startswith("Deep"))
    evaluation = Evaluation(
        date="today",
        model={"version": "v"},
        results={"own": result},
        skipped=None,
        targets=targets,
        seconds={"own": 1.0},
        wall_seconds=1.0,
        machine={"usable_cores": 2},
    )
    table = evaluation.table()
    assert "churn_risk [fa] F1" in table and "not measured" in table
    assert TABLES[4][0] in table and TABLES[0][0] not in table


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The public datasets' files `make eval` reads, a few dozen made-up rows each; enough rows
    that every part's dev split (a fifth, by hash) is not empty."""
    root = tmp_path_factory.mktemp("data")
    moods = ["افتضاح بود", "بد بود", "معمولی بود", "خوب بود", "عالی بود"]
    _write_csv(
        root / "fa_sentiment_deepsentipers" / "original.csv",
        [[f"گوشی شماره {i} {moods[i % 5]}", str(i % 5 - 2)] for i in range(60)],
    )
    intents = ["terminate_account", "card_arrival", "top_up_failed"]
    _write_csv(
        root / "en_intent_banking77" / "train.csv",
        [["text", "category"]]
        + [[f"request {i}: please help with {intents[i % 3]}", intents[i % 3]] for i in range(60)],
    )
    nlupp = root / "en_intent_nlupp" / "banking"
    nlupp.mkdir(parents=True)
    labels = [["cancel_close_leave_freeze", "account"], ["more_higher_after"], ["balance"]]
    nlupp.joinpath("fold0.json").write_text(
        json.dumps(
            [{"text": f"message {i} about my bank", "intents": labels[i % 3]} for i in range(60)]
        )
    )
    parsinlu = root / "fa_sentiment_parsinlu"
    parsinlu.mkdir()
    for domain in ("food", "movie"):
        reviews = [f"نظر {i} درباره {domain} {moods[i % 5]}" for i in range(40)]
        _jsonl(
            parsinlu / f"{domain}.jsonl", [{"review": r, "sentiment": "1"} for r in reviews[:20]]
        )
        _jsonl(
            parsinlu / f"{domain}_dev.jsonl",
            [
                {"review": r, "aspect": "کلی", "label": str(i % 5 - 2)}
                for i, r in enumerate(reviews)
            ],
        )
    return root


def test_main_writes_the_committed_report_structure(data, tmp_path, capsys):
    out = tmp_path / "quality.json"
    parts = ["deepsentipers", "intents", "parsinlu"]
    main(
        ["--data", str(data), "--out", str(out), "--cache", str(tmp_path / "cache")]
        + [arg for part in parts for arg in ("--only", part)]
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    not_run = {"own", "challenge", "blind", "conversations", "conversations_blind"}
    not_run |= {"complaints_committed_dev", "complaints_cv"}
    assert list(report) == [key for key in COMMITTED if key not in not_run]
    for key in report:
        if key != "seconds":
            assert_same_keys(report[key], COMMITTED[key], key)
    assert list(report["seconds"]) == parts
    assert report["deepsentipers"]["n_dev"] > 0
    assert report["intents"]["banking77_terminate_account"]["all_intents"]["positives"] > 0
    # 2 x 40 dev reviews, a fifth of them neutral (dropped from the binary score)
    assert (report["parsinlu"]["all"]["n"], report["parsinlu"]["all"]["n_binary"]) == (80, 64)
    printed = capsys.readouterr().out
    for title, keys in TABLES[:4]:
        assert (title in printed) == any(key in parts for key in keys)
    assert "not measured" in printed and f"wrote {out}" in printed


def test_a_part_rerun_is_merged_into_the_last_full_report():

    committed = json.loads(Path("bench/results/quality.json").read_text(encoding="utf-8"))
    rerun = {
        "date": "2026-12-07T00:00:00+00:00",
        "model": committed["model"],
        "conversations": {"conversations": 3},
        "skipped": "public datasets (no --data given)",
        "targets": [],
        "seconds": {"conversations": 1.0},
        "wall_seconds": 2.0,
    }
    report = merged(committed, rerun)
    assert report["conversations"] == {"conversations": 3}
    assert report["deepsentipers"] == committed["deepsentipers"]
    assert report["date"] == rerun["date"] and "skipped" not in report
    assert report["seconds"] == committed["seconds"] | {"conversations": 1.0}
    assert report["wall_seconds"] == committed["wall_seconds"]
    # the targets are checked again over the merged sections, not taken from the partial run
    assert report["targets"] == committed["targets"]
