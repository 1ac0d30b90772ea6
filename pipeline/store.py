"""The untouched original of every upload, content-addressed by sha256, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import ErrorCode, HamsuError

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    path: Path
    size: int


def store_original(stream: BinaryIO, filename: str, root: Path, max_bytes: int) -> StoredFile:
    """Copy `stream` under `root/uploads/`, hashing as it goes; never overwrite an original."""
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
                        f"{filename} is larger than the {max_bytes >> 20} MB upload limit",
                    )
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
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
