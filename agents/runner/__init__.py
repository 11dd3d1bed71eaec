"""The experiment runner now lives in `mtenvs.runner`; this package re-exports it for existing imports.

`from agents.runner import register` and `import agents.runner.run` keep working and give the very same objects as
`mtenvs.runner` (one registry). New code imports `mtenvs.runner`.
"""

import importlib
import sys

from mtenvs.runner import *  # noqa: F403
from mtenvs.runner import __all__  # noqa: F401

for _name in ("config", "registry", "report", "results", "run", "session", "stats", "units"):
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"mtenvs.runner.{_name}")
del _name
