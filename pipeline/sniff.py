"""Which channel a file belongs to, from its bytes first and its name second.

A PDF renamed `.wav` must fail with a message that says so, not with a decoder's stack trace.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import ErrorCode, HamsuError
from transcribe.types import Channel

AUDIO_EXTENSIONS = {
    ".wav",
    ".mp3",
    ".ogg",
    ".opus",
    ".oga",
    ".flac",
    ".m4a",
    ".aac",
    ".mp4",
    ".webm",
    ".mka",
    ".wma",
    ".amr",
    ".3gp",
}
EMAIL_EXTENSIONS = {".eml", ".msg"}
CHAT_EXTENSIONS = {".json", ".txt", ".jsonl", ".log"}
_EMAIL_HEADER = re.compile(
    rb"^(Return-Path|Received|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To|"
    rb"X-[\w-]+|Content-Type|Reply-To|Cc)\s*:",
    re.IGNORECASE | re.MULTILINE,
)

# magic bytes of files people upload by mistake
_NOT_SUPPORTED = [
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "an executable program"),
    (b"MZ", "a Windows executable"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
]


def _audio_magic(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3/aac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp":
        return "mp4/m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm/matroska"
    if head[:4] in (b"FORM", b"caff") or head[:6] == b"#!AMR\n":
        return "audio"
    return None


def sniff_channel(head: bytes, filename: str) -> Channel:
    """Decide the channel from the first bytes (≥ 64 KiB is plenty) and the file name."""
    ext = Path(filename).suffix.lower()
    named = f"named {ext}" if ext else "with no extension"
    if not head:
        raise HamsuError(ErrorCode.EMPTY_FILE, f"{filename or 'upload'} is empty (0 bytes)")
    for magic, what in _NOT_SUPPORTED:
        if head.startswith(magic):
            raise HamsuError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{filename} is {what} ({named}); upload call audio, an .eml email or a chat "
                "transcript (.json or .txt)",
            )
    if _audio_magic(head) or ext in AUDIO_EXTENSIONS:
        return "call"
    if ext in EMAIL_EXTENSIONS:
        return "email"
    text_head = head.lstrip(b"\xef\xbb\xbf")
    if ext in CHAT_EXTENSIONS or text_head[:1] in (b"{", b"["):
        return "chat"
    if len(_EMAIL_HEADER.findall(text_head[:8192])) >= 2:
        return "email"
    if _looks_like_text(text_head):
        return "chat"
    raise HamsuError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"{filename} ({named}) is not a recognised audio, email or chat file",
    )


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    sample = head[:4096]
    return b"\x00" not in sample and sum(b < 9 for b in sample) == 0
