"""`hamsu` command line: analyze files locally, classify lines of text, serve the API."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from core.errors import ErrorCode, HamsuError
from core.settings import get_settings
from transcribe.chat import speaker_role, split_speaker_prefix


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cmd_analyze(args: argparse.Namespace) -> int:
    from api.views import analyzed_view
    from pipeline.analyze import AnalyzeOptions, decide_routes, run
    from routing.engine import NO_TIER

    settings = get_settings()
    options = AnalyzeOptions(
        language=None if args.language == "auto" else args.language,
        channel=args.channel,
        agent_channel=args.agent_channel,
        account=args.account,
        tier=args.tier,
    )
    failures = 0
    for name in args.paths:
        path = Path(name)

        def progress(stage: str, fraction: float, name: str = name) -> None:
            print(f"{name}: {stage} {fraction:4.0%}", file=sys.stderr, flush=True)

        try:
            if not path.is_file():
                raise HamsuError(ErrorCode.NOT_FOUND, f"{name}: no such file")
            result = run(path, settings=settings, options=options, progress=progress)
            result = decide_routes(result, settings=settings, tier=options.tier or NO_TIER)
            view = analyzed_view(
                result, filename=path.name, sha256=_sha256(path), account=args.account
            )
            print(view.model_dump_json(), flush=True)
        except HamsuError as exc:
            failures += 1
            print(f"error: {name}: {exc.code.value}: {exc.message}", file=sys.stderr, flush=True)
    return 0 if failures == 0 else 1


def _read_lines(stream: TextIO) -> Iterator[tuple[str, str | None]]:
    """(text, speaker) per non-blank line: a JSON object's "text" and its "speaker" (or "from",
    "role"), or a plain line, whose "Agent:" / "مشتری:" prefix names the speaker."""
    for raw in stream:
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield line, None
                continue
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                label = next(
                    (obj[k] for k in ("speaker", "from", "role") if isinstance(obj.get(k), str)),
                    "",
                )
                yield obj["text"], speaker_role(label)
                continue
        speaker, text = split_speaker_prefix(line)
        yield (text, speaker) if text.strip() else (line, None)


def cmd_classify(args: argparse.Namespace) -> int:
    from nlp.analyzer import analyzer_for

    settings = get_settings()
    analyzer = analyzer_for(settings.nlp)
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
    for row in analyzer.classify_stream(_read_lines(stdin), batch=args.batch):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0


class JsonLines(logging.Formatter):
    """One JSON object per record: ts, level, logger, message (with the traceback, if any) and
    conversation_id when the record names one (`extra={"conversation_id": ...}`)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if conversation_id := getattr(record, "conversation_id", None):
            line["conversation_id"] = conversation_id
        return json.dumps(line, ensure_ascii=False)


def configure_logging(stream: TextIO | None = None) -> None:
    """The service's own loggers (`hamsu.*`) at INFO, as JSON lines on stderr. The one logging
    setup, for `hamsu serve`; uvicorn keeps its own loggers. Without it nothing configures the
    `hamsu` loggers and Python prints only their warnings, bare."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("hamsu")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a root handler added later must not print each line twice


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    configure_logging()
    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host or settings.server.host,
        port=args.port or settings.server.port,
        log_level="info",
        timeout_graceful_shutdown=max(1, round(settings.server.shutdown_grace_s)),
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from pipeline.tasks import QUEUES, run_worker

    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"--queues takes {', '.join(QUEUES)} (comma-separated); got {args.queues!r}",
        )
    if args.concurrency < 1:
        raise HamsuError(ErrorCode.INVALID_OPTION, "--concurrency must be at least 1")
    run_worker(queues=queues, concurrency=args.concurrency)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from api.auth import create_key
    from models.db import get_engine
    from models.tables import ApiKey, utcnow

    settings = get_settings()
    with Session(get_engine(settings.database_url)) as session:
        if args.keys_command == "create":
            row, plaintext = create_key(session, name=args.name or args.role, role=args.role)
            print(plaintext)
            print(
                f"created key {row.id} ({row.name}, role {row.role}); it is not shown again",
                file=sys.stderr,
            )
        elif args.keys_command == "list":
            for row in session.exec(select(ApiKey)).all():
                state = "revoked" if row.revoked_at else "active"
                print(f"{row.id}\t{row.name}\t{row.role}\t{row.prefix}…\t{state}")
        else:
            found = session.get(ApiKey, args.id)
            if found is None:
                raise HamsuError(ErrorCode.NOT_FOUND, f"no key with id {args.id}")
            found.revoked_at = utcnow()
            session.add(found)
            session.commit()
            print(f"revoked key {found.id} ({found.name})", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hamsu", description="Hamsu conversation intelligence")
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="run the pipeline on files, JSON per file on stdout")
    analyze.add_argument("paths", nargs="+")
    analyze.add_argument("--language", choices=["auto", "fa", "en"], default="auto")
    analyze.add_argument("--account")
    analyze.add_argument(
        "--tier",
        help="the account's tier, as the routing rules' `tier` condition sees it (default: none; "
        "the service uses the linked account's tier)",
    )
    analyze.add_argument("--channel", choices=["call", "email", "chat"])
    analyze.add_argument("--agent-channel", type=int, choices=[0, 1], dest="agent_channel")
    analyze.set_defaults(func=cmd_analyze)

    classify = sub.add_parser("classify", help="score lines of text from stdin, JSON per line")
    classify.add_argument("--batch", type=int, default=256)
    classify.set_defaults(func=cmd_classify)

    keys = sub.add_parser("keys", help="manage API keys (stored as hashes)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=["admin", "uploader", "csm", "sales"])
    create.add_argument("--name", help="who or what uses it (default: the role)")
    keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id", type=int)
    keys.set_defaults(func=cmd_keys)

    serve = sub.add_parser("serve", help="start the HTTP API, worker and review UI")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="run a Celery worker (HAMSU_WORKER__BACKEND=celery; broker HAMSU_BROKER__URL)",
    )
    worker.add_argument(
        "--queues",
        default="transcribe,analyze",
        help="comma-separated: transcribe (speech recognition, GPU machines), analyze (CPU)",
    )
    worker.add_argument("--concurrency", type=int, default=1, help="job processes (default 1)")
    worker.set_defaults(func=cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HamsuError as exc:
        print(f"error: {exc.code.value}: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
