"""`hamsu serve` as an operator starts it: the service's own logs appear as JSON lines, and the
bootstrap admin key stays out of the output (only its prefix is shown; the key is in a file)."""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

from sqlmodel import Session

import api.cli
from models.db import get_engine
from models.tables import Conversation

STARTED = "Application startup complete"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_until_started(tmp_path: Path) -> list[str]:
    """Start `hamsu serve` on a new data dir, read its output until it has started, stop it;
    every line it wrote (stdout and stderr)."""
    samples = tmp_path / "samples"
    samples.mkdir()  # empty: the first start logs that it queued 0 samples, and loads no model
    env = {
        **os.environ,
        "HAMSU_STORAGE__DATA_DIR": str(tmp_path / "var"),
        "HAMSU_SERVER__SAMPLES_DIR": str(samples),
        "HAMSU_SERVER__INGEST_SAMPLES": "true",
    }
    env.pop("HAMSU_DATABASE__URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"]
        + ["--port", str(_free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=300)  # a hang fails the test instead of blocking the suite
            if line is None:
                break
            seen.append(line)
            if STARTED in line:
                break
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    while (rest := lines.get(timeout=60)) is not None:
        seen.append(rest)
    return seen


def test_serve_logs_json_lines_and_shows_only_the_admin_key_prefix(tmp_path):
    output = _serve_until_started(tmp_path)
    text = "\n".join(output)
    assert any(STARTED in line for line in output), text

    records = [json.loads(line) for line in output if line.startswith("{")]
    [queued] = [r for r in records if r["message"].startswith("queued 0 sample conversations")]
    assert queued["level"] == "INFO" and queued["logger"] == "hamsu"
    assert set(queued) == {"ts", "level", "logger", "message"}

    key_file = tmp_path / "var" / "admin-key.txt"
    key = key_file.read_text(encoding="utf-8").strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key not in text  # the whole key never reaches stdout (or the log files behind it)
    assert key[:12] in text and str(key_file) in text


def test_the_worker_logs_name_their_conversation(client, settings, tmp_path):
    chat = tmp_path / "chat.txt"
    chat.write_text("Agent: Hello, how can I help?\nCustomer: My invoice is wrong.\n")
    with chat.open("rb") as fh:
        upload = client.post("/v1/conversations", files={"file": ("chat.txt", fh)})
    conversation_id = upload.json()["id"]
    with Session(get_engine(settings.database_url)) as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        Path(row.storage_path).unlink()  # processing it now fails unexpectedly, and is logged

    logger = logging.getLogger("hamsu")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    stream = io.StringIO()
    api.cli.configure_logging(stream)
    try:
        client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]
    finally:
        logger.handlers, logger.level, logger.propagate = saved
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    mine = [r for r in records if r.get("conversation_id") == conversation_id]
    assert {r["level"] for r in mine} >= {"ERROR", "WARNING"}
    for record in mine:
        assert set(record) == {"ts", "level", "logger", "message", "conversation_id"}
        assert record["logger"] == "hamsu.jobs" and conversation_id in record["message"]
    failed = next(r for r in mine if r["level"] == "ERROR")
    assert "Traceback" in failed["message"]  # the log keeps what the client is not shown
