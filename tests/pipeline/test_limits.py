"""The work caps the pipeline applies to emails and chats, from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ErrorCode, HamsuError
from core.settings import EmailSettings, Settings, StorageSettings
from pipeline.analyze import AnalyzeOptions, to_transcript
from pipeline.store import size_limit


def test_the_email_text_cap_setting_reaches_the_parser(tmp_path: Path) -> None:
    body = "\n".join(f"Line {n}: the invoice shows the same charge twice." for n in range(200))
    path = tmp_path / "long.eml"
    path.write_bytes(
        f"From: kim@contoso.example\nTo: support@hamsu.example\nSubject: Hi\n\n{body}".encode()
    )
    settings = Settings(email=EmailSettings(max_text_chars=500))
    transcript = to_transcript(path, "email", AnalyzeOptions(language="en"), settings, path.name)
    assert transcript.meta["truncated"] is True
    assert sum(len(turn.text) for turn in transcript.turns) <= 500


def test_size_limits_per_channel() -> None:
    settings = Settings(storage=StorageSettings(max_upload_mb=200), email=EmailSettings(max_mb=50))
    assert size_limit(settings=settings, channel="chat").max_bytes == 5_000_000
    assert size_limit(settings=settings, channel="email").label == "the 50 MB limit for an email"
    assert size_limit(settings=settings, channel="call").max_bytes == 200 << 20
    assert size_limit(settings=settings, channel=None).label == "the 200 MB upload limit"
    # the upload limit wins when it is the lower one
    small = Settings(storage=StorageSettings(max_upload_mb=1))
    assert size_limit(settings=small, channel="chat").label == "the 1 MB upload limit"


def test_hamsu_analyze_refuses_a_chat_over_its_limit_before_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"Customer: " + b"x" * 5_000_000)
    with pytest.raises(HamsuError) as err:
        to_transcript(path, "chat", AnalyzeOptions(), Settings(), path.name)
    assert err.value.code is ErrorCode.TOO_LARGE
    assert err.value.details["limit_bytes"] == 5_000_000
