"""One catalogue of errors, each with a stable code.

Every failure a user can see (CLI line, API body, a failed conversation's reason) comes from here,
so the same problem reads the same everywhere.
"""

from __future__ import annotations

import re
from enum import StrEnum


class ErrorCode(StrEnum):
    # input problems (HTTP 4xx, CLI exit 1)
    EMPTY_FILE = "E001_empty_file"
    UNSUPPORTED_FORMAT = "E002_unsupported_format"
    CORRUPT_AUDIO = "E003_corrupt_audio"
    NO_SPEECH = "E004_no_speech"
    MALFORMED_EMAIL = "E005_malformed_email"
    MALFORMED_CHAT = "E006_malformed_chat"
    BAD_ENCODING = "E007_bad_encoding"
    TOO_LARGE = "E008_too_large"
    EMPTY_TRANSCRIPT = "E009_empty_transcript"
    INVALID_OPTION = "E010_invalid_option"
    NOT_FOUND = "E011_not_found"
    UNAUTHORIZED = "E012_unauthorized"
    FORBIDDEN = "E013_forbidden"
    CONFLICT = "E014_conflict"
    INVALID_WEBHOOK_TARGET = "E015_invalid_webhook_target"
    AUDIO_TOO_LONG = "E016_audio_too_long"
    # a request the HTTP layer could not read (a broken multipart body), or a method a path lacks
    MALFORMED_REQUEST = "E017_malformed_request"
    METHOD_NOT_ALLOWED = "E018_method_not_allowed"
    # configuration and runtime problems (HTTP 5xx)
    MODEL_UNAVAILABLE = "E101_model_unavailable"
    BAD_RULES = "E102_bad_routing_rules"
    DATABASE_BUSY = "E103_database_busy"
    # the process died while working on the job, as many times as a job may be tried
    WORKER_LOST = "E104_worker_lost"
    INTERNAL = "E199_internal"


# The one HTTP status of each code: a code answers this status wherever it is raised (a route, a
# service, the request validation), so a client can branch on either and get the same answer.
_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.EMPTY_FILE: 400,
    ErrorCode.UNSUPPORTED_FORMAT: 415,
    ErrorCode.CORRUPT_AUDIO: 422,
    ErrorCode.NO_SPEECH: 422,
    ErrorCode.MALFORMED_EMAIL: 422,
    ErrorCode.MALFORMED_CHAT: 422,
    ErrorCode.BAD_ENCODING: 422,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.EMPTY_TRANSCRIPT: 422,
    ErrorCode.INVALID_OPTION: 422,  # a bad field, whether the request schema or a service saw it
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_WEBHOOK_TARGET: 422,
    ErrorCode.AUDIO_TOO_LONG: 413,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.MODEL_UNAVAILABLE: 503,
    ErrorCode.BAD_RULES: 500,
    ErrorCode.DATABASE_BUSY: 503,
    ErrorCode.WORKER_LOST: 500,
    ErrorCode.INTERNAL: 500,
}


class HamsuError(Exception):
    """An error a user should read: a code from the catalogue and a precise message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, object] = {}

    def with_details(self, **details: object) -> HamsuError:
        self.details.update(details)
        return self

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.code]

    @property
    def is_input_error(self) -> bool:
        return self.http_status < 500

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "message": self.message, "details": self.details}


# the code for a status the HTTP layer itself answers (no route, wrong method, unreadable body)
_FOR_HTTP_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.MALFORMED_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_FORMAT,
    422: ErrorCode.INVALID_OPTION,
    503: ErrorCode.DATABASE_BUSY,
}


def code_for_http_status(status: int) -> ErrorCode:
    """The catalogue code for an HTTP status; a status with no code of its own gets the generic
    one of its class (answer with that code's status, so code and status always agree)."""
    if status in _FOR_HTTP_STATUS:
        return _FOR_HTTP_STATUS[status]
    return ErrorCode.MALFORMED_REQUEST if status < 500 else ErrorCode.INTERNAL


# a filesystem path, absolute or relative (the data dir defaults to `var`): a run of characters
# holding a / or \, starting the text or after a space, quote, bracket or '='; URLs are kept
_PATH = re.compile(
    r"""(?<![^\s'"(\[=])(?![A-Za-z][A-Za-z0-9+.-]*://)[^\s'"()\[\],;]*[/\\][^\s'"()\[\],;]*"""
)


def redact_paths(text: str) -> str:
    """`text` with filesystem paths replaced by `<path>`: clients do not learn how the
    server lays out its disk (the log keeps the original)."""
    return _PATH.sub("<path>", text)


def internal_error(exc: BaseException) -> HamsuError:
    """E199 for an unexpected exception, its message without server paths; log `exc` itself."""
    return HamsuError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {redact_paths(str(exc))}")
