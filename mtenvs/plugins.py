"""Experiments and benchmark suites contributed by installed packages, found through Python entry points.

A package adds its own to the ``mtenvs`` command line by declaring entry points in its ``pyproject.toml``::

    [project.entry-points."mtenvs.experiments"]
    my-experiment = "my_package.experiments.mine"      # a module that calls mtenvs.runner.register(...)

    [project.entry-points."mtenvs.suites"]
    my-suite = "my_package.suites:MY_SUITE"            # a Suite object (or a module that calls register_suite)

The name of an experiment entry point is the experiment's name, so ``mtenvs run my-experiment`` imports that one
module only; listing (``mtenvs experiments``) imports them all. An entry point that fails to load is skipped with one
`PluginWarning` naming it and its distribution; the others are unaffected.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from typing import Any

__all__ = ["EXPERIMENTS_GROUP", "SUITES_GROUP", "PluginWarning", "describe", "entry_points", "load", "warn"]

#: Entry-point group of experiments (see `mtenvs.runner`).
EXPERIMENTS_GROUP = "mtenvs.experiments"
#: Entry-point group of benchmark suites (see `mtenvs.benchmarking`).
SUITES_GROUP = "mtenvs.suites"


class PluginWarning(UserWarning):
    """An installed package's entry point could not be loaded; it is skipped."""


def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The entry points of ``group`` declared by the installed distributions (read afresh on every call; cheap)."""
    return list(importlib.metadata.entry_points(group=group))


def describe(entry_point: importlib.metadata.EntryPoint) -> str:
    """``"name = value (distribution)"``: how warnings name an entry point."""
    dist = getattr(entry_point, "dist", None)
    origin = f" (from {dist.name} {dist.version})" if dist is not None else ""
    return f"{entry_point.name} = {entry_point.value}{origin}"


def warn(message: str) -> None:
    """Emit one `PluginWarning` (one line: whitespace in ``message`` is collapsed)."""
    warnings.warn(" ".join(message.split()), PluginWarning, stacklevel=3)


def load(entry_point: importlib.metadata.EntryPoint, group: str) -> tuple[bool, Any]:
    """Load one entry point: ``(True, object)``, or ``(False, None)`` after a one-line `PluginWarning`."""
    try:
        return True, entry_point.load()
    except Exception as error:  # a third-party package's bug must not break the other entry points
        warn(f"{group} entry point {describe(entry_point)} failed to load and is skipped: {type(error).__name__}: "
             f"{error}")
        return False, None
