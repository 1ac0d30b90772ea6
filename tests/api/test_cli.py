"""The `hamsu` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HAMSU = [sys.executable, "-m", "api.cli"]


def run_cli(
    args: list[str], tmp_path: Path, stdin: str | None = None, env: dict[str, str] | None = None
):
    return subprocess.run(
        HAMSU + args,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "HAMSU_STORAGE__DATA_DIR": str(tmp_path / "var"), **(env or {})},
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


ALL_KINDS = "[complaint, unmet_expectation, upsell, churn_risk]"
RULES_BY_CHANNEL_AND_TIER = f"""
rules:
  - name: enterprise-chats
    match: {{kind: {ALL_KINDS}, channel: chat, tier: enterprise}}
    queue: vip
    priority_bands: {{high: 0.0}}
  - name: emails
    match: {{kind: {ALL_KINDS}, channel: email}}
    queue: inbox
    priority_bands: {{low: 0.0}}
  - name: the-rest
    match: {{kind: {ALL_KINDS}}}
    queue: other
"""


def test_analyze_and_the_service_route_alike_under_channel_and_tier_rules(tmp_path, samples_dir):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from core.settings import RoutingSettings
    from tests.api.conftest import make_key, make_settings
    from tests.api.test_conversations import drain, upload

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_BY_CHANNEL_AND_TIER, encoding="utf-8")
    settings = make_settings(tmp_path / "service").model_copy(
        update={"routing": RoutingSettings(rules_path=str(rules))}
    )
    files = [
        samples_dir / "chats" / "fa_churn.txt",
        samples_dir / "emails" / "en_unmet_promise.eml",
    ]
    env = {"HAMSU_ROUTING__RULES_PATH": str(rules)}
    result = run_cli(
        ["analyze", "--account", "Harbor", "--tier", "enterprise", *map(str, files)],
        tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    cli = [json.loads(line)["routes"] for line in result.stdout.splitlines()]
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        account = client.post("/v1/accounts", json={"name": "Harbor", "tier": "enterprise"})
        assert account.status_code == 201, account.text
        ids = [upload(client, f, account_id=account.json()["id"]).json()["id"] for f in files]
        drain(client)
        served = [client.get(f"/v1/conversations/{i}").json()["routes"] for i in ids]
    fields = ("queue", "priority", "insights", "rules")
    assert [[{k: r[k] for k in fields} for r in routes] for routes in cli] == [
        [{k: r[k] for k in fields} for r in routes] for routes in served
    ]
    # the conditions decided: the enterprise account's chat went to vip, the email to inbox
    assert [{r["queue"] for r in routes} for routes in served] == [{"vip"}, {"inbox"}]
