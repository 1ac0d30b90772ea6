"""What every page of the review desk shares: who is signed in, rendering, the error page.

Sign-in stores the API key in an HttpOnly cookie (`hamsu_key`). `DeskUser`, the desk's one
page-auth dependency, reads it on every page and form post: without a valid key the answer is
the redirect to sign-in (back to the page afterwards); with a role the page does not serve, the
403 page. Desk routes use `DeskRoute`, which turns those answers, and any `HamsuError` a page
raises, into HTML (the JSON routes answer errors with the JSON envelope instead).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from api.auth import ROLES, can_see_queue
from api.deps import SessionDep, SettingsDep, key_for
from api.ui import TEMPLATES_DIR
from api.ui.i18n import LANG_COOKIE, pick_lang, translator
from api.ui.jalali import format_date, format_short, to_persian_digits
from core.errors import ErrorCode, HamsuError
from models.tables import ApiKey, aware

M = TypeVar("M", bound=BaseModel)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

KEY_COOKIE = "hamsu_key"
QUEUES = ("cs", "sales")
# the roles that work the desk's queues, conversations, dashboard and accounts
DESK_ROLES = ("admin", "csm", "sales")
# dates show in Tehran time in Persian and in UTC in English (the footer says which)
ZONES = {"fa": ZoneInfo("Asia/Tehran"), "en": UTC}


# ---------------------------------------------------------------------------------------------
# rendering


def page_lang(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE))


def date_filters(lang: str):  # type: ignore[no-untyped-def]
    zone = ZONES[lang]

    def _parse(value: Any) -> datetime | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return aware(value).astimezone(zone)  # type: ignore[union-attr]

    def when(value: Any, with_time: bool = True) -> str:
        parsed = _parse(value)
        return format_date(parsed, lang, with_time=with_time) if parsed else ""

    def short(value: Any) -> str:
        parsed = _parse(value)
        return format_short(parsed, lang) if parsed else ""

    def num(value: Any, digits: int | None = None) -> str:
        if value is None:
            return ""
        text = f"{value:.{digits}f}" if digits is not None else str(value)
        return to_persian_digits(text) if lang == "fa" else text

    def clock(seconds: float | None) -> str:
        if seconds is None:
            return ""
        whole = int(seconds)
        text = f"{whole // 60}:{whole % 60:02d}"
        return to_persian_digits(text) if lang == "fa" else text

    return when, short, num, clock


def render(
    request: Request,
    name: str,
    key: ApiKey | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = page_lang(request)
    when, short, num, clock = date_filters(lang)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "dir": "rtl" if lang == "fa" else "ltr",
            "other_lang": "en" if lang == "fa" else "fa",
            "t": translator(lang),
            "when": when,
            "short": short,
            "num": num,
            "clock": clock,
            "key": key,
            "queues": [q for q in QUEUES if key and can_see_queue(key, q)],
            "here": _here(request),
            "zone": "Asia/Tehran" if lang == "fa" else "UTC",
            **context,
        },
        status_code=status_code,
    )
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, key: ApiKey | None, exc: HamsuError) -> HTMLResponse:
    return render(
        request, "error.html", key, status_code=exc.http_status, message=exc.message, error=exc
    )


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse("/login?" + urlencode({"next": _here(request)}), status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def form(model: type[M], **values: Any) -> M:
    """A request model built from form fields; a refused value is an INVALID_OPTION page."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise HamsuError(ErrorCode.INVALID_OPTION, str(exc)) from exc


# ---------------------------------------------------------------------------------------------
# who is signed in


class DeskExit(Exception):
    """A dependency's answer in place of the page (the sign-in redirect, the 403 page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class DeskRoute(APIRoute):
    """A desk route: a `DeskExit` answers with its response, a `HamsuError` with the error page
    (after rolling back what the page had changed)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except DeskExit as exit_:
                return exit_.response
            except HamsuError as exc:
                return await run_in_threadpool(_failed, request, exc)

        return route


def _failed(request: Request, exc: HamsuError) -> Response:
    session = getattr(request.state, "desk_session", None)
    if session is not None:
        session.rollback()
    return error_page(request, getattr(request.state, "desk_key", None), exc)


def signed_in(request: Request, session: SessionDep, settings: SettingsDep) -> ApiKey | None:
    """The key in the sign-in cookie, if it is valid (an admin stand-in with auth disabled)."""
    return key_for(session, settings, request.cookies.get(KEY_COOKIE))


SignedIn = Annotated[ApiKey | None, Depends(signed_in)]


class DeskAccess:
    """The page-auth dependency: the signed-in key if its role is one of `roles`; otherwise the
    sign-in redirect (no valid key) or the 403 page (another role)."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    def __call__(self, request: Request, session: SessionDep, key: SignedIn) -> ApiKey:
        if key is None:
            raise DeskExit(to_login(request))
        request.state.desk_key = key
        request.state.desk_session = session
        if key.role not in self.roles:
            allowed = ", ".join(self.roles)
            denied = HamsuError(
                ErrorCode.FORBIDDEN, f"role {key.role!r} may not do this; allowed: {allowed}"
            )
            raise DeskExit(error_page(request, key, denied))
        return key


# every desk page and form post; /upload alone serves every role
DeskUser = Annotated[ApiKey, Depends(DeskAccess(*DESK_ROLES))]
AnyDeskUser = Annotated[ApiKey, Depends(DeskAccess(*ROLES))]
