"""The untouched original of every upload, content-addressed by sha256, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import ErrorCode, HamsuError
from core.settings import Settings
from pipeline.sniff import sniff_channel
from transcribe.chat import MAX_CHAT_BYTES
from transcribe.types import Channel

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    path: Path
    size: int


@dataclass(frozen=True)
class SizeLimit:
    max_bytes: int
    # how an error names it: "the 5 MB limit for a chat"
    label: str


def size_limit(*, settings: Settings, channel: Channel | None) -> SizeLimit:
    """The most bytes a file of `channel` may have: the upload limit, or a chat's or an email's
    own limit when that is lower; None (not known) gets the upload limit."""
    upload_mb = settings.storage.max_upload_mb
    limits = [SizeLimit(upload_mb << 20, f"the {upload_mb} MB upload limit")]
    if channel == "chat":
        limits.append(
            SizeLimit(MAX_CHAT_BYTES, f"the {MAX_CHAT_BYTES / 1e6:g} MB limit for a chat")
        )
    elif channel == "email":
        email_mb = settings.email.max_mb
        limits.append(SizeLimit(email_mb << 20, f"the {email_mb} MB limit for an email"))
    return min(limits, key=lambda limit: limit.max_bytes)


def upload_limit(
    *, settings: Settings, head: bytes, filename: str, channel: Channel | None
) -> SizeLimit:
    """The limit for an upload, by its forced `channel` or else by sniffing its first bytes, so a
    60 MB chat is refused before it is stored rather than failing in the worker. A file that no
    channel fits gets the upload limit: it is stored and kept as failed, with the reason."""
    if channel is None:
        try:
            channel = sniff_channel(head, filename)
        except HamsuError:
            channel = None
    return size_limit(settings=settings, channel=channel)


def store_original(
    stream: BinaryIO, filename: str, root: Path, max_bytes: int, *, limit: str = ""
) -> StoredFile:
    """Copy `stream` under `root/uploads/`, hashing as it goes; never overwrite an original.

    Over `max_bytes` (named by `limit` in the message) is TOO_LARGE and 0 bytes is EMPTY_FILE;
    either way nothing is left in storage.
    """
    uploads = root / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=uploads, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(CHUNK):
                size += len(block)
                if size > max_bytes:
                    raise HamsuError(
                        ErrorCode.TOO_LARGE,
                        f"{filename} is larger than "
                        f"{limit or f'the {max_bytes >> 20} MB upload limit'}",
                    ).with_details(limit_bytes=max_bytes)
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            # refused here, where the temporary file is removed, so no empty original is kept
            raise HamsuError(ErrorCode.EMPTY_FILE, f"{filename} is empty (0 bytes)")
        sha = digest.hexdigest()
        suffix = "".join(c for c in Path(filename).suffix.lower() if c.isalnum() or c == ".")[:10]
        final = uploads / sha[:2] / f"{sha}{suffix}"
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            tmp.unlink()
        else:
            tmp.replace(final)
        return StoredFile(sha, final, size)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
