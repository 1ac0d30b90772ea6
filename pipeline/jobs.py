"""Conversations as jobs: submit an upload, process it, store what it produced.

The conversation row is the job. Its status moves queued → transcribing → analyzing → routed, or to
failed with a code and a message. Processing is idempotent (a rerun replaces the rows it wrote), so
a worker that died mid-job simply runs it again after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from core.errors import ErrorCode, HamsuError
from core.settings import Settings
from models.tables import (
    Account,
    Conversation,
    ConversationStatus,
    Insight,
    QueueItem,
    Turn,
    utcnow,
)
from pipeline.analyze import AnalyzeOptions, Result, check_options, detect_channel, run
from pipeline.store import StoredFile

log = logging.getLogger("hamsu.jobs")
MAX_ATTEMPTS = 3


def get_or_create_account(session: Session, name: str | None) -> Account | None:
    if not name:
        return None
    account = session.exec(select(Account).where(Account.name == name)).first()
    if account is None:
        account = Account(name=name)
        session.add(account)
        session.flush()
    return account


def submit(
    session: Session,
    *,
    stored: StoredFile,
    filename: str,
    options: AnalyzeOptions,
) -> tuple[Conversation, bool]:
    """Create the conversation for a stored upload; the same bytes again return the first one.

    Files that cannot be any channel fail here, so the uploader hears it at once; the row is kept,
    marked failed with the reason.
    """
    existing = session.exec(
        select(Conversation).where(Conversation.sha256 == stored.sha256)
    ).first()
    if existing is not None:
        return existing, False
    check_options(options)
    account = get_or_create_account(session, options.account)
    conversation = Conversation(
        filename=filename,
        sha256=stored.sha256,
        size_bytes=stored.size,
        storage_path=str(stored.path),
        requested_language=options.language or "auto",
        agent_channel=options.agent_channel,
        account_id=account.id if account else None,
    )
    try:
        conversation.channel = options.channel or detect_channel(stored.path, filename)
    except HamsuError as exc:
        _mark_failed(conversation, exc)
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation, True


def _mark_failed(conversation: Conversation, exc: HamsuError) -> None:
    conversation.status = ConversationStatus.FAILED
    conversation.error_code = exc.code.value
    conversation.error_message = exc.message
    conversation.updated_at = utcnow()


def claim_next(session: Session) -> str | None:
    """Atomically move one queued conversation to transcribing; its id, or None."""
    candidates = session.exec(
        select(Conversation.id)
        .where(Conversation.status == ConversationStatus.QUEUED)
        .order_by(col(Conversation.created_at))
        .limit(5)
    ).all()
    for conversation_id in candidates:
        claimed = session.execute(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .where(col(Conversation.status) == ConversationStatus.QUEUED)
            .values(
                status=ConversationStatus.TRANSCRIBING,
                attempts=Conversation.attempts + 1,
                updated_at=utcnow(),
            )
        )
        session.commit()
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return conversation_id
    return None


def requeue_in_flight(session: Session) -> int:
    """After a restart nothing is running: what was in flight goes back to the queue."""
    result = session.execute(
        update(Conversation)
        .where(
            col(Conversation.status).in_(
                [ConversationStatus.TRANSCRIBING, ConversationStatus.ANALYZING]
            )
        )
        .values(status=ConversationStatus.QUEUED, updated_at=utcnow())
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def process(session: Session, conversation_id: str, settings: Settings) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"conversation {conversation_id} not found")
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    options = AnalyzeOptions(
        language=None
        if conversation.requested_language == "auto"
        else conversation.requested_language,
        channel=conversation.channel or None,  # type: ignore[arg-type]
        agent_channel=conversation.agent_channel,
        account=account.name if account else None,
    )

    def progress(stage: str, fraction: float) -> None:
        if stage == "analyzing" and conversation.status != ConversationStatus.ANALYZING:
            conversation.status = ConversationStatus.ANALYZING
            conversation.updated_at = utcnow()
            session.add(conversation)
            session.commit()

    try:
        result = run(
            Path(conversation.storage_path),
            settings=settings,
            options=options,
            filename=conversation.filename,
            progress=progress,
        )
        save_result(session, conversation, result)
    except HamsuError as exc:
        _after_failure(session, conversation_id, exc, retry=not exc.is_input_error)
    except Exception as exc:  # a bug or a resource problem: retry, then give up loudly
        log.exception("conversation %s failed unexpectedly", conversation_id)
        error = HamsuError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        _after_failure(session, conversation_id, error, retry=True)
    return conversation


def _aware(value: datetime | None) -> datetime | None:
    """Times without a zone (chat clocks) are taken as UTC; the database stores UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _after_failure(session: Session, conversation_id: str, exc: HamsuError, *, retry: bool) -> None:
    """Undo the half-written attempt; requeue a retryable failure until attempts run out."""
    session.rollback()
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    if retry and conversation.attempts < MAX_ATTEMPTS:
        log.warning("conversation %s: %s; will retry", conversation_id, exc)
        conversation.status = ConversationStatus.QUEUED
        conversation.updated_at = utcnow()
    else:
        _mark_failed(conversation, exc)
    session.add(conversation)
    session.commit()


def save_result(session: Session, conversation: Conversation, result: Result) -> None:
    """Replace whatever an earlier attempt stored, then mark the conversation routed."""
    cid = conversation.id
    for table in (QueueItem, Insight, Turn):
        session.exec(delete(table).where(col(table.conversation_id) == cid))  # type: ignore[call-overload]
    transcript, analysis = result.transcript, result.analysis
    for i, turn in enumerate(transcript.turns):
        sentiment = analysis.turn_sentiments[i]
        session.add(
            Turn(
                conversation_id=cid,
                index=i,
                speaker=turn.speaker,
                speaker_label=turn.speaker_label,
                text=turn.text,
                language=analysis.turn_languages[i],
                start=turn.start,
                end=turn.end,
                sent_at=turn.sent_at,
                confidence=turn.confidence,
                sentiment_label=sentiment.label,
                sentiment_score=sentiment.score,
                sentiment_polarity=sentiment.polarity,
            )
        )
    for i, insight in enumerate(analysis.insights):
        data: dict[str, Any] = asdict(insight)
        span = data.pop("span")
        session.add(
            Insight(conversation_id=cid, index=i, span_start=span[0], span_end=span[1], **data)
        )
    for route in result.routes:
        session.add(
            QueueItem(
                queue=route.queue,
                conversation_id=cid,
                account_id=conversation.account_id,
                priority=route.priority,
                insights=list(route.insights),
                rules=list(route.rules),
                top_score=max(analysis.insights[i].score for i in route.insights),
            )
        )
    conversation.language = transcript.language
    conversation.channel = transcript.channel
    conversation.duration_s = transcript.duration_s
    conversation.details = {
        "meta": {
            k: v if isinstance(v, str | int | float | bool | None) else str(v)
            for k, v in transcript.meta.items()
        },
        "sentiment": {
            role: {part: asdict(s) for part, s in parts.items()}
            for role, parts in analysis.sentiment.items()
        },
    }
    conversation.status = ConversationStatus.ROUTED
    conversation.error_code = conversation.error_message = None
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.commit()
