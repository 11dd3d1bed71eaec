"""A progress display that works wherever the output goes: a live bar on a terminal, plain lines elsewhere.

On a terminal that reports its width, `Progress` draws a tqdm bar. Anywhere else (a file, a pipe, a notebook's
captured stream, a CI log, a terminal that reports no width, on which tqdm draws nothing useful) it writes one plain
line per update, at most one every `interval` seconds, plus a last line when it closes:

    DCPG: 40/100 iterations | elapsed 00:12 | remaining 00:18

`leave` and `position` nest a bar under an outer one (a method's bar under an experiment's); `enabled=False` gives
an object whose methods do nothing, so callers never branch on whether a bar is shown. `ProgressOptions` carries
such a configuration from the code that owns the outer bar to the code that draws the inner one: a method's
`learn(progress_bar=...)` takes `True`, `False` or a `ProgressOptions`, and `Progress.of` turns any of the three
into a bar.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Self

from tqdm import tqdm

__all__ = ["Progress", "ProgressOptions", "progress_options", "terminal_width"]


def terminal_width(stream: IO[str]) -> int:
    """The width in columns of the terminal `stream` writes to; 0 when it is not a terminal or reports no width."""
    try:
        if not stream.isatty():
            return 0
        return int(os.get_terminal_size(stream.fileno()).columns)
    except (AttributeError, OSError, ValueError):
        return 0


@dataclass(frozen=True)
class ProgressOptions:
    """How to draw a bar that someone else creates: nested under an outer bar, on which stream, how often.

    `ProgressOptions(leave=False, position=1)` is a bar drawn on the line under an outer bar at position 0 and
    cleared when it ends, the way the experiment runner nests a method's bar under its bar over units.

    Args:
        leave: keep the bar on screen when it closes.
        position: the line of the bar below the cursor (`None`: tqdm chooses).
        stream: where to write (default: standard error).
        interval: the least number of seconds between two plain lines.
        indent: written before every plain line (an inner bar's lines set apart from the outer bar's).
        delay: seconds after the start before anything is shown (a bar that ends sooner shows nothing).

    Raises:
        ValueError: `position`, `interval` or `delay` is negative, or `leave` is not a bool.
    """

    leave: bool = True
    position: int | None = None
    stream: IO[str] | None = None
    interval: float = 5.0
    indent: str = ""
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.leave, bool):
            raise ValueError(f"leave must be True or False, got {self.leave!r}")
        if self.position is not None and (isinstance(self.position, bool) or not isinstance(self.position, int)
                                          or self.position < 0):
            raise ValueError(f"position must be None or an integer >= 0, got {self.position!r}")
        if isinstance(self.interval, bool) or not isinstance(self.interval, (int, float)) or not self.interval >= 0:
            raise ValueError(f"interval must be a number >= 0, got {self.interval!r}")
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) or not self.delay >= 0:
            raise ValueError(f"delay must be a number >= 0, got {self.delay!r}")
        if not isinstance(self.indent, str):
            raise ValueError(f"indent must be a string, got {self.indent!r}")


def progress_options(setting: bool | ProgressOptions | None, name: str = "progress_bar") -> ProgressOptions | None:
    """The options a `progress_bar` setting stands for: `None` for no bar (`False`, `None`), defaults for `True`.

    Raises:
        ValueError: `setting` is none of `True`, `False`, `None` or a `ProgressOptions` (the message names `name`).
    """
    if setting is None or setting is False:
        return None
    if setting is True:
        return ProgressOptions()
    if isinstance(setting, ProgressOptions):
        return setting
    raise ValueError(f"{name} must be True, False or a mtenvs.progress.ProgressOptions, got {setting!r}")


class Progress:
    """Units done out of `total`, with elapsed and remaining time.

    Args:
        total: the number of units the bar counts to.
        desc: a label printed before the counts.
        unit: the name of one unit (plural adds an "s" in plain lines).
        enabled: `False` shows nothing.
        stream: where to write (default: standard error).
        initial: units already done (a resumed run).
        leave: keep the bar on screen when it closes (`False` for a bar nested under another).
        position: the line of the bar below the cursor (1 for a bar nested under an outer bar at 0).
        interval: the least number of seconds between two plain lines.
        delay: seconds after the start before anything is shown (a bar that ends sooner shows nothing).
        clock: the time source in seconds (for tests).

    Raises:
        ValueError: `total` or `initial` is negative, or `interval` or `delay` is negative.
    """

    def __init__(self, total: int, *, desc: str = "", unit: str = "it", enabled: bool = True,
                 stream: IO[str] | None = None, initial: int = 0, leave: bool = True, position: int | None = None,
                 interval: float = 5.0, delay: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"total must be an integer >= 0, got {total!r}")
        if isinstance(initial, bool) or not isinstance(initial, int) or initial < 0:
            raise ValueError(f"initial must be an integer >= 0, got {initial!r}")
        if not interval >= 0:
            raise ValueError(f"interval must be a number >= 0, got {interval!r}")
        if not delay >= 0:
            raise ValueError(f"delay must be a number >= 0, got {delay!r}")
        self.total, self.done, self.desc, self.unit = total, initial, desc, unit
        self.postfix = ""
        self.indent = ""
        self.enabled = bool(enabled)
        self.interval, self.delay = float(interval), float(delay)
        self._initial = initial
        self._clock = clock
        self._start = clock()
        self._last_line: float | None = None
        self._written: tuple[int, str] | None = None
        self._closed = not self.enabled
        self._bar: Any = None
        self.stream: IO[str] = sys.stderr if stream is None else stream
        if self.enabled and terminal_width(self.stream) > 0:
            self._bar = tqdm(total=total, initial=initial, desc=desc or None, unit=unit, file=self.stream, leave=leave,
                             position=position, dynamic_ncols=True, delay=self.delay)

    @classmethod
    def of(cls, setting: bool | ProgressOptions | None, total: int, *, desc: str = "", unit: str = "it",
           initial: int = 0, name: str = "progress_bar") -> Progress:
        """The bar a `progress_bar` setting (`True`, `False`, `None` or a `ProgressOptions`) asks for.

        Raises:
            ValueError: `setting` is of none of those kinds (the message names `name`), or `total` / `initial` is
                bad.
        """
        options = progress_options(setting, name)
        if options is None:
            return cls(total, desc=desc, unit=unit, initial=initial, enabled=False)
        bar = cls(total, desc=desc, unit=unit, initial=initial, stream=options.stream, leave=options.leave,
                  position=options.position, interval=options.interval, delay=options.delay)
        bar.indent = options.indent
        return bar

    @property
    def uses_tqdm(self) -> bool:
        """Whether a tqdm bar is drawn (else plain lines, or nothing when disabled)."""
        return self._bar is not None

    def update(self, n: int = 1, *, postfix: str | None = None) -> None:
        """Count `n` more units done (and replace the postfix, see `set_postfix`, unless `postfix` is `None`)."""
        if self._closed:
            return
        self.done += n
        if postfix is not None:
            self.postfix = str(postfix)
        if self._bar is not None:
            if postfix is not None:
                self._bar.set_postfix_str(self.postfix, refresh=False)
            self._bar.update(n)
            return
        self._maybe_write()

    def set_postfix(self, text: str) -> None:
        """Show `text` after the counts (e.g. the key of the unit being computed); a plain display writes a line
        when the last one is at least `interval` seconds old."""
        if self._closed:
            return
        self.postfix = str(text)
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix, refresh=True)
            return
        self._maybe_write()

    def _maybe_write(self) -> None:
        now = self._clock()
        if now - self._start < self.delay:
            return
        if self._last_line is None or now - self._last_line >= self.interval:
            self._write(now)

    def line(self, now: float | None = None) -> str:
        """The plain line for the progress so far, e.g. `"DCPG: 40/100 iterations | elapsed 00:12 | remaining 00:18"`."""
        now = self._clock() if now is None else now
        elapsed = max(now - self._start, 0.0)
        fresh = self.done - self._initial
        if fresh > 0 and self.total >= self.done:
            remaining = tqdm.format_interval(elapsed / fresh * (self.total - self.done))
        else:
            remaining = "?"
        units = self.unit if self.total == 1 else f"{self.unit}s"
        label = f"{self.desc}: " if self.desc else ""
        postfix = f" | {self.postfix}" if self.postfix else ""
        return (f"{label}{self.done}/{self.total} {units} | elapsed {tqdm.format_interval(elapsed)} | "
                f"remaining {remaining}{postfix}")

    def _write(self, now: float) -> None:
        self._last_line, self._written = now, (self.done, self.postfix)
        self.stream.write(self.indent + self.line(now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the display (a plain display writes its final line unless the last line written says the same)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._written != (self.done, self.postfix) and (self._written is not None
                                                              or self._clock() - self._start >= self.delay):
            self._write(self._clock())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
