"""Public wrappers of mtenvs (``import mtenvs.wrappers`` or ``mtenvs.wrappers.TaskObservation``).

See `mtenvs.core.wrappers` for what each one does; this module re-exports exactly its public names.
"""

from mtenvs.core.wrappers import *  # noqa: F403
from mtenvs.core.wrappers import __all__ as __all__
