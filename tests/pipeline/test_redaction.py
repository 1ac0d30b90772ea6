"""PII is hidden in what Hamsu shows and stores, while detection still reads the original."""

from __future__ import annotations

import json
from pathlib import Path

from api.views import analyzed_view
from core.settings import NlpSettings, Settings, StorageSettings
from pipeline.analyze import run

CHAT = {
    "channel": "chat",
    "messages": [
        {"from": "agent", "text": "Hello, how can I help?", "time": "2025-03-01T10:00:00Z"},
        {
            "from": "customer",
            "text": "You charged my card 4111 1111 1111 1111 twice this month and nobody calls "
            "me back on +44 20 7946 0958, this is unacceptable.",
            "time": "2025-03-01T10:01:00Z",
        },
        {
            "from": "customer",
            "text": "کد ملی من ۰۰۱۳۵۴۲۴۱۹ است، شماره‌ام ۰۹۱۲۳۴۵۶۷۸۹.",
            "time": "2025-03-01T10:02:00Z",
        },
    ],
}


def analyze(tmp_path: Path, redact: bool) -> dict:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(CHAT, ensure_ascii=False), encoding="utf-8")
    settings = Settings(
        storage=StorageSettings(data_dir=tmp_path / "var"), nlp=NlpSettings(redact_pii=redact)
    )
    result = run(path, settings=settings)
    return analyzed_view(result, filename=path.name, sha256="0" * 64, account=None).model_dump()


def test_output_is_redacted_and_evidence_still_points_at_the_quote(tmp_path):
    out = analyze(tmp_path, redact=True)
    text = " ".join(t["text"] for t in out["turns"])
    for secret in ("4111 1111 1111 1111", "7946 0958", "۰۰۱۳۵۴۲۴۱۹", "۰۹۱۲۳۴۵۶۷۸۹"):
        assert secret not in text
    assert "[CARD]" in text and "[PHONE]" in text and "[NATIONAL_ID]" in text
    complaint = next(i for i in out["insights"] if i["kind"] == "complaint" and i["turn"] == 1)
    turn = out["turns"][1]["text"]
    assert "4111" not in complaint["quote"]
    assert turn[complaint["span"]["start"] : complaint["span"]["end"]] == complaint["quote"]


def test_redaction_can_be_turned_off(tmp_path):
    out = analyze(tmp_path, redact=False)
    assert "4111 1111 1111 1111" in out["turns"][1]["text"]
