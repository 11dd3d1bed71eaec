"""Registration of families and environment ids.

A family subpackage's ``__init__.py`` only calls `register_family`; importing ``mtenvs`` imports every
family subpackage, so every id is registered with Gymnasium (``gym.make("mtenvs/CartPole-v0")``) and the
family is listed by `families`. Family modules themselves are imported lazily, on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from mtenvs.core.names import unknown_name

if TYPE_CHECKING:  # a type only: Task.from_dict looks families up here, and the family module imports Task
    from mtenvs.core.family import TaskFamily

NAMESPACE = "mtenvs"


@dataclass
class FamilyEntry:
    """Where a family object lives and which environment ids run it."""

    name: str
    family: str
    env_ids: list[str] = field(default_factory=list)


_FAMILIES: dict[str, FamilyEntry] = {}


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def register_family(name: str, family: str) -> None:
    """Declare a family: ``family`` is ``"module.path:ATTRIBUTE"`` of its `TaskFamily` object."""
    _FAMILIES.setdefault(name, FamilyEntry(name, family))


def register_env(
    env_name: str,
    family: str,
    *,
    entry_point: str,
    vector_entry_point: str | None = None,
    version: int = 0,
    max_episode_steps: int | None = None,
    kwargs: dict[str, Any] | None = None,
) -> str:
    """Register ``mtenvs/<env_name>-v<version>`` for a declared family and return the id.

    ``env_name`` is usually the family name; variants with other settings (``kwargs``) get names of their own.
    """
    if family not in _FAMILIES:
        raise ValueError(f"family {family!r} is not declared; call register_family first")
    env_id = f"{NAMESPACE}/{env_name}-v{version}"
    if env_id not in gym.registry:
        gym.register(
            env_id,
            entry_point=entry_point,
            vector_entry_point=vector_entry_point,
            max_episode_steps=max_episode_steps,
            kwargs=kwargs or {},
        )
    if env_id not in _FAMILIES[family].env_ids:
        _FAMILIES[family].env_ids.append(env_id)
    return env_id


def families() -> list[str]:
    """Names of every registered family, e.g. ``["CartPole", ...]``."""
    return list(_FAMILIES)


def _entry(name: str) -> FamilyEntry:
    if name not in _FAMILIES:
        raise ValueError(unknown_name("family", name, _FAMILIES, "families"))
    return _FAMILIES[name]


def family(name: str) -> TaskFamily:
    """The `TaskFamily` called ``name`` (``ValueError`` with close matches if unknown)."""
    return _load(_entry(name).family)


def env_ids(name: str | None = None) -> list[str]:
    """Registered environment ids of one family, or of all families."""
    if name is None:
        return [env_id for entry in _FAMILIES.values() for env_id in entry.env_ids]
    return list(_entry(name).env_ids)


def family_of(env_id: str) -> TaskFamily:
    """The family an environment id runs."""
    for entry in _FAMILIES.values():
        if env_id in entry.env_ids:
            return family(entry.name)
    raise ValueError(f"{env_id!r} is not an mtenvs id; known ids: {', '.join(env_ids())}")
