"""The experiment registry: what an experiment declares, and how experiments are found.

Experiments are found through the ``mtenvs.experiments`` entry-point group (see `mtenvs.plugins`): each entry point
names an experiment and points at the module that registers it (or at the `Experiment` object itself). The methods
package declares its experiments there in ``pyproject.toml``, and any installed package can add its own the same
way. `get` imports only the module of the experiment it is asked for; `experiments` imports them all.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

from mtenvs import plugins
from mtenvs.core.names import unknown_name
from mtenvs.runner.config import ConfigError, build_config, check_overrides, field_ranges, range_text, type_name
from mtenvs.runner.stats import is_estimate, mean_over_seeds
from mtenvs.runner.units import Unit, UnitContext, UnitRecord, UnitResult

C = TypeVar("C")

#: Sizes every experiment must declare.
REQUIRED_SIZES = ("quick", "full")

Comparison = Literal["close", "at_least", "at_most", "text"]
_COMPARISONS = ("close", "at_least", "at_most", "text")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Claim:
    """What the paper reports for one summary metric, and how our number is compared with it.

    Args:
        metric: a key of the experiment's summary.
        paper: the paper's number, or its words for a qualitative claim.
        compare: ``"close"`` (``|ours - paper| <= max(tolerance * |paper|, atol)``), ``"at_least"``/``"at_most"``
            (ours is no smaller / no larger), or ``"text"`` (shown side by side, no verdict).
        tolerance: relative tolerance of ``"close"``.
        atol: absolute tolerance of ``"close"`` (needed when the paper's number is 0).
        source: where the paper says it (``"Fig. 3"``, ``"Table 2"``).
    """

    metric: str
    paper: float | str
    compare: Comparison = "close"
    tolerance: float = 0.1
    atol: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        if self.compare not in _COMPARISONS:
            raise ValueError(f"Claim {self.metric!r}: compare must be one of {', '.join(_COMPARISONS)}, got {self.compare!r}")
        numeric = isinstance(self.paper, Real) and not isinstance(self.paper, bool)
        if self.compare != "text" and not numeric:
            raise ValueError(f"Claim {self.metric!r}: compare={self.compare!r} needs a numeric paper value, got {self.paper!r}")
        for name in ("tolerance", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, Real) and value >= 0):
                raise ValueError(f"Claim {self.metric!r}: {name} must be a number >= 0, got {value!r}")

    def holds(self, ours: Any) -> bool | None:
        """Whether our summary value (a number or an estimate, compared by its mean) agrees; ``None`` if undecidable."""
        if self.compare == "text":
            return None
        value = ours["mean"] if is_estimate(ours) else ours
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
            return None
        paper = float(self.paper)
        if self.compare == "close":
            return abs(value - paper) <= max(self.tolerance * abs(paper), self.atol)
        return value >= paper if self.compare == "at_least" else value <= paper


UnitsFn = Callable[[C], Sequence[Unit]]
ComputeFn = Callable[[C, Unit, UnitContext], UnitResult | Mapping[str, Any]]
AggregateFn = Callable[[C, Sequence[UnitRecord]], Mapping[str, Any]]
PlotFn = Callable[[C, Sequence[UnitRecord], Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Experiment(Generic[C]):
    """A reproducible experiment: a typed configuration, its sizes, and the functions that run it.

    Args:
        name: command-line name (lowercase letters, digits, ``-_.``), e.g. ``"002-fig3-cartpole"``.
        title: one line, e.g. ``"PG-ELLA vs PG on 30 cart-pole tasks (Fig. 3)"``.
        config: a frozen dataclass; every field has a type annotation (see :mod:`mtenvs.runner.config`), optionally
            with its allowed range (``seeds: Count = 5``, ``gamma: Annotated[float, Interval(gt=0, lt=1)]``), and a
            default.
        sizes: field overrides per size; at least ``"quick"`` (well under a minute on 2 cores) and ``"full"``
            (the paper's budget).
        units: the ordered units of work for a config.
        compute: computes one unit: ``compute(config, unit, ctx) -> UnitResult | metrics mapping``.
        aggregate: turns the unit records into summary metrics; default :func:`mtenvs.runner.mean_over_seeds`.
        paper: the paper's number (``"002"``) or ``None``.
        description: a paragraph for ``mtenvs experiments NAME`` and the docs.
        seed: the default run seed.
        claims: the paper's numbers for summary metrics, printed beside ours.
        plot: draws the headline figure: ``plot(config, records, summary)`` returns a matplotlib ``Figure`` or a
            mapping of file stems to figures; each is saved as PNG beside ``results.json``.
    """

    name: str
    title: str
    config: type[C]
    sizes: Mapping[str, Mapping[str, Any]]
    units: UnitsFn[C]
    compute: ComputeFn[C]
    aggregate: AggregateFn[C] = mean_over_seeds
    paper: str | None = None
    description: str = ""
    seed: int = 0
    claims: Sequence[Claim] = ()
    plot: PlotFn[C] | None = None
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"experiment name {self.name!r} must match {_NAME.pattern} (it names output directories)")
        where = f"experiment {self.name!r}"
        params = getattr(self.config, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise ValueError(f"{where}: config must be a frozen dataclass, got {self.config!r}")
        for f in dataclasses.fields(self.config):
            if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: config field {f.name!r} needs a default")
        try:
            ranges = field_ranges(self.config)
        except NameError as error:
            raise ValueError(f"{where}: cannot resolve the config's type annotations: {error}") from None
        for name, tp in ranges.items():
            try:
                type_name(tp)
                range_text(tp)
            except TypeError as error:
                raise ValueError(f"{where}: config field {name!r}: {error}") from None
        defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                    for f in dataclasses.fields(self.config) if f.init}
        try:
            check_overrides(self.config, defaults)
        except ConfigError as error:
            raise ValueError(f"{where}: bad default: {error}") from None
        missing = [s for s in REQUIRED_SIZES if s not in self.sizes]
        if missing:
            raise ValueError(f"{where}: sizes must include {', '.join(REQUIRED_SIZES)}; missing {', '.join(missing)}")
        try:
            sizes = {size: MappingProxyType(check_overrides(self.config, o)) for size, o in self.sizes.items()}
        except ConfigError as error:
            raise ValueError(f"{where}: bad size overrides: {error}") from None
        object.__setattr__(self, "sizes", MappingProxyType(sizes))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"{where}: seed must be an int >= 0, got {self.seed!r}")
        if self.paper is not None and not isinstance(self.paper, str):
            raise ValueError(f"{where}: paper must be a string such as '002' or None, got {self.paper!r}")
        if not all(isinstance(c, Claim) for c in self.claims):
            raise ValueError(f"{where}: claims must be Claim objects")
        object.__setattr__(self, "claims", tuple(self.claims))
        if not self.module:
            object.__setattr__(self, "module", getattr(self.compute, "__module__", "") or "")

    def make_config(self, size: str = "quick", overrides: Mapping[str, Any] | None = None) -> C:
        """The config of ``size`` with ``overrides`` applied (``ValueError`` naming unknown sizes or keys)."""
        if size not in self.sizes:
            raise ConfigError(f"experiment {self.name!r} has no size {size!r}; sizes: {', '.join(self.sizes)}")
        return build_config(self.config, self.sizes[size], overrides or {})


_REGISTRY: dict[str, Experiment[Any]] = {}
#: Entry points already loaded (or tried), by ``(name, value)``: each is imported at most once per process.
_LOADED: set[tuple[str, str]] = set()


def register(experiment: Experiment[C]) -> Experiment[C]:
    """Add ``experiment`` to the registry and return it.

    Registering a name again from the same module replaces the entry (module reloads); from another module it is
    an error, so two experiments never shadow each other.
    """
    if not isinstance(experiment, Experiment):
        raise TypeError(f"register expects an Experiment, got {type(experiment).__name__}")
    existing = _REGISTRY.get(experiment.name)
    if existing is not None and existing.module != experiment.module:
        raise ValueError(f"experiment name {experiment.name!r} is already registered by {existing.module}")
    _REGISTRY[experiment.name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove an experiment (for tests that register temporary ones)."""
    _REGISTRY.pop(name, None)


def _load_entry_point(entry_point: Any) -> str | None:
    """Load one experiment entry point once; an `Experiment` object is registered. Its module name, or ``None``."""
    key = (entry_point.name, entry_point.value)
    if key in _LOADED:
        return None
    _LOADED.add(key)
    ok, loaded = plugins.load(entry_point, plugins.EXPERIMENTS_GROUP)
    if not ok:
        return None
    if isinstance(loaded, Experiment):
        register(loaded)
    elif not isinstance(loaded, types.ModuleType):
        plugins.warn(f"{plugins.EXPERIMENTS_GROUP} entry point {plugins.describe(entry_point)} is a "
                     f"{type(loaded).__name__}; it must be a module that registers experiments or an Experiment")
        return None
    return entry_point.module


def discover(package: str | None = None) -> list[str]:
    """Load the experiments: every entry point of the ``mtenvs.experiments`` group, or, given a ``package``, every
    public module of that package (each one registers its experiments). Returns the module names imported.

    Raises:
        ImportError: a module of ``package`` failed to import (a broken entry point only warns, see `mtenvs.plugins`).
    """
    if package is None:
        loaded = (_load_entry_point(ep) for ep in plugins.entry_points(plugins.EXPERIMENTS_GROUP))
        return [name for name in loaded if name is not None]
    root = importlib.import_module(package)
    names = []
    for info in pkgutil.iter_modules(root.__path__, prefix=f"{package}."):
        if info.name.rpartition(".")[2].startswith("_"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as error:
            raise ImportError(f"experiment module {info.name} failed to import: {error}") from error
        names.append(info.name)
    return names


def experiments() -> dict[str, Experiment[Any]]:
    """Every registered experiment (those of installed packages are loaded on the first call), sorted by name."""
    discover()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> Experiment[Any]:
    """The experiment called ``name`` (importing only its own entry point when it has one named so); ``ValueError``
    with the closest names if there is none."""
    if name not in _REGISTRY:
        for entry_point in plugins.entry_points(plugins.EXPERIMENTS_GROUP):
            if entry_point.name == name:
                _load_entry_point(entry_point)
    if name in _REGISTRY:
        return _REGISTRY[name]
    known = experiments()
    if name not in known:
        raise ValueError(unknown_name("experiment", name, list(known)))
    return known[name]
