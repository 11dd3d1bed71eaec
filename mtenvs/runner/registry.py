"""The experiment registry: what an experiment declares, and how experiments are found.

Experiments are found through the ``mtenvs.experiments`` entry-point group (see `mtenvs.plugins`): each entry point
names an experiment and points at the module that registers it (or at the `Experiment` object itself). The methods
package declares its experiments there in ``pyproject.toml``, and any installed package can add its own the same
way. `get` imports only the module of the experiment it is asked for; `experiments` imports them all.

How a claim is judged (`Claim.judge`):

The verdict comes from the confidence interval ``[low, high]`` of our estimate, never from its mean alone.

* ``"close"`` (the paper's number ``p`` within a tolerance ``tol = max(tolerance * |p|, atol)``): **agrees** when
  the interval reaches the band ``[p - tol, p + tol]`` (the paper's number is consistent with ours), **differs**
  when the interval lies wholly outside the band.
* ``"at_least p"`` / ``"at_most p"``: **agrees** when the relation holds for the whole interval (``low >= p`` /
  ``high <= p``), **differs** when it fails for the whole interval (``high < p`` / ``low > p``), **inconclusive**
  when the interval straddles ``p``.
* An estimate with one replicate (no interval), or a plain number that is not declared ``exact``, is
  **inconclusive**: one seed says nothing about the spread. A claim declared ``exact`` (a deterministic
  computation, or a worst case or count over every seed of the run, such as "identified correctly in every run")
  is judged on its value as if its interval were that single point.
* A ``"text"`` claim is **not checked**, and carries the reason why it cannot be (`Claim.reason`).

The interval is shown beside every verdict: a wide interval "agrees" with every number it reaches, so its width
says how much an agreement is worth. A missing or non-finite value is inconclusive. The verdict is about the run
that was made: a run at the ``quick`` size, or with overrides, is labelled not comparable to the paper (see
`mtenvs.runner.report.claim_results`).
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
Verdict = Literal["agrees", "differs", "inconclusive", "not checked"]
#: The verdicts a claim can get, in the order the summary lists them.
VERDICTS: tuple[Verdict, ...] = ("agrees", "differs", "inconclusive", "not checked")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Claim:
    """What the paper reports for one summary metric, and how our number is compared with it.

    Args:
        metric: a key of the experiment's summary.
        paper: the paper's number, or its words for a qualitative claim.
        compare: ``"close"`` (``|ours - paper| <= max(tolerance * |paper|, atol)``), ``"at_least"``/``"at_most"``
            (ours is no smaller / no larger), or ``"text"`` (shown side by side, not checked).
        tolerance: relative tolerance of ``"close"``.
        atol: absolute tolerance of ``"close"`` (needed when the paper's number is 0).
        source: where the paper says it (``"Fig. 3"``, ``"Table 2"``).
        exact: our value is exact rather than an estimate (a deterministic computation, or a worst case or count over
            every seed of the run), so a plain number is judged on its value; otherwise a plain number (one seed)
            is inconclusive.
        reason: for a ``"text"`` claim, why it cannot be checked (shown beside it); required for ``"text"``.
    """

    metric: str
    paper: float | str
    compare: Comparison = "close"
    tolerance: float = 0.1
    atol: float = 0.0
    source: str = ""
    exact: bool = False
    reason: str = ""

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
        if not isinstance(self.exact, bool):
            raise ValueError(f"Claim {self.metric!r}: exact must be a bool, got {self.exact!r}")
        if not isinstance(self.reason, str):
            raise ValueError(f"Claim {self.metric!r}: reason must be a string, got {self.reason!r}")
        if self.compare == "text" and not self.reason.strip():
            raise ValueError(f"Claim {self.metric!r}: reason must say why a 'text' claim cannot be checked")

    def judge(self, ours: Any) -> tuple[Verdict, str]:
        """The verdict on our summary value (a number or an estimate) and its reason, by the rule of this module."""
        if self.compare == "text":
            return "not checked", self.reason
        if is_estimate(ours):
            if not _finite(ours["mean"]):
                return "inconclusive", "no finite value"
            if ours["low"] is None or ours["high"] is None:
                return "inconclusive", f"one replicate (n={ours['n']}), no interval"
            low, high = float(ours["low"]), float(ours["high"])
            where = f"{ours.get('confidence', 0.95):.0%} interval [{low:.4g}, {high:.4g}]"
        elif _finite(ours):
            if not self.exact:
                return "inconclusive", "a single value without per-seed values, no interval"
            low = high = float(ours)
            where = f"exact value {low:.4g}"
        else:
            return "inconclusive", "metric missing" if ours is None else "no finite value"
        paper = float(self.paper)
        if self.compare == "close":
            tol = max(self.tolerance * abs(paper), self.atol)
            band = f"[{paper - tol:.4g}, {paper + tol:.4g}]"
            if high < paper - tol or low > paper + tol:
                return "differs", f"{where} lies outside {band}"
            return "agrees", f"{where} reaches {band}"
        if self.compare == "at_least":
            if low >= paper:
                return "agrees", f"{where} is >= {paper:g}"
            if high < paper:
                return "differs", f"{where} is below {paper:g}"
        else:
            if high <= paper:
                return "agrees", f"{where} is <= {paper:g}"
            if low > paper:
                return "differs", f"{where} is above {paper:g}"
        return "inconclusive", f"{where} straddles {paper:g}"

    def holds(self, ours: Any) -> bool | None:
        """``True`` if the claim agrees with our value, ``False`` if it differs, ``None`` otherwise (see `judge`)."""
        return {"agrees": True, "differs": False}.get(self.judge(ours)[0])


def _finite(value: Any) -> bool:
    """Whether ``value`` is a finite real number (not a bool)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


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
        config: a frozen dataclass; every field has a type annotation (see `mtenvs.runner.config`), optionally
            with its allowed range (``seeds: Count = 5``, ``gamma: Annotated[float, Interval(gt=0, lt=1)]``), and a
            default.
        sizes: field overrides per size; at least ``"quick"`` (well under a minute on 2 cores) and ``"full"``
            (the paper's budget).
        units: the ordered units of work for a config.
        compute: computes one unit: ``compute(config, unit, ctx) -> UnitResult | metrics mapping``.
        aggregate: turns the unit records into summary metrics; default `mtenvs.runner.mean_over_seeds`.
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
