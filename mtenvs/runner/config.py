"""Experiment configurations: frozen dataclasses whose fields are set by size and by ``--set key=value``.

Field types the runner understands (checked when an experiment registers): ``int``, ``float``, ``bool``, ``str``,
``Literal[...]`` of those, ``X | None``, and ``tuple[X, ...]``, ``tuple[X, Y]`` or ``list[X]`` of scalar ``X``.
On the command line a sequence is written ``1,2,3`` (brackets optional), ``None`` as ``none``, and a bool as
``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``).

Ranges are declared once, on the field's type, with the constraints of the ``annotated-types`` package
(``Annotated[int, Ge(1)]``, ``Annotated[float, Interval(gt=0, le=1)]``, ``Annotated[tuple[str, ...], MinLen(1)]``)
or the aliases below (``seeds: Count = 5``). Every value, from a size or from ``--set``, is checked against them
before a run starts: ``Ge``/``Gt``/``Le``/``Lt``/``Interval`` bound a number (every item of a sequence),
``MinLen``/``MaxLen``/``Len`` bound a sequence's length, and ``None`` (for ``X | None``) is always allowed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

import annotated_types as at
import numpy as np

from mtenvs.core.names import unknown_name

_SCALARS = (int, float, bool, str)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ConfigError(ValueError):
    """An override names an unknown field or has a value the field's type or range does not accept."""


#: How many of something (seeds, episodes, agents, steps): an int >= 1.
Count = Annotated[int, at.Ge(1)]
#: An int >= 0 (an offset, an index, a number of warm-up steps that may be none).
NonNegativeInt = Annotated[int, at.Ge(0)]
#: A float > 0 (a step size, a tolerance, a scale).
Positive = Annotated[float, at.Gt(0)]
#: A float >= 0 (a regularization weight, a noise level).
NonNegative = Annotated[float, at.Ge(0)]
#: A probability or a fraction: a float in [0, 1].
Fraction = Annotated[float, at.Interval(ge=0, le=1)]
#: A discount factor: a float in (0, 1].
Discount = Annotated[float, at.Interval(gt=0, le=1)]

_BOUNDS = {at.Ge: ("ge", ">="), at.Gt: ("gt", ">"), at.Le: ("le", "<="), at.Lt: ("lt", "<")}
_LENGTHS = {at.MinLen: ("min_length", ">="), at.MaxLen: ("max_length", "<=")}


def _constraints(metadata: Sequence[Any]) -> list[Any]:
    """The single constraints of an ``Annotated`` type's metadata (grouped ones such as ``Interval`` expanded);
    ``TypeError`` for metadata the runner cannot check."""
    flat = []
    for item in metadata:
        if isinstance(item, at.GroupedMetadata):
            flat += _constraints(list(item))
        elif type(item) in _BOUNDS or type(item) in _LENGTHS:
            flat.append(item)
        else:
            raise TypeError(f"unsupported constraint {item!r}; use Ge, Gt, Le, Lt, Interval, MinLen, MaxLen or Len "
                            "from annotated_types")
    return flat


def field_ranges(config_class: type) -> dict[str, Any]:
    """The type of every init field with its ``Annotated`` constraints kept (see the module docstring)."""
    hints = typing.get_type_hints(config_class, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_class) if f.init}


def _range_parts(tp: Any) -> list[str]:
    """``[">= 1", "length >= 1", "items >= 0"]``: the constraints of ``tp`` as text."""
    parts: list[str] = []
    if typing.get_origin(tp) is Annotated:
        base, *metadata = typing.get_args(tp)
        sequence = _sequence_items(base) is not None
        for item in _constraints(metadata):
            if type(item) in _LENGTHS:
                attribute, sign = _LENGTHS[type(item)]
                parts.append(f"length {sign} {getattr(item, attribute)}")
            else:
                attribute, sign = _BOUNDS[type(item)]
                parts.append(f"{'items ' if sequence else ''}{sign} {getattr(item, attribute)}")
        return parts + _range_parts(base)
    inner = _optional_inner(tp)
    if inner is not None:
        return _range_parts(inner)
    items = _sequence_items(tp)
    if items is not None:
        return [f"items {part}" for part in _range_parts(items[1][0])] if items[1][-1] is Ellipsis else []
    return []


def range_text(tp: Any) -> str:
    """The allowed range of a field type with constraints, e.g. ``">= 1"`` or ``"> 0 and <= 1"`` (``""``: any)."""
    return " and ".join(_range_parts(tp))


