"""API keys and roles. Only a SHA-256 of each key is stored; the key itself is shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from core.errors import ErrorCode, HamsuError
from models.tables import ApiKey, aware, utcnow
from routing.queues_service import Principal

ROLES = ("admin", "uploader", "csm", "sales")
# which queues each role works; admin sees every queue
QUEUE_ACCESS: dict[str, frozenset[str]] = {
    "csm": frozenset({"cs"}),
    "sales": frozenset({"sales"}),
    "uploader": frozenset(),
}
PREFIX_LENGTH = 12
# `last_used_at` answers "is this key still in use?", so minutes are precise enough; writing it on
# every request would turn each read into a write that waits for (or fails behind) other writers
LAST_USED_EVERY = timedelta(minutes=5)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, *, name: str, role: str) -> tuple[ApiKey, str]:
    if role not in ROLES:
        raise HamsuError(
            ErrorCode.INVALID_OPTION, f"role must be one of {', '.join(ROLES)}; got {role!r}"
        )
    plaintext = "hk_" + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, prefix=plaintext[:PREFIX_LENGTH], key_hash=_hash(plaintext))
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, plaintext


def authenticate(session: Session, presented: str) -> ApiKey | None:
    candidates = session.exec(
        select(ApiKey)
        .where(ApiKey.prefix == presented[:PREFIX_LENGTH])
        .where(col(ApiKey.revoked_at).is_(None))
    ).all()
    digest = _hash(presented)
    for row in candidates:
        if hmac.compare_digest(row.key_hash, digest):
            _touch(session, row)
            return row
    return None


def _touch(session: Session, row: ApiKey) -> None:
    """Record the use, at most once per LAST_USED_EVERY for a key."""
    now = utcnow()
    last = aware(row.last_used_at)
    if last is not None and now - last < LAST_USED_EVERY:
        return
    row.last_used_at = now
    session.add(row)
    session.commit()


def can_see_queue(key: ApiKey, queue: str) -> bool:
    return principal(key).may_see(queue)


def principal(key: ApiKey) -> Principal:
    """The key as the queue and review services see their caller: name, role, its queues."""
    return Principal(name=key.name, role=key.role, queues=QUEUE_ACCESS.get(key.role, frozenset()))


def bootstrap_admin_key(session: Session, data_dir: Path) -> str | None:
    """A first admin key when none exists, written to <data_dir>/admin-key.txt (mode 600)."""
    if session.exec(select(ApiKey.id).limit(1)).first() is not None:
        return None
    _, plaintext = create_key(session, name="bootstrap-admin", role="admin")
    path = data_dir / "admin-key.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plaintext + "\n", encoding="utf-8")
    path.chmod(0o600)
    return plaintext
