"""The contract every method that stable-baselines3 lacks follows, and the one run loop that implements it.

A method is built as `Method(tasks_or_envs, **hyperparameters)` and trained with

    method.learn(total, callback=None, progress_bar=False)

where `total` counts the method's documented unit (its class attribute `unit`: "iteration", "episode", "round",
"update", ...); calling `learn` again continues where the last call stopped, as in SB3. After every unit the loop
builds one `UnitRecord` (the unit's index, its scalar metrics, wall time, and the communication rounds and bytes so
far for a method that communicates), sends the metrics to the SB3 logger (`set_logger`, so
`configure(folder, ["csv", "tensorboard"])` writes the same files for every method), and calls the callback with
the method and the record; a callback returning `False` stops the run. `save(path)` writes everything the method
needs to continue (its attributes, its workers with their random streams, the communication counts) and
`Method.load(path)` builds it again, so that `learn(a + b)` and `learn(a); save; load; learn(b)` end bit for bit
alike. `learn(..., checkpoint_path=p)` saves to `p` every `checkpoint_every` units and at the end; a call that
finds a checkpoint there first resumes from it and runs to the unit count it was heading for, so a run whose
driver died ends exactly as an uninterrupted one.

A subclass sets `unit` and implements `_learn_unit()`, one unit of work returning its own record (a dict or a
dataclass; its real-valued scalar fields become the record's metrics). It lists in `_resources` the attributes the
constructor rebuilds instead of saving (environments, worker pools, communicators); the pool found by
`_worker_pool()` and the communicator found by `_communicator()` are saved through their own snapshot and counts.
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any, ClassVar, Self

import cloudpickle
import numpy as np
from stable_baselines3.common.logger import Logger

from agents.common.workers import load_checkpoint, save_checkpoint
from mtenvs.progress import Progress, ProgressOptions, progress_options

__all__ = [
    "CallbackLike",
    "CallbackList",
    "FunctionCallback",
    "Method",
    "MethodCallback",
    "StopAfterUnits",
    "UnitRecord",
    "as_callback",
    "check_total",
]

#: The version of the file `Method.save` writes.
SAVE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class UnitRecord:
    """What one unit of work did: the one record shape of every method.

    Attributes:
        unit: the method's unit ("iteration", "episode", "round", ...).
        index: how many units the method has done, this one included (1 for its first unit).
        metrics: the unit's real-valued scalar metrics (what the logger receives).
        wall_time: seconds the unit took.
        comm_rounds: communication rounds so far (`None` for a method that does not communicate).
        comm_bytes: bytes sent so far (`None` for a method that does not communicate).
        info: the method's own record of the unit, with its non-scalar entries (per-task lists, arrays).
    """

    unit: str
    index: int
    metrics: Mapping[str, float]
    wall_time: float
    comm_rounds: int | None = None
    comm_bytes: int | None = None
    info: Any = None


# ------------------------------------------------------------------------------------------------ callbacks
class MethodCallback:
    """A callback in the style of SB3's `BaseCallback`: `on_unit` runs after every unit; returning `False` stops.

    Override `_on_unit` (and, if needed, `_on_training_start` / `_on_training_end`). `self.method` is the method
    being trained, `self.n_calls` the number of units seen by this callback.
    """

    def __init__(self) -> None:
        self.method: Any = None
        self.n_calls = 0

    def init_callback(self, method: Any) -> None:
        """Attach the callback to `method` (called by `learn` before the first unit)."""
        self.method = method

    def on_training_start(self) -> None:
        """Called once when `learn` starts."""
        self._on_training_start()

    def on_unit(self, record: UnitRecord) -> bool:
        """Called after every unit with its record; `False` stops `learn`."""
        self.n_calls += 1
        return self._on_unit(record) is not False

    def on_training_end(self) -> None:
        """Called once when `learn` ends (also after a stop)."""
        self._on_training_end()

    def _on_training_start(self) -> None:
        pass

    def _on_unit(self, record: UnitRecord) -> bool | None:
        return True

    def _on_training_end(self) -> None:
        pass


#: What `learn` accepts as a callback: `None`, a `MethodCallback`, a plain `fn(method, record)`, or a list of them.
CallbackLike = MethodCallback | Callable[[Any, UnitRecord], bool | None] | Sequence[Any] | None


class FunctionCallback(MethodCallback):
    """A plain callable `fn(method, record)` as a callback (its return value `False` stops)."""

    def __init__(self, fn: Callable[[Any, UnitRecord], bool | None]) -> None:
        super().__init__()
        self.fn = fn

    def _on_unit(self, record: UnitRecord) -> bool | None:
        return self.fn(self.method, record)


class CallbackList(MethodCallback):
    """Several callbacks called in order after every unit; the run stops when any of them returns `False`."""

    def __init__(self, callbacks: Iterable[Any]) -> None:
        super().__init__()
        self.callbacks = [as_callback(c) for c in callbacks]

    def init_callback(self, method: Any) -> None:
        """Attach every callback to `method`."""
        super().init_callback(method)
        for c in self.callbacks:
            c.init_callback(method)

    def _on_training_start(self) -> None:
        for c in self.callbacks:
            c.on_training_start()

    def _on_unit(self, record: UnitRecord) -> bool:
        results = [c.on_unit(record) for c in self.callbacks]  # every callback sees every unit
        return all(results)

    def _on_training_end(self) -> None:
        for c in self.callbacks:
            c.on_training_end()


class StopAfterUnits(MethodCallback):
    """Stops training once the method has done `units` units in total."""

    def __init__(self, units: int) -> None:
        super().__init__()
        self.units = check_total(units, "units")

    def _on_unit(self, record: UnitRecord) -> bool:
        return record.index < self.units


def as_callback(callback: CallbackLike) -> MethodCallback:
    """`callback` as a `MethodCallback`: `None`, a `MethodCallback`, a plain callable or a list of them."""
    if callback is None:
        return MethodCallback()
    if isinstance(callback, MethodCallback):
        return callback
    if isinstance(callback, (list, tuple)):
        return CallbackList(callback)
    if callable(callback):
        return FunctionCallback(callback)
    raise TypeError(f"callback must be None, a MethodCallback, a callable or a list of them, got "
                    f"{type(callback).__name__}")


def check_total(total: Any, name: str = "total") -> int:
    """`total` as a positive int; `TypeError` for a non-integer, `ValueError` for one below 1 (both name `name`)."""
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {total!r} ({type(total).__name__})")
    if total < 1:
        raise ValueError(f"{name} must be a positive integer, got {total!r}")
    return int(total)


def scalar_metrics(info: Any) -> dict[str, float]:
    """The real-valued scalar entries of a unit's own record (a mapping or a dataclass), as floats."""
    if dataclasses.is_dataclass(info) and not isinstance(info, type):
        info = {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}
    if not isinstance(info, Mapping):
        return {}
    return {str(key): float(value) for key, value in info.items()
            if isinstance(value, numbers.Real) and not isinstance(value, bool)}


