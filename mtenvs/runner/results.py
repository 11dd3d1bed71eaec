"""The results file of a run (``results.json``), written atomically, and the optional TensorBoard stream.

The layout is described by ``results.schema.json`` (JSON Schema 2020-12), shipped beside this module.
"""

from __future__ import annotations

import dataclasses
import functools
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
from mtenvs.runner.config import ConfigError

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


class RunDirectoryError(ConfigError):
    """A file of a run directory is unreadable, corrupt or belongs to another run; the message names the file and
    how to start over (``--force``). A `ConfigError`, so a ``ValueError``."""


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` as indented, strict JSON (atomically, mode ``0644`` under the usual umask).

    JSON has no NaN or infinity: such numbers are written as ``null`` (as `jsonable` makes them), whatever
    part of the document they are in.
    """
    try:
        text = json.dumps(document, indent=2, allow_nan=False)
    except ValueError:  # a non-finite number that did not go through jsonable (e.g. read back from an edited file)
        text = json.dumps(_finite(document), indent=2, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def _not_results(path: Path, reason: str) -> RunDirectoryError:
    return RunDirectoryError(f"{path} is not a readable mtenvs results file ({reason}); move it away or use --force")


def read_results(path: Path) -> dict[str, Any]:
    """Load a ``results.json`` and check it against the shipped schema (`schema`).

    NaN and infinities in the file (which strict JSON does not have) are read as ``None``, as they would be written.

    Raises:
        RunDirectoryError: naming the file, if it cannot be read, is not UTF-8 JSON, or is not
            a results file of format `FORMAT`.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise _not_results(path, error.strerror or type(error).__name__) from None
    except UnicodeDecodeError:
        raise _not_results(path, "not UTF-8 text") from None
    try:
        document = json.loads(text, parse_constant=lambda constant: None)
    except json.JSONDecodeError as error:
        raise _not_results(path, f"invalid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _not_results(path, f"not a results document of format {FORMAT}")
    error = _best_error(_validator(), document)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        message = " ".join(error.message.split())
        raise _not_results(path, f"{message if len(message) <= 160 else message[:157] + '...'} at {where}")
    return document


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    """Python's version and the installed versions of `PACKAGES` (``None`` when not installed)."""
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


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    """A validator of the shipped schema (jsonschema takes a few hundred ms to import: only readers of results pay)."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def _best_error(validator: Any, document: Any) -> Any:
    import jsonschema

    return jsonschema.exceptions.best_match(validator.iter_errors(document))


class ScalarWriter(Protocol):
    """What the runner streams metrics to (``torch.utils.tensorboard.SummaryWriter`` has this face)."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int | None = None) -> None:
        """Record one value of the series ``tag`` at ``global_step``."""

    def close(self) -> None:
        """Flush and release the writer."""


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


def require_tensorboard() -> None:
    """Raise `MissingExtra` unless the ``tensorboard`` package is importable."""
    if importlib.util.find_spec("tensorboard") is None:
        raise MissingExtra('--tensorboard needs the tensorboard package: pip install "mtenvs[tensorboard]"')


def tensorboard_writer(log_dir: Path) -> ScalarWriter:
    """A TensorBoard ``SummaryWriter`` writing to ``log_dir`` (`MissingExtra` if tensorboard is absent)."""
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
