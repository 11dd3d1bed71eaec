"""The atomic file writer now lives in `mtenvs.files`; this module re-exports it for existing imports."""

from mtenvs.files import atomic_write_bytes

__all__ = ["atomic_write_bytes"]
