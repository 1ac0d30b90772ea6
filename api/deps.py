"""FastAPI dependencies: settings, a database session per request, the worker, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.auth import authenticate, principal
from core.errors import ErrorCode, HamsuError
from core.settings import Settings
from models.db import get_engine
from models.tables import ApiKey
from pipeline.worker import JobRunner
from routing.queues_service import Principal


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with Session(get_engine(settings.database_url)) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_worker(request: Request) -> JobRunner:
    return request.app.state.worker  # type: ignore[no-any-return]


WorkerDep = Annotated[JobRunner, Depends(get_worker)]


_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer hk_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or `X-API-Key: hk_...`")


def key_for(session: Session, settings: Settings, presented: str | None) -> ApiKey | None:
    """The active key `presented` is (None when missing, wrong or revoked); with auth
    disabled, an admin stand-in whatever was presented."""
    if not settings.auth.enabled:
        return ApiKey(name="auth-disabled", role="admin", prefix="", key_hash="")
    return authenticate(session, presented) if presented else None


def current_key(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    header: Annotated[str | None, Security(_header)] = None,
) -> ApiKey:
    presented = (
        (bearer.credentials if bearer else None) or header or request.cookies.get("hamsu_key")
    )
    key = key_for(session, settings, presented)
    if key is None and not presented:
        raise HamsuError(
            ErrorCode.UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'",
        )
    if key is None:
        raise HamsuError(ErrorCode.UNAUTHORIZED, "invalid or revoked API key")
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def require_roles(*roles: str):  # type: ignore[no-untyped-def]
    """A dependency that lets admins and the given roles through, and answers 403 to others."""

    def check(key: CurrentKey) -> ApiKey:
        if key.role != "admin" and key.role not in roles:
            allowed = ", ".join(("admin", *roles))
            raise HamsuError(
                ErrorCode.FORBIDDEN, f"role {key.role!r} may not do this; allowed: {allowed}"
            )
        return key

    return check


AdminKey = Annotated[ApiKey, Depends(require_roles())]


# admin, csm or sales: the roles that work queues and review insights
WorkerKey = Annotated[ApiKey, Depends(require_roles("csm", "sales"))]


def current_principal(key: CurrentKey) -> Principal:
    return principal(key)


def worker_principal(key: WorkerKey) -> Principal:
    return principal(key)


# the caller as the queue and review services take it (`routing.queues_service.Principal`):
# any role (the services check its queues), or a worker
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
WorkerPrincipal = Annotated[Principal, Depends(worker_principal)]
