"""The `hamsu` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HAMSU = [sys.executable, "-m", "api.cli"]


def run_cli(args: list[str], tmp_path: Path, stdin: str | None = None):
    env = {**os.environ, "HAMSU_STORAGE__DATA_DIR": str(tmp_path / "var")}
    return subprocess.run(
        HAMSU + args,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        encoding="utf-8",
    )


def test_analyze_writes_one_json_object_per_input(tmp_path, samples_dir):
    inputs = [
        samples_dir / "chats" / "fa_churn.txt",
        samples_dir / "emails" / "en_unmet_promise.eml",
    ]
    result = run_cli(["analyze", *map(str, inputs), "--account", "Pars"], tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["channel"] for o in outputs] == ["chat", "email"]
    assert [o["language"] for o in outputs] == ["fa", "en"]
    for out in outputs:
        assert out["account"] == "Pars" and len(out["source"]["sha256"]) == 64
        assert out["insights"] and out["routes"]
        assert {"customer", "agent"} <= set(out["sentiment"])
    assert any(i["kind"] == "churn_risk" for i in outputs[0]["insights"])


def test_analyze_reports_each_failed_input_and_exits_non_zero(tmp_path, samples_dir):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    pdf = tmp_path / "call.wav"
    pdf.write_bytes(b"%PDF-1.5\n%\xe2\xe3\n")
    good = samples_dir / "chats" / "en_upsell.json"
    result = run_cli(
        ["analyze", str(empty), str(good), str(pdf), str(tmp_path / "missing.eml")], tmp_path
    )
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1  # the good one still went through
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert "E001_empty_file" in errors[0]
    assert "PDF" in errors[1]
    assert "no such file" in errors[2]


def test_classify_reads_text_and_json_lines(tmp_path):
    lines = [
        "I want to cancel my account, your service is useless",
        json.dumps(
            {"text": "می‌خوایم ده تا کاربر دیگه به اشتراکمون اضافه کنیم"}, ensure_ascii=False
        ),
        "",
        "what time do you open tomorrow?",
    ]
    result = run_cli(["classify"], tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    keys = {
        "text",
        "language",
        "sentiment",
        "complaint",
        "unmet_expectation",
        "upsell",
        "churn_risk",
    }
    assert all(keys <= set(r) for r in rows)
    assert rows[0]["churn_risk"] > 0.5 and rows[0]["language"] == "en"
    assert rows[1]["upsell"] > 0.5 and rows[1]["language"] == "fa"
    assert max(rows[2][k] for k in ("complaint", "unmet_expectation", "upsell", "churn_risk")) < 0.5
    assert all(0.0 <= r[k] <= 1.0 for r in rows for k in ("complaint", "upsell"))


def test_classify_scores_no_customer_insight_on_lines_it_knows_are_the_agents(tmp_path):
    offer_en = "Would you like to upgrade to the premium plan and add twenty more seats?"
    offer_fa = "می‌خواید پلن‌تون رو به سازمانی ارتقا بدید و ده تا کاربر دیگه اضافه کنید؟"
    ask_fa = "می‌خوایم پلن‌مون رو به سازمانی ارتقا بدیم و ده تا کاربر دیگه هم اضافه کنیم"
    lines = [
        json.dumps({"text": offer_en, "speaker": "agent"}),
        f"Agent: {offer_en}",
        json.dumps({"text": offer_fa, "from": "کارشناس"}, ensure_ascii=False),
        f"[10:32] کارشناس: {offer_fa}",
        f"مشتری: {ask_fa}",
        json.dumps({"text": ask_fa, "role": "Customer"}, ensure_ascii=False),
        json.dumps({"text": ask_fa, "speaker": "bot"}, ensure_ascii=False),
    ]
    result = run_cli(["classify"], tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    insights = ("complaint", "unmet_expectation", "upsell", "churn_risk")
    assert [r.get("speaker") for r in rows] == ["agent"] * 4 + ["customer"] * 2 + [None]
    for row in rows[:4]:
        assert all(row[k] == 0.0 for k in insights), row
        assert row["sentiment"]["label"] in ("negative", "neutral", "positive")
    # the prefix is the speaker's name, not part of what they said
    assert rows[1]["text"] == offer_en and rows[3]["text"] == offer_fa and rows[4]["text"] == ask_fa
    for row in rows[4:]:
        assert row["upsell"] > 0.5, row
    assert rows[4]["upsell"] == rows[5]["upsell"] == rows[6]["upsell"]


def test_analyze_and_the_service_make_the_same_decisions(tmp_path, samples_dir, client):
    from tests.api.test_conversations import drain, upload

    files = [
        samples_dir / "emails" / "en_unmet_promise.eml",
        samples_dir / "chats" / "fa_churn.txt",
    ]
    result = run_cli(["analyze", *map(str, files)], tmp_path)
    assert result.returncode == 0, result.stderr
    cli = [json.loads(line) for line in result.stdout.splitlines()]
    ids = [upload(client, path).json()["id"] for path in files]
    drain(client)
    for mine, conversation_id in zip(cli, ids, strict=True):
        served = client.get(f"/v1/conversations/{conversation_id}").json()
        keys = ("kind", "score", "turn", "quote", "threshold", "evidence_score", "needs_listening")
        assert [{k: i[k] for k in keys} for i in mine["insights"]] == [
            {k: i[k] for k in keys} for i in served["insights"]
        ]
        assert mine["insights"], "both find the conversation's insights"
        assert [(r["queue"], r["priority"]) for r in mine["routes"]] == [
            (r["queue"], r["priority"]) for r in served["routes"]
        ]
