"""Which channel a file belongs to, from its bytes first and its name second.

A PDF renamed `.wav` must fail with a message that says so, not with a decoder's stack trace.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
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
    # a byte-order mark is read before the audio magic: the UTF-16LE mark FF FE is also a valid
    # MPEG frame header, and a chat saved as "Unicode" by Notepad starts with it
    wide = _bom_text(head)
    if ext in AUDIO_EXTENSIONS or (wide is None and _audio_magic(head)):
        return "call"
    if ext in EMAIL_EXTENSIONS:
        return "email"
    if wide is None:
        wide = _bomless_utf16(head)
    text_head = wide.encode() if wide is not None else head.lstrip(b"\xef\xbb\xbf")
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


# the UTF-32LE mark begins like UTF-16LE's, so the UTF-32 marks are tried first
_TEXT_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TEXT_SAMPLE = 4096


def _bom_text(head: bytes) -> str | None:
    """The head as text when it starts with a UTF-16/UTF-32 byte-order mark and reads as text."""
    for bom, codec in _TEXT_BOMS:
        if head.startswith(bom):
            return _decoded(head, codec)
    return None


def _bomless_utf16(head: bytes) -> str | None:
    """The head as text when it is UTF-16 without a mark: English and Persian text has spaces,
    digits and punctuation, whose high byte is zero, so zeros gather on one side of each pair
    (odd offsets little-endian, even offsets big-endian). Binary data rarely decodes into
    Latin and Arabic script, so that is required too."""
    sample = head[:_TEXT_SAMPLE]
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if max(odd, even) * 10 < len(sample) // 2 or min(odd, even) * 4 > max(odd, even):
        return None
    text = _decoded(head, "utf-16-le" if odd > even else "utf-16-be")
    if not text:
        return None
    known = sum(1 for ch in text if _latin_or_arabic(ch))
    return text if known * 10 >= len(text) * 9 else None


def _latin_or_arabic(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x250
        or 0x600 <= code <= 0x6FF
        or 0x2000 <= code <= 0x206F
        or 0xFB50 <= code <= 0xFEFF
    )


def _decoded(head: bytes, codec: str) -> str | None:
    """The first characters of `head` in `codec`, or None when they are not text; the head is a
    cut prefix of the file, so a character split at its end is not an error."""
    try:
        text = codecs.getincrementaldecoder(codec)().decode(head[:_TEXT_SAMPLE], final=False)
    except UnicodeDecodeError:
        return None
    bad = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    return text if bad * 100 <= len(text) else None


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    return b"\x00" not in sample and sum(b < 9 for b in sample) == 0
