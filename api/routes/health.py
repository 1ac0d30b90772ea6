from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import func, select

from api.deps import SessionDep
from api.schemas.conversations import Health
from models.tables import Conversation

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(session: SessionDep) -> dict[str, Any]:
    """Liveness plus how much work is waiting, by status."""
    rows = session.exec(
        select(Conversation.status, func.count()).group_by(Conversation.status)
    ).all()
    return {"status": "ok", "conversations": {status: n for status, n in rows}}
