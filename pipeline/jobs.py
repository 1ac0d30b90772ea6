"""Conversations as jobs: submit an upload, process it, store what it produced.

The conversation row is the job. Its status moves queued → transcribing → analyzing → routed, or to
failed with a code and a message. Processing is idempotent (a rerun replaces the rows it wrote), so
a worker that died mid-job simply runs it again after a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from core.errors import ErrorCode, HamsuError, internal_error
from core.metrics import STAGE_SECONDS
from core.settings import Settings
from models.tables import (
    Account,
    Conversation,
    ConversationStatus,
    Insight,
    QueueItem,
    QueueItemEvent,
    QueueItemInsight,
    Turn,
    utcnow,
)
from pipeline.accounts import link_account, link_chat_file, resolve_upload_account, upload_phone
from pipeline.analyze import (
    AnalyzeOptions,
    Result,
    analyze_transcript,
    check_options,
    decide_routes,
    detect_channel,
    route_json,
    run,
    sentiment_json,
    transcribe_file,
)
from pipeline.store import StoredFile
from routing.engine import NO_TIER, load_rules
from routing.queue import open_items
from transcribe.types import jsonable_meta, transcript_from_json, transcript_to_json

log = logging.getLogger("hamsu.jobs")
MAX_ATTEMPTS = 3


def submit(
    session: Session,
    *,
    stored: StoredFile,
    filename: str,
    options: AnalyzeOptions,
) -> tuple[Conversation, bool]:
    """Create the conversation for a stored upload; True when it is accepted as new work.

    The same bytes again return the first conversation (False), unless that one failed: uploading
    it again is the retry, so the same conversation (same id) goes back to the queue with this
    upload's name and options, its attempts and error cleared (True).

    Files that cannot be any channel fail here, so the uploader hears it at once; the row is kept,
    marked failed with the reason.

    The account: `options.account_id` (an id or external id; unknown → NOT_FOUND), else
    `options.account` (a name, created if new), else the caller's `options.phone` registered on
    an account; for JSON chats still without one, the customer's email domain and then phone
    numbers in the chat's metadata. Emails and calls left without one are linked by email
    domain once parsed (`save_result`).
    """
    try:
        return _submit(session, stored=stored, filename=filename, options=options)
    except IntegrityError:
        # simultaneous uploads of the same bytes (or naming the same new account) all read "not
        # there yet"; the first insert wins and the others break a unique constraint. A second
        # pass finds the winner's rows, so a loser answers like any duplicate, never 500.
        session.rollback()
        return _submit(session, stored=stored, filename=filename, options=options)


def _submit(
    session: Session,
    *,
    stored: StoredFile,
    filename: str,
    options: AnalyzeOptions,
) -> tuple[Conversation, bool]:
    phone = upload_phone(options.phone)
    # an unknown explicit account is refused even for a file uploaded before
    explicit = resolve_upload_account(session, account_id=options.account_id, name=None, phone=None)
    existing = session.exec(
        select(Conversation).where(Conversation.sha256 == stored.sha256)
    ).first()
    if existing is not None and existing.status != ConversationStatus.FAILED:
        return existing, False
    check_options(options)
    account = explicit or resolve_upload_account(
        session, account_id=None, name=options.account, phone=phone
    )
    conversation = Conversation(
        filename=filename,
        sha256=stored.sha256,
        size_bytes=stored.size,
        storage_path=str(stored.path),
        requested_language=options.language or "auto",
        agent_channel=options.agent_channel,
        account_id=account.id if account else existing.account_id if existing else None,
        caller_phone=phone,
    )
    if existing is not None:
        # a retry keeps its id (URLs and ids handed out stay valid) and takes everything else
        # fresh: queued, 0 attempts, no error, the channel sniffed again (the uploader may have
        # forced one, or renamed the file so its extension picks the right parser)
        existing.sqlmodel_update(conversation.model_dump(exclude={"id", "created_at"}))
        conversation = existing
    try:
        conversation.channel = options.channel or detect_channel(stored.path, filename)
    except HamsuError as exc:
        _mark_failed(conversation, exc)
    if conversation.account_id is None and conversation.channel == "chat":
        account = link_chat_file(session, stored.path, filename)
        conversation.account_id = account.id if account else None
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
    """After a restart nothing is running: what was in flight goes back to the queue, unless it
    has already been tried `MAX_ATTEMPTS` times (a file that kills the process would otherwise
    crash-loop the service at every restart): that one fails with its reason. Returns how many
    were requeued."""
    in_flight = col(Conversation.status).in_(
        [ConversationStatus.TRANSCRIBING, ConversationStatus.ANALYZING]
    )
    worn_out = session.exec(
        select(Conversation).where(in_flight).where(Conversation.attempts >= MAX_ATTEMPTS)
    ).all()
    for conversation in worn_out:
        _mark_failed(
            conversation,
            HamsuError(
                ErrorCode.WORKER_LOST,
                f"the worker stopped while processing this conversation {conversation.attempts} "
                "times; it is not tried again (upload the file again to retry)",
            ),
        )
        session.add(conversation)
    result = session.execute(
        update(Conversation)
        .where(in_flight)
        .where(col(Conversation.attempts) < MAX_ATTEMPTS)
        .values(status=ConversationStatus.QUEUED, updated_at=utcnow())
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def _options(session: Session, conversation: Conversation) -> AnalyzeOptions:
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return AnalyzeOptions(
        language=None
        if conversation.requested_language == "auto"
        else conversation.requested_language,
        channel=conversation.channel or None,  # type: ignore[arg-type]
        agent_channel=conversation.agent_channel,
        account=account.name if account else None,
    )


def _job(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"conversation {conversation_id} not found")
    return conversation


def _guarded(
    session: Session, conversation_id: str, work: Callable[[], None], *, stage: str
) -> None:
    """Run one stage, timed; a failure is recorded on the conversation (retried while attempts
    last, unless the input itself is bad), never raised to the worker loop."""
    try:
        with STAGE_SECONDS.labels(stage).time():
            work()
    except HamsuError as exc:
        _after_failure(session, conversation_id, exc, retry=not exc.is_input_error)
    except Exception as exc:  # a bug or a resource problem: retry, then give up loudly
        # the log keeps the whole exception; the reason clients read has no server paths
        log.exception(
            "conversation %s failed unexpectedly",
            conversation_id,
            extra={"conversation_id": conversation_id},
        )
        _after_failure(session, conversation_id, internal_error(exc), retry=True)


def _set_status(session: Session, conversation: Conversation, status: str) -> None:
    conversation.status = status
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.commit()


def process(session: Session, conversation_id: str, settings: Settings) -> Conversation:
    """Both stages in one go (the embedded worker)."""
    conversation = _job(session, conversation_id)

    def progress(stage: str, fraction: float) -> None:
        if stage == "analyzing" and conversation.status != ConversationStatus.ANALYZING:
            _set_status(session, conversation, ConversationStatus.ANALYZING)

    def work() -> None:
        result = run(
            Path(conversation.storage_path),
            settings=settings,
            options=_options(session, conversation),
            filename=conversation.filename,
            progress=progress,
        )
        save_result(session, conversation, result, settings)

    _guarded(session, conversation_id, work, stage="whole")
    return conversation


def claim(session: Session, conversation_id: str, *, take_over: bool = False) -> bool:
    """Atomically move this conversation from queued (or, with `take_over`, from a stage whose
    worker was lost) to transcribing, counting the attempt; False when it is not there (another
    worker has it, or it is done)."""
    statuses = [ConversationStatus.QUEUED]
    if take_over:
        statuses += [ConversationStatus.TRANSCRIBING, ConversationStatus.ANALYZING]
    claimed = session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .where(col(Conversation.status).in_(statuses))
        .where(col(Conversation.attempts) < MAX_ATTEMPTS)
        .values(
            status=ConversationStatus.TRANSCRIBING,
            attempts=Conversation.attempts + 1,
            updated_at=utcnow(),
        )
    )
    session.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def transcribe_stage(session: Session, conversation_id: str, settings: Settings) -> bool:
    """The first of two stages (Celery): the file as turns, kept on the conversation for the
    analyze stage, which may run on another machine. True when analysis is due."""
    conversation = _job(session, conversation_id)

    def work() -> None:
        transcript = transcribe_file(
            Path(conversation.storage_path),
            settings=settings,
            options=_options(session, conversation),
            filename=conversation.filename,
        )
        conversation.details = {
            **conversation.details,
            "transcript": transcript_to_json(transcript),
        }
        _set_status(session, conversation, ConversationStatus.ANALYZING)

    _guarded(session, conversation_id, work, stage="transcribe")
    session.refresh(conversation)
    return conversation.status == ConversationStatus.ANALYZING


def analyze_stage(session: Session, conversation_id: str, settings: Settings) -> None:
    """The second stage (Celery): insights and routes from the stored transcript; nothing when
    the conversation is not waiting for it (a duplicate delivery)."""
    conversation = _job(session, conversation_id)
    stored = conversation.details.get("transcript")
    if conversation.status != ConversationStatus.ANALYZING or stored is None:
        return

    def work() -> None:
        result = analyze_transcript(transcript_from_json(stored), settings=settings)
        save_result(session, conversation, result, settings)

    _guarded(session, conversation_id, work, stage="analyze")


def _aware(value: datetime | None) -> datetime | None:
    """UTC for the database: zoned times are converted, times without a zone (chat clocks) are
    taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _after_failure(session: Session, conversation_id: str, exc: HamsuError, *, retry: bool) -> None:
    """Undo the half-written attempt; requeue a retryable failure until attempts run out."""
    session.rollback()
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    if retry and conversation.attempts < MAX_ATTEMPTS:
        log.warning(
            "conversation %s: %s; will retry",
            conversation_id,
            exc,
            extra={"conversation_id": conversation_id},
        )
        conversation.status = ConversationStatus.QUEUED
        conversation.updated_at = utcnow()
    else:
        _mark_failed(conversation, exc)
    session.add(conversation)
    session.commit()


