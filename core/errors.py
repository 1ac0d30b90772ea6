"""One catalogue of errors, each with a stable code.

Every failure a user can see (CLI line, API body, a failed conversation's reason) comes from here,
so the same problem reads the same everywhere.
"""

from __future__ import annotations

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
    # configuration and runtime problems (HTTP 5xx)
    MODEL_UNAVAILABLE = "E101_model_unavailable"
    BAD_RULES = "E102_bad_routing_rules"
    DATABASE_BUSY = "E103_database_busy"
    INTERNAL = "E199_internal"


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
    ErrorCode.INVALID_OPTION: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_WEBHOOK_TARGET: 422,
    ErrorCode.MODEL_UNAVAILABLE: 503,
    ErrorCode.BAD_RULES: 500,
    ErrorCode.DATABASE_BUSY: 503,
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
