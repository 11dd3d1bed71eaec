"""Every ``mtenvs`` id in PettingZoo's registries, so ``pettingzoo.make("parallel", "mtenvs/CartPole-v0", tasks=...)``
works once ``mtenvs.multiagent`` is imported (PettingZoo has no plugin loading and no ``module:id`` syntax)."""

from __future__ import annotations

import pettingzoo

from mtenvs.core.registry import env_ids

#: The constructor behind each PettingZoo env type.
ENTRY_POINTS = {"parallel": "mtenvs.multiagent:parallel_env", "aec": "mtenvs.multiagent:env"}


def register_pettingzoo_ids() -> list[str]:
    """Register every registered mtenvs id as a PettingZoo ``"parallel"`` and ``"aec"`` env; return the new ids.

    Idempotent: ids already in PettingZoo's registries are left alone (re-registering would warn). Call it again
    after registering a family of your own.
    """
    registries = {"parallel": pettingzoo.parallel_registry, "aec": pettingzoo.aec_registry}
    added = []
    for env_id in env_ids():
        for env_type, registry in registries.items():
            if env_id not in registry:
                pettingzoo.register(env_type, env_id, entry_point=ENTRY_POINTS[env_type], kwargs={"env_id": env_id})
                added.append(env_id)
    return sorted(set(added))
