"""One error type and one hashing routine for every model's weights (torch-free).

:class:`WeightsError` (a ``ValueError``) is what a missing, corrupt or unexpected
checkpoint raises, whichever model it belongs to; :func:`sha256_file` is the one checksum.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["WeightsError", "sha256_file"]

_HASH_CACHE: dict[tuple, str] = {}


class WeightsError(ValueError):
    """The checkpoint is missing, corrupt, or not the expected file."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file (memoised on path, size and modification time)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]
