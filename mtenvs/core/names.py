"""Error messages for unknown names, with the closest known names as suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """``"; did you mean 'y'?"`` with the closest matches of ``name`` in ``known`` (``difflib``), or ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""


def unknown_name(kind: str, name: object, known: Iterable[str], plural: str | None = None,
                 listing: str | None = None) -> str:
    """``"unknown <kind> 'x'; did you mean 'y'? Known <plural>: a, b"`` (closest matches by ``difflib``).

    ``listing`` replaces the final "Known ..." sentence (e.g. to show types beside the names).
    """
    known = list(known)
    plural = plural or f"{kind}s"
    hint = did_you_mean(name, known) or "."
    if listing is None:
        listing = f"Known {plural}: {', '.join(known)}" if known else f"No {plural} are registered."
    return f"unknown {kind} {name!r}{hint} {listing}"
