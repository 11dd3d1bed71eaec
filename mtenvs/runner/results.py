"""The results file of a run (``results.json``), written atomically, and the optional TensorBoard stream.

The layout is described by ``results.schema.json`` (JSON Schema 2020-12), shipped beside this module.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import math
import platform
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mtenvs.files import atomic_write_bytes

#: Version of the results layout; bumped when a field changes meaning.
FORMAT = 1
RESULTS_FILE = "results.json"
SCHEMA_FILE = "results.schema.json"
#: Distributions whose versions every results file records.
PACKAGES = ("numpy", "gymnasium", "stable-baselines3", "torch", "mtenvs")


def jsonable(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON data: NumPy scalars and arrays become numbers and lists, tuples lists, objects with
    ``to_json()`` and dataclasses dicts. NaN and infinities become ``None`` (JSON has no such numbers).

    Raises:
        ValueError: for anything else, naming where in the value it is.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "to_json"):
        return jsonable(value.to_json(), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), where)
    raise ValueError(f"{where} is a {type(value).__name__}; results must be numbers, strings, bools, None, "
                     "lists or dicts of those")


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` as indented, strict JSON (atomically)."""
    atomic_write_bytes(path, (json.dumps(document, indent=2, allow_nan=False) + "\n").encode())


def read_results(path: Path) -> dict[str, Any]:
    """Load a ``results.json`` (``ValueError`` naming the file if it is not a results file)."""
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); move it away or use --force") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or "experiment" not in document:
        raise ValueError(f"{path} is not an mtenvs results file of format {FORMAT}; move it away or use --force")
    return document


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    """Python's version and the installed versions of :data:`PACKAGES` (``None`` when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def schema_path() -> Path:
    """Path of the shipped JSON Schema of ``results.json``."""
    return Path(__file__).with_name(SCHEMA_FILE)


def schema() -> dict[str, Any]:
    """The JSON Schema of ``results.json``."""
    return json.loads(schema_path().read_text())


class ScalarWriter(Protocol):
    """What the runner streams metrics to (``torch.utils.tensorboard.SummaryWriter`` has this face)."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int | None = None) -> None:
        """Record one value of the series ``tag`` at ``global_step``."""

    def close(self) -> None:
        """Flush and release the writer."""


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


def require_tensorboard() -> None:
    """Raise :class:`MissingExtra` unless the ``tensorboard`` package is importable."""
    if importlib.util.find_spec("tensorboard") is None:
        raise MissingExtra('--tensorboard needs the tensorboard package: pip install "mtenvs[tensorboard]"')


def tensorboard_writer(log_dir: Path) -> ScalarWriter:
    """A TensorBoard ``SummaryWriter`` writing to ``log_dir`` (:class:`MissingExtra` if tensorboard is absent)."""
    require_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir))


def scalar_leaves(metrics: Any, prefix: str = "") -> list[tuple[str, float]]:
    """Every finite number in a nested metrics value, tagged by its path (``"per_task/train-0/return"``)."""
    if isinstance(metrics, bool) or metrics is None:
        return []
    if isinstance(metrics, (int, float)):
        return [(prefix, float(metrics))] if math.isfinite(metrics) else []
    if isinstance(metrics, Mapping):
        items = metrics.items()
    elif isinstance(metrics, list):
        items = enumerate(metrics)
    else:
        return []
    return [leaf for key, value in items for leaf in scalar_leaves(value, f"{prefix}/{key}" if prefix else str(key))]
