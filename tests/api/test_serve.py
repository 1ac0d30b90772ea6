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
import time
from pathlib import Path

from sqlmodel import Session

import api.cli
from models.db import get_engine
from models.tables import Conversation

STARTED = "Application startup complete"
# printed once the socket is bound, after startup
LISTENING = "Uvicorn running on"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_serve(
    tmp_path: Path,
) -> tuple[subprocess.Popen[str], int, queue.Queue[str | None], list[str]]:
    """Start `hamsu serve` on a new data dir and read its output until it listens: the process,
    its port, the rest of its output (a queue, None at the end) and what it wrote."""
    samples = tmp_path / "samples"
    samples.mkdir()  # empty: the first start logs that it queued 0 samples, and loads no model
    env = {
        **os.environ,
        "HAMSU_STORAGE__DATA_DIR": str(tmp_path / "var"),
        "HAMSU_SERVER__SAMPLES_DIR": str(samples),
        "HAMSU_SERVER__INGEST_SAMPLES": "true",
    }
    env.pop("HAMSU_DATABASE__URL", None)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
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
        while (line := lines.get(timeout=300)) is not None:  # a hang fails, not blocks
            seen.append(line)
            if LISTENING in line:
                break
    except BaseException:
        process.kill()
        raise
    return process, port, lines, seen


def _serve_until_started(tmp_path: Path) -> list[str]:
    """Start `hamsu serve`, stop it once started; every line it wrote (stdout and stderr)."""
    process, _, lines, seen = _start_serve(tmp_path)
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


def test_serve_exits_within_30_s_of_sigterm_with_a_client_stalled_mid_upload(tmp_path):
    process, port, _, _ = _start_serve(tmp_path)
    stalled = socket.create_connection(("127.0.0.1", port))
    try:
        # an upload that announced 10 MB and sent a few bytes: the connection stays open
        stalled.sendall(
            b"POST /v1/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n"
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        )
        time.sleep(1)
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
        assert time.monotonic() - stopped < 30
    finally:
        stalled.close()