def _forget_attempt(session: Session, conversation_id: str) -> None:
    """Remove what an earlier, interrupted attempt stored for this conversation."""
    insight_ids = session.exec(
        select(Insight.id).where(Insight.conversation_id == conversation_id)
    ).all()
    if insight_ids:
        session.exec(
            delete(QueueItemInsight).where(  # type: ignore[call-overload]
                col(QueueItemInsight.insight_id).in_(insight_ids)
            )
        )
    orphans = session.exec(
        select(QueueItem.id)
        .where(QueueItem.conversation_id == conversation_id)
        .where(~col(QueueItem.id).in_(select(QueueItemInsight.item_id)))
    ).all()
    if orphans:
        session.exec(
            delete(QueueItemEvent).where(  # type: ignore[call-overload]
                col(QueueItemEvent.item_id).in_(orphans)
            )
        )
        session.exec(delete(QueueItem).where(col(QueueItem.id).in_(orphans)))  # type: ignore[call-overload]
    for table in (Insight, Turn):
        session.exec(delete(table).where(col(table.conversation_id) == conversation_id))  # type: ignore[call-overload]


def save_result(
    session: Session, conversation: Conversation, result: Result, settings: Settings
) -> None:
    """Store turns and insights, route them to queue items, mark the conversation routed; all in
    one transaction, so a crash leaves either nothing or everything."""
    cid = conversation.id
    _forget_attempt(session, cid)
    transcript, analysis = result.transcript, result.analysis
    conversation.language = transcript.language
    conversation.channel = transcript.channel
    conversation.duration_s = transcript.duration_s
    if conversation.account_id is None:
        account = link_account(session, transcript)
        conversation.account_id = account.id if account else None
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
                sent_at=_aware(turn.sent_at),
                confidence=turn.confidence,
                sentiment_label=sentiment.label,
                sentiment_score=sentiment.score,
                sentiment_polarity=sentiment.polarity,
            )
        )
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    result = decide_routes(result, settings=settings, tier=account.tier if account else NO_TIER)
    rows = []
    for i, insight in enumerate(analysis.insights):
        data: dict[str, Any] = asdict(insight)
        span = data.pop("span")
        rows.append(
            Insight(conversation_id=cid, index=i, span_start=span[0], span_end=span[1], **data)
        )
    session.add_all(rows)
    session.flush()
    decided = sorted(
        (
            (index, rows[index], decision)
            for route in result.routes
            for index, decision in zip(route.insights, route.decisions, strict=True)
        ),
        key=lambda row: row[0],
    )
    items = open_items(
        session,
        conversation,
        [(insight, decision) for _, insight, decision in decided],
        window_hours=load_rules(settings.routing.rules_path).dedupe_window_hours,
    )
    conversation.details = {
        "meta": jsonable_meta(transcript.meta),
        "sentiment": sentiment_json(analysis),
        "routes": [
            {
                **route_json(route),
                "queue_items": sorted({item.id for item in items if item.queue == route.queue}),
            }
            for route in result.routes
        ],
    }
    conversation.status = ConversationStatus.ROUTED
    conversation.error_code = conversation.error_message = None
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.commit()