def _violation(value: Any, constraint: Any) -> bool:
    if type(constraint) in _LENGTHS:
        attribute, _ = _LENGTHS[type(constraint)]
        length = len(value)
        return length < constraint.min_length if attribute == "min_length" else length > constraint.max_length
    bound = getattr(constraint, _BOUNDS[type(constraint)][0])
    if isinstance(constraint, at.Ge):
        return not value >= bound
    if isinstance(constraint, at.Gt):
        return not value > bound
    if isinstance(constraint, at.Le):
        return not value <= bound
    return not value < bound


def check_range(value: Any, tp: Any) -> None:
    """``ValueError`` saying the allowed range if ``value`` (already of the right type) breaks a constraint of ``tp``."""
    if typing.get_origin(tp) is Annotated:
        base, *metadata = typing.get_args(tp)
        check_range(value, base)
        if value is None:
            return
        for constraint in _constraints(metadata):
            is_sequence = isinstance(value, (list, tuple))
            targets = [value] if type(constraint) in _LENGTHS or not is_sequence else list(value)
            if any(_violation(target, constraint) for target in targets):
                raise ValueError(f"{value!r} is out of range: allowed {range_text(tp)}")
        return
    if value is None:
        return
    inner = _optional_inner(tp)
    if inner is not None:
        check_range(value, inner)
        return
    items = _sequence_items(tp)
    if items is not None and isinstance(value, (list, tuple)):
        item_types = [items[1][0]] * len(value) if items[1][-1] is Ellipsis else items[1]
        for item, item_type in zip(value, item_types, strict=False):
            check_range(item, item_type)


def field_types(config_class: type) -> dict[str, Any]:
    """The resolved type of every init field of a config dataclass, in declaration order."""
    hints = typing.get_type_hints(config_class)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_class) if f.init}


def _optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None`` (or ``Optional[X]``), else ``None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
        raise TypeError(f"unions other than 'X | None' are not supported: {tp}")
    return None


def _sequence_items(tp: Any) -> tuple[type, list[Any]] | None:
    """For a tuple/list type: the container and the item type of each position (``[X, ...]`` for variadic)."""
    origin = typing.get_origin(tp)
    if origin not in (tuple, list):
        return None
    args = list(typing.get_args(tp))
    if origin is list:
        if len(args) != 1:
            raise TypeError(f"list fields need one item type: {tp}")
        return list, [args[0], ...]
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        return tuple, [args[0] if args else str, ...]
    if Ellipsis in args:
        raise TypeError(f"unsupported tuple type {tp}")
    return tuple, args


def type_name(tp: Any) -> str:
    """A readable name of a supported field type (raises ``TypeError`` for an unsupported one)."""
    if typing.get_origin(tp) is Annotated:
        return type_name(typing.get_args(tp)[0])
    if tp in _SCALARS:
        return tp.__name__
    if typing.get_origin(tp) is typing.Literal:
        return " | ".join(repr(v) for v in typing.get_args(tp))
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{type_name(inner)} | None"
    items = _sequence_items(tp)
    if items is not None:
        container, item_types = items
        for item in item_types:
            if item is not Ellipsis and (_sequence_items(item) is not None or _optional_inner(item) is not None):
                raise TypeError(f"sequence items must be scalars or literals: {tp}")
        names = ", ".join("..." if t is Ellipsis else type_name(t) for t in item_types)
        return f"list[{type_name(item_types[0])}]" if container is list else f"tuple[{names}]"
    raise TypeError(f"unsupported config field type {tp!r}; use int, float, bool, str, Literal, X | None, "
                    "or a tuple/list of those")


def check_value(value: Any, tp: Any) -> Any:
    """``value`` in canonical form for type ``tp`` (ints accepted for floats, lists for tuples), else ``ValueError``."""
    if tp is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
    elif tp is int:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            if not math.isfinite(float(value)):
                raise ValueError(f"{value} is not a finite number")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(tp) is typing.Literal:
        for choice in typing.get_args(tp):
            if type(choice) is type(value) and choice == value:
                return choice
    elif (inner := _optional_inner(tp)) is not None:
        return None if value is None else check_value(value, inner)
    elif (items := _sequence_items(tp)) is not None:
        container, item_types = items
        if isinstance(value, (list, tuple)):
            if item_types[-1] is Ellipsis:
                return container(check_value(v, item_types[0]) for v in value)
            if len(value) == len(item_types):
                return container(check_value(v, t) for v, t in zip(value, item_types, strict=True))
            raise ValueError(f"{value!r} has {len(value)} items, expected {len(item_types)}")
    raise ValueError(f"{value!r} is not a valid {type_name(tp)}")


