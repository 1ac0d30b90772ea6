"""Upload conversations and read their analysis."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from sqlmodel import col, select

from api.auth import principal
from api.deps import CurrentKey, SessionDep, SettingsDep, WorkerDep, require_roles
from api.schemas.conversations import (
    ConversationAccepted,
    ConversationPublic,
    ConversationStatusPublic,
)
from api.schemas.errors import ErrorBody
from api.views import conversation_view, status_view
from core.errors import ErrorCode, HamsuError
from models.tables import (
    Conversation,
    ConversationStatus,
    Insight,
)
from pipeline.analyze import SNIFF_BYTES, AnalyzeOptions
from pipeline.jobs import submit
from pipeline.store import store_original, upload_limit
from routing.listening import awaiting_conversations, to_listen
from routing.queues_service import readable_conversation

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 415, 422)
}
UPLOADER = Depends(require_roles("uploader"))


@router.post(
    "",
    dependencies=[UPLOADER],
    status_code=202,
    response_model=ConversationAccepted,
    responses={
        **ERRORS,
        200: {"model": ConversationAccepted, "description": "the same file was uploaded before"},
    },
    summary="Upload a call recording, an email (.eml) or a chat transcript",
)
def upload_conversation(
    session: SessionDep,
    settings: SettingsDep,
    worker: WorkerDep,
    file: Annotated[UploadFile, File(description="audio, .eml, chat .json or .txt")],
    account: Annotated[str | None, Form(description="account name; created if new")] = None,
    account_id: Annotated[
        str | None,
        Form(
            description="link to this account: its id or external (CRM) id; wins over `account`",
            examples=["CRM-10442"],
        ),
    ] = None,
    phone: Annotated[
        str | None,
        Form(
            description="the caller's phone number (09…, +98…, +44…); links the conversation to "
            "the account that registered it when no account is named",
            examples=["+98 912 123 4567"],
        ),
    ] = None,
    language: Annotated[Literal["auto", "fa", "en"], Form()] = "auto",
    channel: Annotated[Literal["call", "email", "chat"] | None, Form()] = None,
    agent_channel: Annotated[
        int | None,
        Form(description="stereo calls: 0 = left, 1 = right channel is the agent (default 1)"),
    ] = None,
) -> Any:
    filename = file.filename or "upload"
    if agent_channel not in (None, 0, 1):
        raise HamsuError(ErrorCode.INVALID_OPTION, "agent_channel must be 0 (left) or 1 (right)")
    head = file.file.read(SNIFF_BYTES)
    file.file.seek(0)
    limit = upload_limit(settings=settings, head=head, filename=filename, channel=channel)
    stored = store_original(
        file.file, filename, settings.storage.data_dir, limit.max_bytes, limit=limit.label
    )
    options = AnalyzeOptions(
        language=None if language == "auto" else language,
        channel=channel,
        agent_channel=agent_channel,
        account=account,
        account_id=account_id,
        phone=phone,
    )
    conversation, created = submit(session, stored=stored, filename=filename, options=options)
    if created and conversation.status == ConversationStatus.FAILED:
        raise HamsuError(
            ErrorCode(conversation.error_code or ErrorCode.INTERNAL),
            conversation.error_message or "",
        ).with_details(conversation_id=conversation.id)
    worker.notify(conversation.id)
    body = ConversationAccepted(
        id=conversation.id,
        status=conversation.status,
        duplicate=not created,
        url=f"/v1/conversations/{conversation.id}",
    )
    return JSONResponse(body.model_dump(), status_code=202 if created else 200)


@router.get(
    "/{conversation_id}",
    response_model=ConversationPublic,
    responses=ERRORS,
    summary="The analysis: turns, insights with evidence, sentiment, routes",
)
def get_conversation(conversation_id: str, session: SessionDep, key: CurrentKey) -> Any:
    """Admins read every conversation; csm and sales those behind their queues' items."""
    return conversation_view(
        session,
        readable_conversation(session, conversation_id=conversation_id, actor=principal(key)),
    )


@router.get(
    "/{conversation_id}/status",
    response_model=ConversationStatusPublic,
    responses=ERRORS,
    summary="Processing status only (every role, uploaders included)",
)
def get_conversation_status(conversation_id: str, session: SessionDep, key: CurrentKey) -> Any:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"conversation {conversation_id} not found")
    return status_view(conversation)


@router.get(
    "/{conversation_id}/audio",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the call's original recording as uploaded; supports HTTP Range "
            "requests (206), so players can seek",
            "content": {"audio/*": {"example": "(binary audio)"}},
        },
        **ERRORS,
    },
    summary="A call's original audio, for players (same roles as the conversation)",
)
def get_conversation_audio(conversation_id: str, session: SessionDep, key: CurrentKey) -> Any:
    """404 for emails and chats, which have no audio."""
    conversation = readable_conversation(
        session, conversation_id=conversation_id, actor=principal(key)
    )
    path = Path(conversation.storage_path)
    if conversation.channel != "call" or not path.is_file():
        raise HamsuError(ErrorCode.NOT_FOUND, f"conversation {conversation_id} has no audio")
    media_type = mimetypes.guess_type(conversation.filename)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, content_disposition_type="inline")


@router.get(
    "",
    response_model=list[ConversationStatusPublic],
    responses=ERRORS,
    summary="Recent conversations and their status (admin); the to-listen list (csm, sales)",
)
def list_conversations(
    session: SessionDep,
    key: CurrentKey,
    status: Annotated[str | None, Query(description="filter by status")] = None,
    needs_listening: Annotated[
        bool | None,
        Query(
            description="true: only conversations with an insight held for listening that "
            "nobody has reviewed yet, oldest first (csm and sales may ask for these)"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    if needs_listening:
        require_roles("csm", "sales")(key)
        rows = to_listen(session, limit=limit)
        return [
            status_view(c, needs_listening=True) for c in rows if not status or c.status == status
        ]
    require_roles()(key)
    query = select(Conversation).order_by(col(Conversation.created_at).desc()).limit(limit)
    if status:
        query = query.where(Conversation.status == status)
    if needs_listening is False:
        query = query.where(~col(Conversation.id).in_(awaiting_conversations()))
    conversations = session.exec(query).all()
    awaiting = set(
        session.exec(
            awaiting_conversations().where(
                col(Insight.conversation_id).in_([c.id for c in conversations])
            )
        ).all()
    )
    return [status_view(c, needs_listening=c.id in awaiting) for c in conversations]
