"""One Ray session shared by everything that runs inside it (the runner's units, communicators, worker pools).

A session starts a local Ray cluster only when Ray is not initialized yet (``num_cpus=2``, no dashboard, worker
logs not forwarded); ``address="auto"`` or ``"ray://host:port"`` joins an existing cluster instead. It is shut down
only by whoever started it, so code running inside a cluster someone else runs never stops that cluster. Ray is an
optional extra: it is imported only when a session is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOCAL_CLUSTER_DEFAULTS", "acquire", "ray_session", "release"]

#: ``ray.init`` options of a local cluster started here (overridable by keyword).
LOCAL_CLUSTER_DEFAULTS: dict[str, Any] = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}


def acquire(address: str | None, ray_init_kwargs: dict[str, Any]) -> bool:
    """Initialize Ray unless it already is; ``True`` if this call started (and so owns) the session."""
    if address is not None and not isinstance(address, str):
        raise ValueError(f"address must be None (start a local cluster), 'auto' or 'ray://host:port'; got {address!r}")
    import ray

    if ray.is_initialized():
        return False
    # Joining a cluster takes only the caller's options: ray.init refuses num_cpus when connecting.
    options = dict(ray_init_kwargs) if address is not None else {**LOCAL_CLUSTER_DEFAULTS, **ray_init_kwargs}
    ray.init(address=address, **options)
    return True


def release(owned: bool) -> None:
    """Shut Ray down if the caller started the session."""
    if not owned:
        return
    import ray

    if ray.is_initialized():
        ray.shutdown()


@contextmanager
def ray_session(address: str | None = None, **ray_init_kwargs: Any) -> Iterator[None]:
    """Keep one Ray session open for the block (started or joined as described in the module docstring), so the
    communicators and worker pools created inside reuse it instead of each starting their own."""
    owned = acquire(address, ray_init_kwargs)
    try:
        yield
    finally:
        release(owned)
