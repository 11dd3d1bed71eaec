"""The Ray scale study (``benchmarks/ray_scaling.py``): its quick mode runs on both backends with the same message and
byte counts as a ring's closed form, prints a row per (agents, steps), and its model adds up as documented."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scaling() -> Any:
    """The benchmark script as a module (it is not part of an installed package)."""
    spec = importlib.util.spec_from_file_location("ray_scaling_benchmark", ROOT / "benchmarks" / "ray_scaling.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)
    if importlib.util.find_spec("cloudpickle") is not None:
        import cloudpickle

        with contextlib.suppress(ValueError):  # it was never registered (Ray absent)
            cloudpickle.unregister_pickle_by_value(module)


def test_model_adds_compute_waves_calls_messages_and_links(scaling: Any) -> None:
    model = scaling.Model(t_agent={10: 1e-3}, o_call=2e-4, o_msg=5e-4, bandwidth=1e6, rtt=1e-3)
    # 5 agents on 1 machine x 4 cores: two waves of compute, 2 pool calls of 5 actor calls, 10 messages, no link
    assert model.predict(5, 10, messages=10, nbytes=4000, cores=4) == pytest.approx(2e-3 + 10 * 2e-4 + 10 * 5e-4)
    # on 2 machines x 4 cores: one wave, plus 4000 bytes at 1 MB/s and two round trips
    assert model.predict(5, 10, messages=10, nbytes=4000, machines=2, cores=4) == pytest.approx(
        1e-3 + 10 * 2e-4 + 10 * 5e-4 + 4e-3 + 2e-3)


def test_bad_options_are_usage_errors(scaling: Any) -> None:
    for argv in (["--cluster", "4by16"], ["--agents", "4,0"], ["--rounds", "0"]):
        with pytest.raises(SystemExit) as exit_:
            scaling.main(argv)
        assert exit_.value.code == 2


def test_quick_mode_counts_alike_on_both_backends(scaling: Any, ray_cluster: Any, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    captured: list[dict[str, Any]] = []

    def run(*args: Any) -> list[dict[str, Any]]:
        rows = original(*args)
        captured.extend(rows)
        return rows

    original = scaling.run
    monkeypatch.setattr(scaling, "run", run)
    assert scaling.main(["--quick", "--params", "16"]) == 0
    out = capsys.readouterr().out
    assert [(r["agents"], r["steps"]) for r in captured] == [(2, 10), (2, 200), (4, 10), (4, 200)]
    for row in captured:
        edges = 1 if row["agents"] == 2 else row["agents"]           # ring(2) is one edge, ring(n) has n
        assert row["messages"] == row["messages_ray"] == 2 * edges    # a message each way along every edge
        assert row["bytes"] == row["bytes_ray"] == 2 * edges * 16 * 8  # 16 float64 each
        assert all(math.isfinite(row[key]) and row[key] > 0 for key in ("round_local", "round_ray", "mix_ray"))
    table = [line.split() for line in out.splitlines() if line[:3].strip().isdigit()]
    assert [(int(cells[0]), int(cells[1])) for cells in table if len(cells) > 5] == [(2, 10), (2, 200), (4, 10), (4, 200)]
    assert [int(cells[0]) for cells in table if len(cells) == 4] == [2, 4]   # the per-N overheads
    assert "prediction for N = 4 on 4 machines x 16 cores" in out
