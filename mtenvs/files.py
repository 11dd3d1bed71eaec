"""Writing files so that a crash never leaves a half-written one (results, run checkpoints, worker checkpoints)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes"]


def _umask() -> int:
    """The process's umask (read once: setting and restoring it is the only portable way to learn it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Mode of written files: what ``open()`` would give (``0644`` under the usual umask ``022``), not the ``0600`` of a
#: temporary file.
FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old file or the new one, never a mix.

    The temporary file is in the same directory, so ``os.replace`` is an atomic rename on the same file system. The
    file gets `FILE_MODE` (readable by others, as any file the user writes), not the temporary file's ``0600``.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX
            os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