# ------------------------------------------------------------------------------------------------ the method
class Method(ABC):
    """The base of every method SB3 lacks: one run loop (module docstring), subclasses implement one unit.

    Class attributes:
        unit: the name of the method's unit of work, which `learn`'s `total` counts.
        _resources: attribute names the constructor rebuilds and `save` leaves out (environments, pools, ...).
        _unsaved_arguments: constructor keywords `save` leaves out (live objects such as communicators); `load`
            builds them anew unless they are passed to it.
    """

    unit: ClassVar[str] = "update"
    _resources: ClassVar[tuple[str, ...]] = ()
    _unsaved_arguments: ClassVar[tuple[str, ...]] = ("comm", "communicator")
    _base_transient: ClassVar[tuple[str, ...]] = ("_init_arguments", "_logger", "_target")

    num_units: int
    _logger: Logger | None
    _target: int | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        self = super().__new__(cls)
        self._init_arguments = (args, kwargs)   # for `load`, which builds the method again
        self.num_units = 0
        self._logger = None
        self._target = None
        return self

    # --- what subclasses implement ---------------------------------------------------------------------------
    @abstractmethod
    def _learn_unit(self) -> Any:
        """Do one unit of work; return the unit's own record (a dict or dataclass, scalars become metrics)."""

    def _done(self) -> bool:
        """Whether the method has nothing left to do (checked before every unit; default never)."""
        return False

    def _before_learn(self) -> None:  # noqa: B027  (optional hook)
        """Called by `learn` after a resume and before the first unit."""

    def _after_learn(self) -> None:  # noqa: B027  (optional hook)
        """Called by `learn` after the last unit (also after a callback stopped the run)."""

    def _worker_pool(self) -> Any:
        """The method's worker pool, saved through its snapshot (default: attribute `pool`, if any)."""
        return getattr(self, "pool", None)

    def _communicator(self) -> Any:
        """The method's communicator, whose counts are saved and recorded (default: `comm` or `communicator`)."""
        return getattr(self, "comm", None) or getattr(self, "communicator", None)

    def _fingerprint(self) -> dict[str, Any]:
        """What must agree between a checkpoint and the method resuming from it (default: class, seed, nodes)."""
        pool = self._worker_pool()
        return {"method": type(self).__qualname__, "seed": getattr(self, "seed", None),
                "nodes": sorted(map(repr, pool.nodes)) if pool is not None else None}

    # --- the logger -------------------------------------------------------------------------------------------
    @property
    def logger(self) -> Logger:
        """The SB3 logger receiving every unit's metrics (default: one that writes nothing)."""
        if self._logger is None:
            self._logger = Logger(folder=None, output_formats=[])
        return self._logger

    def set_logger(self, logger: Logger) -> None:
        """Send the metrics to `logger`, e.g. `stable_baselines3.common.logger.configure(folder, ["csv"])`."""
        if not isinstance(logger, Logger):
            raise TypeError(f"logger must be a stable_baselines3 Logger, got {type(logger).__name__}")
        self._logger = logger

    def _emit_metrics(self, record: UnitRecord) -> None:
        logger = self.logger
        logger.record(f"time/{self.unit}s", record.index)
        logger.record("time/unit_seconds", record.wall_time)
        for key, value in record.metrics.items():
            logger.record(f"train/{key}", value)
        if record.comm_rounds is not None:
            logger.record("comm/rounds", record.comm_rounds)
            logger.record("comm/bytes", record.comm_bytes)
        logger.dump(step=record.index)

    # --- the run loop -----------------------------------------------------------------------------------------
    def learn(self, total: int, *, callback: CallbackLike = None, progress_bar: bool | ProgressOptions = False,
              checkpoint_path: str | PathLike[str] | None = None, checkpoint_every: int = 1) -> Self:
        """Run `total` more units (fewer if the callback stops the run or the method is done).

        Args:
            total: how many units (the class attribute `unit` names them).
            callback: called after every unit as `callback(method, record)` with a `UnitRecord`; returning `False`
                stops. A `MethodCallback`, a plain callable, or a list of them.
            progress_bar: show units done out of `total` (`mtenvs.progress.Progress`): `True` for a bar of its
                own, or a `mtenvs.progress.ProgressOptions` for a bar nested under an outer one (the experiment
                runner hands its units `ProgressOptions(leave=False, position=1)`).
            checkpoint_path: save the run there every `checkpoint_every` units and at the end; if the file exists,
                first resume from it and run to the unit count it was heading for.
            checkpoint_every: units between checkpoints.

        Returns:
            The method itself.
        """
        total = check_total(total)
        progress_options(progress_bar)  # a bad setting fails before any work
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
        target = self.num_units + total
        if checkpoint_path is not None:
            saved = load_checkpoint(checkpoint_path)
            if saved is not None:
                self._set_method_state(saved, checkpoint_path)
                target = int(saved["target"])
        callbacks = as_callback(callback)
        callbacks.init_callback(self)
        self._before_learn()
        callbacks.on_training_start()
        self._target = target
        start = self.num_units
        try:
            with Progress.of(progress_bar, max(target - start, 0), desc=type(self).__name__, unit=self.unit) as bar:
                while self.num_units < target and not self._done():
                    tic = time.perf_counter()
                    info = self._learn_unit()
                    self.num_units += 1
                    record = self._unit_record(info, time.perf_counter() - tic)
                    if checkpoint_path is not None and (self.num_units % checkpoint_every == 0
                                                        or self.num_units >= target or self._done()):
                        save_checkpoint(checkpoint_path, {"target": target, **self._method_state()})
                    self._emit_metrics(record)
                    bar.update(1)
                    if not callbacks.on_unit(record):
                        break
        finally:
            self._target = None
        self._after_learn()
        callbacks.on_training_end()
        return self

    def _unit_record(self, info: Any, seconds: float) -> UnitRecord:
        comm = self._communicator()
        return UnitRecord(unit=self.unit, index=self.num_units, metrics=scalar_metrics(info), wall_time=seconds,
                          comm_rounds=None if comm is None else int(comm.stats.rounds),
                          comm_bytes=None if comm is None else int(comm.stats.bytes), info=info)

    # --- saving and loading -----------------------------------------------------------------------------------
    def _method_state(self) -> dict[str, Any]:
        transient = set(self._base_transient) | set(self._resources)
        pool, comm = self._worker_pool(), self._communicator()
        return {"fingerprint": self._fingerprint(),
                "attributes": {k: v for k, v in vars(self).items() if k not in transient},
                "workers": pool.snapshot() if pool is not None else None,
                "comm": copy.deepcopy(comm.stats) if comm is not None else None}

    def _set_method_state(self, saved: Mapping[str, Any], path: str | PathLike[str]) -> None:
        if saved.get("fingerprint") != self._fingerprint():
            raise ValueError(f"checkpoint_path {str(path)!r} holds another run ({saved.get('fingerprint')}); this one "
                             f"is {self._fingerprint()}")
        for key, value in copy.deepcopy(dict(saved["attributes"])).items():
            setattr(self, key, value)
        pool, comm = self._worker_pool(), self._communicator()
        if pool is not None:
            pool.restore(saved["workers"])
        if comm is not None:
            comm.stats = copy.deepcopy(saved["comm"])

    def save(self, path: str | PathLike[str]) -> None:
        """Write the method to `path` (its constructor arguments and state) so that `load` continues it exactly."""
        args, kwargs = self._init_arguments
        arguments: tuple[tuple[Any, ...], dict[str, Any]] | None = (
            args, {k: v for k, v in kwargs.items() if k not in self._unsaved_arguments})
        try:
            cloudpickle.dumps(arguments)
        except Exception:  # e.g. live environments: `load` then needs them again
            arguments = None
        save_checkpoint(path, {"format": SAVE_FORMAT, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                               "arguments": arguments, **self._method_state()})

    @classmethod
    def load(cls, path: str | PathLike[str], *args: Any, **kwargs: Any) -> Self:
        """The method `save` wrote to `path`, built again and ready to continue.

        The constructor runs with the saved arguments, updated by those given here, and the saved state is then put
        back; arguments therefore change only what the state does not hold: the backend and its options,
        environments, communicators.

        Args:
            path: the file `save` wrote.
            *args: positional constructor arguments replacing the saved ones (e.g. environments).
            **kwargs: constructor keywords replacing the saved ones (e.g. `backend="ray"`, a communicator).

        Raises:
            FileNotFoundError: nothing at `path`.
            ValueError: the file holds another method, or its constructor arguments could not be saved (objects
                that do not pickle) and none are given.
        """
        saved = load_checkpoint(path)
        if saved is None:
            raise FileNotFoundError(f"no saved method at {str(path)!r}")
        name = f"{cls.__module__}.{cls.__qualname__}"
        if not isinstance(saved, Mapping) or saved.get("format") != SAVE_FORMAT or saved.get("class") != name:
            found = saved.get("class") if isinstance(saved, Mapping) else type(saved).__name__
            raise ValueError(f"path {str(path)!r} holds {found!r}, not a saved {name}")
        if saved["arguments"] is None:
            if not args:
                raise ValueError(f"the constructor arguments saved at {str(path)!r} did not pickle; pass them to load")
            saved_args, saved_kwargs = (), {}
        else:
            saved_args, saved_kwargs = saved["arguments"]
        method = cls(*(args or saved_args), **{**saved_kwargs, **kwargs})
        method._set_method_state(saved, path)
        return method
