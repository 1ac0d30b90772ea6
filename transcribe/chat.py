"""Parse a chat log, JSON or a plain-text transcript, into a Transcript.

JSON: `{"channel": "chat", "messages": [{"from": "customer|agent", "text": "...", "time":
"ISO-8601"}]}` or a bare list of such messages; "time" and a "name" (the speaker label) are
optional, messages with empty text (attachments, stickers) are skipped.

Text: one message per line, `Agent: ...` / `Customer: ...` / `کارشناس: ...` / `مشتری: ...`,
optionally after a time (`[10:32]`, `10:32 -`, `[2025-03-12 10:32]`); lines without a prefix
continue the previous message and lines before the first prefix (a title) are ignored. Only a time
with a date can become `sent_at`; a bare clock time names no day and is dropped.

Consecutive messages of one speaker stay separate turns.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from datetime import datetime

from core.errors import ErrorCode, HamsuError
from transcribe.types import Role, Transcript, Turn

MAX_CHAT_BYTES = 5_000_000
MAX_CHAT_MESSAGES = 5_000

_ROLES: dict[str, Role] = {"agent": "agent", "customer": "customer"}
_TEXT_ROLES: dict[str, Role] = {
    "agent": "agent",
    "operator": "agent",
    "support": "agent",
    "کارشناس": "agent",
    "اپراتور": "agent",
    "پشتیبان": "agent",
    "پشتیبانی": "agent",
    "customer": "customer",
    "client": "customer",
    "مشتری": "customer",
}
# one-to-one substitutions used only for matching prefixes, so offsets into the original line
# stay valid: Persian/Arabic digits, Arabic yeh/kaf, bidi marks (as spaces)
_MATCHING = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩يكى\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff",
    "01234567890123456789یکی" + " " * 12,
)
_NAMES = "|".join(sorted(_TEXT_ROLES, key=len, reverse=True))
_PREFIX = re.compile(
    r"^\s*(?:\[?\s*(?P<time>(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2}(?::\d{2})?)\s*\]?\s*-?\s*)?"
    rf"(?P<name>{_NAMES})\s*[:：﹕∶꞉؛]\s?",
    re.IGNORECASE,
)
_FORMATS_HELP = (
    'expected JSON like {"messages": [{"from": "customer", "text": "...", "time": "..."}]} or '
    'text lines starting with "Agent:" / "Customer:" / "کارشناس:" / "مشتری:"'
)
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}


def parse_chat(data: bytes, *, filename: str = "") -> Transcript:
    """Parse a chat file; `filename` ending in .json forces the JSON reader."""
    what = f"'{filename}'" if filename else "the chat"
    if len(data) > MAX_CHAT_BYTES:
        raise HamsuError(
            ErrorCode.TOO_LARGE,
            f"{what} is {len(data) / 1e6:.1f} MB; the limit for a chat is "
            f"{MAX_CHAT_BYTES / 1e6:g} MB",
        ).with_details(size_bytes=len(data), limit_bytes=MAX_CHAT_BYTES)
    text = _decode(data, what)
    if not text.strip():
        raise HamsuError(ErrorCode.EMPTY_FILE, f"{what} is empty")
    # "[" opens JSON unless it opens a "[10:32]" time (Persian digits too) of a text transcript
    is_json = filename.lower().endswith(".json") or bool(
        re.match(r"\s*(?:\{|\[(?!\s*[0-9۰-۹٠-٩]))", text)
    )
    turns = _json_turns(text) if is_json else _text_turns(text)
    if not turns:
        raise HamsuError(ErrorCode.EMPTY_TRANSCRIPT, f"{what} has no message text")
    return Transcript(
        channel="chat",
        turns=turns,
        meta={"format": "json" if is_json else "text", "messages": len(turns)},
    )


def _decode(data: bytes, what: str) -> str:
    """Text from BOM-marked UTF-8/16/32, else UTF-8, UTF-16 without BOM, windows-1256."""
    # the UTF-32 little-endian mark begins like UTF-16's, so it is checked first
    for bom, codec, label in (
        (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
        (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise HamsuError(
                    ErrorCode.BAD_ENCODING,
                    f"{what} starts with a {label} byte-order mark but byte {exc.start} is not "
                    f"valid {label}",
                ) from exc
    codecs_to_try = ["utf-8", "windows-1256"]
    if b"\x00" in data:
        # UTF-16 without a BOM: ASCII characters come with a zero high byte, at odd offsets
        # little-endian and at even offsets big-endian; the other order also decodes (into
        # CJK), so the side the zeros are on picks the byte order
        sample = data[:4096]
        little = sample[1::2].count(0) >= sample[0::2].count(0)
        codecs_to_try[1:1] = ["utf-16-le", "utf-16-be"] if little else ["utf-16-be", "utf-16-le"]
    for codec in codecs_to_try:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _readable(text):
            return text
    raise HamsuError(
        ErrorCode.BAD_ENCODING,
        f"{what} is not text in UTF-8, UTF-16 or windows-1256 (binary data?)",
    )


def _readable(text: str) -> bool:
    """False when a decode produced control characters: binary data or the wrong codec."""
    bad = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    return bad * 100 <= len(text)


def _json_turns(text: str) -> list[Turn]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HamsuError(
            ErrorCode.MALFORMED_CHAT,
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
        ).with_details(line=exc.lineno, column=exc.colno) from exc
    if isinstance(doc, dict):
        channel = doc.get("channel", "chat")
        if channel != "chat":
            raise HamsuError(ErrorCode.MALFORMED_CHAT, f"'channel' must be 'chat', got {channel!r}")
        if "messages" not in doc:
            keys = ", ".join(map(repr, doc)) or "none"
            raise HamsuError(
                ErrorCode.MALFORMED_CHAT, f"JSON chat has no 'messages' list (its keys: {keys})"
            )
        messages = doc["messages"]
    elif isinstance(doc, list):
        messages = doc
    else:
        raise HamsuError(
            ErrorCode.MALFORMED_CHAT,
            f"a JSON chat must be an object with 'messages' or a list of messages, got "
            f"{_json_type(doc)}",
        )
    if not isinstance(messages, list):
        raise HamsuError(
            ErrorCode.MALFORMED_CHAT,
            f"'messages' must be a list of messages, got {_json_type(messages)}",
        )
    _check_count(len(messages))
    return [turn for n, item in enumerate(messages, 1) if (turn := _json_turn(n, item))]


def _json_turn(n: int, item: object) -> Turn | None:
    """One validated message; None when its text is empty."""
    if not isinstance(item, dict):
        raise _message_error(n, f" must be an object, got {_json_type(item)}")
    for key in ("from", "text"):
        if key not in item:
            raise _message_error(n, f" has no '{key}'")
    sender = item["from"]
    role = _ROLES.get(sender.strip().lower()) if isinstance(sender, str) else None
    if role is None:
        raise _message_error(n, f": 'from' must be customer or agent, got {sender!r}")
    text = item["text"]
    if not isinstance(text, str):
        raise _message_error(n, f": 'text' must be a string, got {_json_type(text)}")
    if not text.strip():
        return None
    name = item.get("name")
    return Turn(
        speaker=role,
        text=text.strip(),
        speaker_label=name.strip() if isinstance(name, str) and name.strip() else role,
        sent_at=_json_time(n, item.get("time")),
    )


def _json_time(n: int, value: object) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return datetime.fromisoformat(value.strip())
    except ValueError:
        pass
    raise _message_error(
        n, f": 'time' must be an ISO-8601 date-time like 2025-03-12T10:32:00Z, got {value!r}"
    )


def _message_error(n: int, problem: str) -> HamsuError:
    """A MALFORMED_CHAT error about the n-th (1-based) JSON message."""
    return HamsuError(ErrorCode.MALFORMED_CHAT, f"message {n}{problem}").with_details(message=n)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def speaker_role(name: str) -> Role | None:
    """The role a speaker label names ("Agent", "operator", "کارشناس", "مشتری", ...), if any."""
    return _TEXT_ROLES.get(name.translate(_MATCHING).strip().lower())


def split_speaker_prefix(line: str) -> tuple[Role | None, str]:
    """("agent", "text") for a line like "Agent: text" or "[10:32] کارشناس: text"; (None, line)
    for a line without a speaker prefix."""
    prefixed = _prefixed(line)
    return (None, line) if prefixed is None else prefixed[:2]


def _prefixed(line: str) -> tuple[Role, str, str | None] | None:
    """(role, text after the prefix, prefix time) of a line with a speaker prefix."""
    match = _PREFIX.match(line.translate(_MATCHING))
    if not match:
        return None
    return _TEXT_ROLES[match["name"].lower()], line[match.end() :].strip(), match["time"]


def _text_turns(text: str) -> list[Turn]:
    """Turns from "Agent: ..." / "مشتری: ..." lines; unprefixed lines continue the last one."""
    turns: list[Turn] = []
    for line in text.splitlines():
        prefixed = _prefixed(line)
        if prefixed:
            role, message, time = prefixed
            _check_count(len(turns) + 1)
            turns.append(
                Turn(speaker=role, text=message, speaker_label=role, sent_at=_clock_time(time))
            )
        elif turns:
            turns[-1].text = f"{turns[-1].text}\n{line.strip()}"
    if not turns:
        raise HamsuError(ErrorCode.MALFORMED_CHAT, f"no chat messages found; {_FORMATS_HELP}")
    for turn in turns:
        turn.text = turn.text.strip()
    return [turn for turn in turns if turn.text]


def _clock_time(value: str | None) -> datetime | None:
    """A prefix time with a date becomes a datetime; a bare clock time names no day."""
    if not value or len(value) <= len("00:00:00"):
        return None
    return datetime.fromisoformat(value)


def _check_count(count: int) -> None:
    if count > MAX_CHAT_MESSAGES:
        raise HamsuError(
            ErrorCode.TOO_LARGE,
            f"the chat has more than {MAX_CHAT_MESSAGES:,} messages, the limit for one chat; "
            "split it into several files",
        ).with_details(limit_messages=MAX_CHAT_MESSAGES)