def _parse_scalar(text: str, tp: Any) -> Any:
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
    elif tp is int:
        try:
            return int(text)
        except ValueError:
            # "1e6" is a common way to write a step budget; accept it when it is a whole number.
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                if number.is_integer():
                    return int(number)
    elif tp is float:
        try:
            return float(text)
        except ValueError:
            pass
    elif tp is str:
        return text
    elif typing.get_origin(tp) is typing.Literal:
        for choice in typing.get_args(tp):
            if str(choice) == text.strip():
                return choice
    raise ValueError(f"cannot read {text!r} as {type_name(tp)}")


def parse_value(text: str, tp: Any) -> Any:
    """Read the command-line text of a value of type ``tp``; ``ValueError`` if it does not parse."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if text.strip().lower() == "none" else parse_value(text, inner)
    items = _sequence_items(tp)
    if items is not None:
        body = text.strip()
        if body[:1] + body[-1:] in ("[]", "()"):
            body = body[1:-1]
        parts = [p.strip() for p in body.split(",")] if body.strip() else []
        item_types = items[1]
        if item_types[-1] is Ellipsis:
            item_types = [item_types[0]] * len(parts)
        if len(parts) != len(item_types):
            raise ValueError(f"{text!r} has {len(parts)} items, expected {len(item_types)}")
        return check_value([_parse_scalar(p, t) for p, t in zip(parts, item_types, strict=True)], tp)
    return check_value(_parse_scalar(text, tp), tp)


def field_text(tp: Any) -> str:
    """A field's type with its range, e.g. ``"int >= 1"``."""
    allowed = range_text(tp)
    return f"{type_name(tp)} {allowed}" if allowed else type_name(tp)


def allowed_keys(config_class: type) -> str:
    """``"name (type range), ..."`` for every field: the list printed with override errors."""
    return ", ".join(f"{name} ({field_text(tp)})" for name, tp in field_ranges(config_class).items())


def _unknown_key(key: str, config_class: type) -> ConfigError:
    return ConfigError(unknown_name("config key", key, list(field_types(config_class)),
                                    listing=f"Allowed keys: {allowed_keys(config_class)}"))


def parse_assignments(config_class: type, assignments: Iterable[str]) -> dict[str, Any]:
    """Typed overrides from ``["key=value", ...]``; ``ConfigError`` naming the key, its type and the allowed keys."""
    types_ = field_types(config_class)
    ranges = field_ranges(config_class)
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {assignment!r}; allowed keys: {allowed_keys(config_class)}")
        if key not in types_:
            raise _unknown_key(key, config_class)
        try:
            overrides[key] = parse_value(text, types_[key])
        except ValueError as error:
            raise ConfigError(f"--set {key}={text}: {error}; {key!r} expects {field_text(ranges[key])}. "
                              f"Allowed keys: {allowed_keys(config_class)}") from None
        try:
            check_range(overrides[key], ranges[key])
        except ValueError:
            raise ConfigError(f"--set {key}={text}: {key!r} must be {field_text(ranges[key])}, "
                              f"got {overrides[key]!r}") from None
    return overrides


def check_overrides(config_class: type, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Typed Python overrides checked against the fields' types and ranges (errors as `parse_assignments`)."""
    types_ = field_types(config_class)
    ranges = field_ranges(config_class)
    checked: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in types_:
            raise _unknown_key(key, config_class)
        try:
            checked[key] = check_value(value, types_[key])
        except ValueError as error:
            raise ConfigError(f"config key {key!r}: {error}; expected {field_text(ranges[key])}. "
                              f"Allowed keys: {allowed_keys(config_class)}") from None
        try:
            check_range(checked[key], ranges[key])
        except ValueError:
            raise ConfigError(f"config key {key!r} must be {field_text(ranges[key])}, got {checked[key]!r}") from None
    return checked


def build_config(config_class: type, *layers: Mapping[str, Any]) -> Any:
    """The config with each layer of overrides applied in turn (defaults, then size, then the user's)."""
    values: dict[str, Any] = {}
    for layer in layers:
        values.update(check_overrides(config_class, layer))
    try:
        return config_class(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid {config_class.__name__}: {error}") from None


def config_to_json(config: Any) -> dict[str, Any]:
    """The config as a JSON-ready dict (tuples become lists)."""
    def thaw(value: Any) -> Any:
        return [thaw(v) for v in value] if isinstance(value, (list, tuple)) else value

    return {name: thaw(getattr(config, name)) for name in field_types(type(config))}


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``"key: stored -> current"`` for every key whose value differs between two JSON configs."""
    keys: Sequence[str] = list(dict.fromkeys([*stored, *current]))
    return [f"{k}: {stored.get(k, '<absent>')!r} -> {current.get(k, '<absent>')!r}" for k in keys
            if stored.get(k, "<absent>") != current.get(k, "<absent>")]
