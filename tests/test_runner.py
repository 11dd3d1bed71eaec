"""The experiment runner: resumable units, carried state, results files, statistics and config parsing.

The experiments here are registered by the tests themselves; none of them ships.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import mtenvs.runner.run as run_module
from mtenvs.core.seeding import stable_seed
from mtenvs.runner import (
    Claim,
    ConfigError,
    Experiment,
    Unit,
    UnitContext,
    UnitRecord,
    UnitResult,
    discover,
    execute,
    experiments,
    jsonable,
    mean_ci,
    mean_over_seeds,
    plan_run,
    read_results,
    register,
    run_experiment,
    schema,
    unit_seed,
    unregister,
)
from mtenvs.runner.config import parse_assignments, parse_value
from mtenvs.runner.report import summary_table

CALLS: Counter[str] = Counter()
CRASH = {"at_call": None, "calls": 0}  # raise on the k-th compute call (once)


class Crash(RuntimeError):
    """The simulated failure."""


def _count_and_maybe_crash(unit: Unit) -> None:
    CRASH["calls"] += 1
    if CRASH["at_call"] is not None and CRASH["calls"] == CRASH["at_call"]:
        CRASH["at_call"] = None
        raise Crash(f"simulated crash in unit {unit.key}")
    CALLS[unit.key] += 1


@pytest.fixture(autouse=True)
def _fresh_counters():
    CALLS.clear()
    CRASH.update(at_call=None, calls=0)
    yield


# ------------------------------------------------------------------------------------------ independent units
@dataclass(frozen=True)
class ToyConfig:
    seeds: int = 3
    tasks: tuple[str, ...] = ("a", "b")
    episodes: int = 4
    scale: float = 1.0


def toy_units(cfg: ToyConfig) -> list[Unit]:
    return [Unit({"seed": s, "task": t}) for s in range(cfg.seeds) for t in cfg.tasks]


def toy_compute(cfg: ToyConfig, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    _count_and_maybe_crash(unit)
    returns = cfg.scale * ctx.rng.normal(size=cfg.episodes)
    return {"return": float(returns.mean()), "per_episode": returns, "task": unit.params["task"]}


def toy_plot(cfg: ToyConfig, records, summary) -> Figure:
    figure = Figure(figsize=(3, 2))
    figure.subplots().plot([r.metrics["return"] for r in records], "o-")
    return figure


TOY = Experiment(
    name="test-toy", title="toy", config=ToyConfig, sizes={"quick": {}, "full": {"seeds": 10}},
    units=toy_units, compute=toy_compute, claims=[Claim("return", 0.0, "close", atol=0.5, source="Fig. 0"),
                                                  Claim("return", "near zero", "text", reason="the paper gives no number")],
    plot=toy_plot,
)


# ------------------------------------------------------------------------------------------------ chained units
@dataclass(frozen=True)
class WalkConfig:
    seeds: int = 2
    blocks: int = 4
    step: float = 0.5


def walk_units(cfg: WalkConfig) -> list[Unit]:
    # Blocks of the two chains interleave, so "previous unit of the chain" is not "previous unit".
    return [Unit({"seed": s, "block": b}, chain=f"seed={s}") for b in range(cfg.blocks) for s in range(cfg.seeds)]


def walk_compute(cfg: WalkConfig, unit: Unit, ctx: UnitContext) -> UnitResult:
    _count_and_maybe_crash(unit)
    position = np.zeros(3) if ctx.state is None else ctx.state["position"]
    position = position + cfg.step * ctx.rng.normal(size=3)
    return UnitResult({"distance": float(np.linalg.norm(position))}, state={"position": position})


WALK = Experiment(name="test-walk", title="walk", config=WalkConfig, sizes={"quick": {}, "full": {"blocks": 100}},
                  units=walk_units, compute=walk_compute)


@pytest.fixture(autouse=True)
def _registered():
    for exp in (TOY, WALK):
        register(exp)
    yield
    for exp in (TOY, WALK):
        unregister(exp.name)


def results_view(document: dict[str, Any]) -> tuple[Any, ...]:
    """What must be identical between runs with the same seed (timings and timestamps excluded)."""
    units = [{k: v for k, v in u.items() if k != "seconds"} for u in document["units"]]
    return units, document["summary"], document["claims"], document["config"], document["status"]


# ------------------------------------------------------------------------------------------------- statistics
def test_mean_ci_matches_the_textbook_t_interval() -> None:
    estimate = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    t_975_4 = 2.7764451051977987  # Student t quantile, 0.975, 4 degrees of freedom (tables: 2.776)
    half = t_975_4 * math.sqrt(2.5) / math.sqrt(5)
    assert estimate.mean == 3.0 and estimate.n == 5
    assert estimate.low == pytest.approx(3.0 - half, rel=1e-12) and estimate.high == pytest.approx(3.0 + half, rel=1e-12)
    assert mean_ci([2.0]).to_json() == {"mean": 2.0, "low": None, "high": None, "n": 1, "confidence": 0.95,
                                        "method": "student-t"}
    assert mean_ci([1.0, math.nan, 3.0]).n == 2  # a diverged replicate is dropped, not averaged


def test_mean_ci_covers_the_true_mean_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 2.0, size=(2000, 4))
    hits = sum(e.low <= 1.0 <= e.high for e in map(mean_ci, samples))
    assert 0.93 <= hits / 2000 <= 0.97


def test_mean_over_seeds_averages_tasks_within_a_seed_first() -> None:
    records = [UnitRecord(i, f"k{i}", {"seed": s, "task": t}, None, 0, {"r": v, "note": "x"})
               for i, (s, t, v) in enumerate([(0, "a", 1.0), (0, "b", 3.0), (1, "a", 5.0), (1, "b", 5.0), (1, "c", 8.0)])]
    summary = mean_over_seeds(None, records)
    assert set(summary) == {"r"}  # strings are left to experiment-specific aggregates
    assert summary["r"] == mean_ci([2.0, 6.0]).to_json()


def _estimate(low: float | None, high: float | None, n: int = 5) -> dict:
    mean = None if low is None else (low + high) / 2
    return {"mean": mean if mean is not None else 1.0, "low": low, "high": high, "n": n, "confidence": 0.95,
            "method": "student-t"}


@pytest.mark.parametrize(("claim", "ours", "verdict"), [
    # close, paper 1.0 with tolerance 0.05: the band is [0.95, 1.05]
    (Claim("m", 1.0, "close", tolerance=0.05), _estimate(0.9, 1.1), "agrees"),       # the paper's value inside
    (Claim("m", 1.0, "close", tolerance=0.05), _estimate(1.04, 1.2), "agrees"),      # the band reaches the interval
    (Claim("m", 1.0, "close", tolerance=0.05), _estimate(1.06, 1.2), "differs"),     # wholly above the band
    (Claim("m", 1.0, "close", tolerance=0.05), _estimate(0.5, 0.94), "differs"),     # wholly below it
    (Claim("m", 0.0, "close", atol=0.1), _estimate(-0.3, -0.1), "agrees"),           # the band's edge counts
    # relations: the whole interval on the right side, wholly on the wrong side, or straddling
    (Claim("m", 0.0, "at_least"), _estimate(0.01, 0.5), "agrees"),
    (Claim("m", 0.0, "at_least"), _estimate(-0.5, -0.01), "differs"),
    (Claim("m", 0.0, "at_least"), _estimate(-0.1, 0.5), "inconclusive"),
    (Claim("m", 0.5, "at_most"), _estimate(0.1, 0.5), "agrees"),
    (Claim("m", 0.5, "at_most"), _estimate(0.51, 0.9), "differs"),
    (Claim("m", 0.5, "at_most"), _estimate(0.4, 0.6), "inconclusive"),
    # a bounded metric at its boundary: regret clipped to [0, inf) whose interval starts at 0
    (Claim("m", 0.0, "at_least"), mean_ci([0.0, 0.0, 0.3], bounds=(0, None)).to_json(), "agrees"),
    (Claim("m", 1.0, "at_least"), mean_ci([1.0, 1.0, 0.8], bounds=(0, 1)).to_json(), "inconclusive"),
    # one seed: an estimate without an interval, or a plain number that is not exact
    (Claim("m", 1.0, "close", tolerance=0.5), _estimate(None, None, n=1), "inconclusive"),
    (Claim("m", 1.0, "close", tolerance=0.5), 1.0, "inconclusive"),
    (Claim("m", 1.0, "at_least"), 0.2, "inconclusive"),
    # exact values are judged on their value
    (Claim("m", 1.0, "close", tolerance=0.05, exact=True), 1.2, "differs"),
    (Claim("m", 1.0, "at_least", exact=True), 1.0, "agrees"),
    (Claim("m", 1.0, "at_most", exact=True), 1.5, "differs"),
    # missing or non-finite values, qualitative claims
    (Claim("m", 1.0), None, "inconclusive"),
    (Claim("m", 1.0, exact=True), float("nan"), "inconclusive"),
    (Claim("m", "beats PG", "text", reason="the paper gives no number"), 3.0, "not checked"),
])
def test_claim_verdicts_come_from_the_interval(claim: Claim, ours, verdict: str) -> None:
    assert claim.judge(ours)[0] == verdict
    assert claim.holds(ours) is {"agrees": True, "differs": False}.get(verdict)


def test_a_verdict_says_why_and_the_mean_alone_decides_nothing() -> None:
    inside_mean_outside_interval = _estimate(0.2, 1.8)  # mean 1.0 passes "at_least 0.9"; the interval does not
    verdict, reason = Claim("m", 0.9, "at_least").judge(inside_mean_outside_interval)
    assert verdict == "inconclusive" and "straddles 0.9" in reason and "[0.2, 1.8]" in reason
    assert "one replicate" in Claim("m", 1.0).judge(_estimate(None, None, n=1))[1]
    assert Claim("m", "x", "text", reason="no figure data").judge(1.0) == ("not checked", "no figure data")
    with pytest.raises(ValueError, match="compare must be one of"):
        Claim("m", 1.0, "roughly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="numeric paper value"):
        Claim("m", "a lot", "at_least")
    with pytest.raises(ValueError, match="reason"):
        Claim("m", "a lot", "text")


def test_bounded_intervals_stay_in_the_metric_range_and_keep_the_t_interval_inside_it() -> None:
    values = [0.01, 0.02, 0.4]
    plain, bounded = mean_ci(values), mean_ci(values, bounds=(0, None))
    assert plain.low < 0 and bounded.low == 0.0 and bounded.high == plain.high and bounded.mean == plain.mean
    assert bounded.method == "student-t, clipped to [0, inf)"
    fraction = mean_ci([1.0, 0.9, 1.0], bounds=(0, 1))
    assert fraction.high == 1.0 and fraction.low == mean_ci([1.0, 0.9, 1.0]).low
    far_from_zero = [20.0, 21.0, 22.0]
    assert mean_ci(far_from_zero, bounds=(0, None)).to_json() | {"method": "student-t"} == mean_ci(far_from_zero).to_json()
    with pytest.raises(ValueError, match="declared range"):
        mean_ci([-0.1, 0.2], bounds=(0, None))
    with pytest.raises(ValueError, match="low <= high"):
        mean_ci([0.1], bounds=(1, 0))


def test_quick_and_scaled_runs_are_labelled_not_comparable() -> None:
    from mtenvs.runner.report import claim_results, comparability, verdict_text

    claims = [Claim("m", 0.0, "at_least")]
    summary = {"m": _estimate(0.1, 0.3)}
    full = claim_results(claims, summary, size="full")[0]
    quick = claim_results(claims, summary, size="quick")[0]
    scaled = claim_results(claims, summary, size="full", overrides={"seeds": 2})[0]
    assert full["comparable"] and verdict_text(full) == "agrees"
    assert not quick["comparable"] and verdict_text(quick) == "agrees (not comparable)"
    assert not scaled["comparable"] and "seeds=2" in comparability("full", {"seeds": 2})
    assert comparability("full", {"backend": "ray"}) == ""  # where it runs does not change what it computes


# ---------------------------------------------------------------------------------------------- running & resuming
def test_a_run_records_every_unit_and_a_summary_computed_from_them(tmp_path: Path) -> None:
    document = run_experiment("test-toy", out=tmp_path)
    assert document == read_results(tmp_path / "results.json")
    assert document["status"] == "complete" and len(document["units"]) == 6 == sum(CALLS.values())
    # Each unit's numbers come from its own seed, a function of the run seed and the unit key only.
    for unit in document["units"]:
        assert unit["seed"] == stable_seed("unit", 0, unit["key"])
        expected = np.random.default_rng(unit["seed"]).normal(size=4)
        assert unit["metrics"]["per_episode"] == expected.tolist()
    per_seed = [np.mean([u["metrics"]["return"] for u in document["units"] if u["params"]["seed"] == s]) for s in range(3)]
    assert document["summary"]["return"]["mean"] == pytest.approx(np.mean(per_seed), rel=1e-12)
    low, high = document["summary"]["return"]["low"], document["summary"]["return"]["high"]
    assert document["claims"][0]["holds"] == (low <= 0.5 and high >= -0.5)  # the interval reaches [-0.5, 0.5]
    assert document["versions"]["numpy"] == np.__version__
    assert document["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))


def test_results_validate_against_the_schema_and_the_schema_rejects_broken_files(tmp_path: Path) -> None:
    import jsonschema  # a dev dependency

    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(schema())
    CRASH["at_call"] = 3
    with pytest.raises(Crash):
        run_experiment("test-walk", out=tmp_path / "walk")
    validator.validate(read_results(tmp_path / "walk" / "results.json"))  # a "running" file
    validator.validate(run_experiment("test-walk", out=tmp_path / "walk"))
    document = run_experiment("test-toy", out=tmp_path / "toy")
    validator.validate(document)
    for broken in ({**document, "status": "done"}, {**document, "summary": None},
                   {**document, "units": [{**document["units"][0], "seed": -1}]},
                   {**document, "plots": ["figure.svg"]}, {k: v for k, v in document.items() if k != "versions"}):
        assert not validator.is_valid(broken)


def test_a_crashed_run_resumes_without_recomputing_finished_units(tmp_path: Path) -> None:
    reference = run_experiment("test-toy", out=tmp_path / "reference")
    CALLS.clear()
    CRASH.update(at_call=4, calls=0)
    with pytest.raises(Crash):
        run_experiment("test-toy", out=tmp_path / "crashed")
    partial = read_results(tmp_path / "crashed" / "results.json")
    assert partial["status"] == "running" and [u["index"] for u in partial["units"]] == [0, 1, 2]
    assert partial["summary"] is None

    resumed = run_experiment("test-toy", out=tmp_path / "crashed")
    assert set(CALLS.values()) == {1} and len(CALLS) == 6  # every unit computed exactly once, across both sessions
    assert results_view(resumed) == results_view(reference)
    assert len(resumed["resumed"]) == 1


def test_chained_state_is_checkpointed_and_restored(tmp_path: Path) -> None:
    reference = run_experiment("test-walk", out=tmp_path / "reference")
    CALLS.clear()
    CRASH.update(at_call=6, calls=0)  # units 0-4 finish: seed 0 has blocks 0-2, seed 1 blocks 0-1
    with pytest.raises(Crash):
        run_experiment("test-walk", out=tmp_path / "crashed")
    checkpoints = sorted(p.name for p in (tmp_path / "crashed" / "checkpoints").iterdir())
    assert checkpoints == ["unit-000003.pkl", "unit-000004.pkl"]  # only the latest state of each chain is kept

    resumed = run_experiment("test-walk", out=tmp_path / "crashed")
    assert set(CALLS.values()) == {1} and len(CALLS) == 8
    assert results_view(resumed) == results_view(reference)
    assert not (tmp_path / "crashed" / "checkpoints").exists()
    # Independent of the runner: the walk's final position is the sum of each block's own seeded step.
    for s in range(2):
        position = sum(0.5 * np.random.default_rng(stable_seed("unit", 0, f"seed={s},block={b}")).normal(size=3)
                       for b in range(4))
        last = next(u for u in resumed["units"] if u["key"] == f"seed={s},block=3")
        assert last["metrics"]["distance"] == pytest.approx(float(np.linalg.norm(position)), rel=1e-12)


def test_a_crash_between_checkpoint_and_results_reruns_the_unit_from_the_older_state(tmp_path: Path, monkeypatch) -> None:
    reference = run_experiment("test-walk", out=tmp_path / "reference")
    real_write = run_module.write_json
    writes = {"n": 0}

    def failing_write(path: Path, document: dict[str, Any]) -> None:
        writes["n"] += 1
        if writes["n"] == 5:  # the initial write, units 0-2, then unit 3's: its checkpoint is already on disk
            raise Crash("power cut")
        real_write(path, document)

    monkeypatch.setattr(run_module, "write_json", failing_write)
    with pytest.raises(Crash):
        run_experiment("test-walk", out=tmp_path / "crashed")
    assert (tmp_path / "crashed" / "checkpoints" / "unit-000003.pkl").exists()
    assert len(read_results(tmp_path / "crashed" / "results.json")["units"]) == 3
    monkeypatch.setattr(run_module, "write_json", real_write)
    assert results_view(run_experiment("test-walk", out=tmp_path / "crashed")) == results_view(reference)


def test_a_complete_run_is_not_recomputed_unless_forced(tmp_path: Path) -> None:
    first = run_experiment("test-toy", out=tmp_path)
    CALLS.clear()
    assert run_experiment("test-toy", out=tmp_path) == first and not CALLS
    forced = run_experiment("test-toy", out=tmp_path, force=True)
    assert sum(CALLS.values()) == 6 and results_view(forced) == results_view(first) and forced["resumed"] == []


def test_resuming_with_another_config_or_seed_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    CRASH["at_call"] = 2
    with pytest.raises(Crash):
        run_experiment("test-toy", out=tmp_path)
    before = (tmp_path / "results.json").read_bytes()
    with pytest.raises(ConfigError, match=r"scale: 1\.0 -> 2\.0"):
        run_experiment("test-toy", out=tmp_path, overrides={"scale": 2.0})
    with pytest.raises(ConfigError, match="seed: 0 -> 1"):
        run_experiment("test-toy", out=tmp_path, seed=1)
    with pytest.raises(ConfigError, match="experiment"):
        run_experiment("test-walk", out=tmp_path)
    assert (tmp_path / "results.json").read_bytes() == before


def test_the_seed_decides_the_results(tmp_path: Path) -> None:
    a = run_experiment("test-toy", out=tmp_path / "a", seed=5)
    b = run_experiment("test-toy", out=tmp_path / "b", seed=5)
    c = run_experiment("test-toy", out=tmp_path / "c", seed=6)
    assert results_view(a) == results_view(b)
    assert results_view(a)[0] != results_view(c)[0]


def test_the_headline_figure_is_a_png(tmp_path: Path) -> None:
    document = run_experiment("test-toy", out=tmp_path)
    assert document["plots"] == ["test-toy.png"]
    with Image.open(tmp_path / "test-toy.png") as image:
        assert image.format == "PNG" and image.size[0] > 100


def test_metrics_stream_to_a_writer_by_chain_position(tmp_path: Path) -> None:
    class Writer:
        def __init__(self) -> None:
            self.scalars: list[tuple[str, float, int]] = []

        def add_scalar(self, tag: str, value: float, step: int | None = None) -> None:
            self.scalars.append((tag, value, step))

        def close(self) -> None:
            pass

    writer = Writer()
    document = execute(plan_run("test-walk", out=tmp_path), writer=writer)
    by_key = {u["key"]: u["metrics"]["distance"] for u in document["units"]}
    unit_scalars = [s for s in writer.scalars if not s[0].startswith("summary/")]
    assert sorted(unit_scalars) == sorted((f"seed={s}/distance", by_key[f"seed={s},block={b}"], b)
                                          for s in range(2) for b in range(4))
    assert ("summary/distance/mean", document["summary"]["distance"]["mean"], 8) in writer.scalars


def test_progress_where_stderr_is_no_terminal_is_plain_lines_and_nothing_without_progress(tmp_path: Path,
                                                                                          capsys) -> None:
    execute(plan_run("test-toy", out=tmp_path / "shown"), progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"test-toy: 0/6 units \| elapsed 00:0\d \| remaining \? \| seed=0,task=a", lines[0])
    assert re.fullmatch(r"test-toy: 6/6 units \| elapsed 00:\d\d \| remaining 00:00", lines[-1])
    execute(plan_run("test-toy", out=tmp_path / "quiet"), progress=False)
    assert capsys.readouterr().err == ""


def test_a_finished_run_is_judged_again_from_its_recorded_units(tmp_path: Path) -> None:
    from mtenvs.runner import rejudge
    from mtenvs.runner.rejudge import rejudge_file

    document = run_experiment("test-toy", out=tmp_path)
    assert rejudge(document) == document  # the same aggregate and claims give the same summary and verdicts
    stale = {**document, "summary": {}, "claims": [{**c, "verdict": "agrees", "holds": True} for c in document["claims"]]}
    (tmp_path / "results.json").write_text(json.dumps(stale))
    assert rejudge_file(tmp_path / "results.json") == document == read_results(tmp_path / "results.json")
    with pytest.raises(ValueError, match="status"):
        rejudge({**document, "status": "running"})


def test_summary_table_puts_the_paper_beside_our_number(tmp_path: Path) -> None:
    document = run_experiment("test-toy", out=tmp_path)
    table = summary_table(document)
    row = next(line for line in table.splitlines() if line.startswith("return") and "Fig. 0" in line)
    assert f"{document['summary']['return']['mean']:.4g}" in row and "≈ 0" in row
    assert ("agrees" if document["claims"][0]["holds"] else "DIFFERS") + " (not comparable)" in row
    assert any("near zero" in line and "not checked" in line for line in table.splitlines())
    assert "not comparable to the paper (size 'quick')" in table and "return: the paper gives no number" in table
    without_claims = summary_table(run_experiment("test-walk", out=tmp_path / "walk"))
    assert without_claims.splitlines()[0].split() == ["metric", "ours"]


# ------------------------------------------------------------------------------------------------ units & results
def test_unit_keys_seeds_and_bad_units() -> None:
    unit = Unit({"seed": 1, "task": "train-3"})
    assert unit.key == "seed=1,task=train-3"
    assert unit_seed(7, unit) == unit_seed(7, Unit({"seed": 1, "task": "train-3"})) != unit_seed(8, unit)
    with pytest.raises(ValueError, match="non-empty"):
        Unit({})
    with pytest.raises(ValueError, match="'x'"):
        Unit({"x": [1, 2]})  # type: ignore[dict-item]


def test_repeated_unit_keys_and_unchained_states_are_errors(tmp_path: Path) -> None:
    twice = Experiment(name="test-twice", title="", config=ToyConfig, sizes={"quick": {}, "full": {}},
                       units=lambda cfg: [Unit({"a": 1}), Unit({"a": 1})], compute=toy_compute)
    with pytest.raises(ValueError, match="repeat: a=1"):
        plan_run(twice, out=tmp_path)
    stateful = Experiment(name="test-stateful", title="", config=ToyConfig, sizes={"quick": {}, "full": {}},
                          units=lambda cfg: [Unit({"a": 1})], compute=lambda cfg, unit, ctx: UnitResult({}, state=1))
    with pytest.raises(ValueError, match="no chain"):
        run_experiment(stateful, out=tmp_path)


def test_jsonable_converts_numpy_and_rejects_other_objects() -> None:
    value = {"a": np.float32(0.5), "b": np.arange(3), "c": (np.int64(2), np.bool_(True)), "d": math.inf, "e": np.nan}
    assert jsonable(value) == {"a": 0.5, "b": [0, 1, 2], "c": [2, True], "d": None, "e": None}
    with pytest.raises(ValueError, match=r"metrics\.x\.y is a object"):
        jsonable({"x": {"y": object()}}, "metrics")
    assert json.loads(json.dumps(jsonable(value), allow_nan=False)) == jsonable(value)


# ---------------------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class Typed:
    n: int = 1
    lr: float = 0.1
    on: bool = False
    name: str = "x"
    mode: Literal["fast", "slow"] = "fast"
    limit: int | None = None
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[float, str] = (0.0, "a")
    tags: list[str] = field(default_factory=list)


def test_set_values_are_parsed_by_the_field_type() -> None:
    parsed = parse_assignments(Typed, ["n=1e3", "lr=-2.5", "on=yes", "name=a=b", "mode=slow", "limit=none",
                                       "sizes=[4, 5,6]", "pair=(1,b)", "tags=x,y"])
    assert parsed == {"n": 1000, "lr": -2.5, "on": True, "name": "a=b", "mode": "slow", "limit": None,
                      "sizes": (4, 5, 6), "pair": (1.0, "b"), "tags": ["x", "y"]}
    assert parse_value("", tuple[int, ...]) == () and parse_value("7", int | None) == 7
    assert isinstance(parse_assignments(Typed, ["lr=3"])["lr"], float)


@pytest.mark.parametrize(("assignment", "message"), [
    ("n=1.5", "'n' expects int"),
    ("n=true", "'n' expects int"),
    ("lr=nan", "not a finite number"),
    ("on=maybe", "'on' expects bool"),
    ("mode=medium", "'fast' | 'slow'"),
    ("pair=1,b,c", "expected 2"),
    ("sizes=1,x", "tuple\\[int, \\.\\.\\.\\]"),
    ("nn=3", "did you mean 'n'"),
    ("n", "key=value"),
])
def test_bad_set_values_name_the_key_the_type_and_the_allowed_keys(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        parse_assignments(Typed, [assignment])
    assert "allowed keys: n (int), lr (float), on (bool)" in str(error.value).lower()


def test_experiment_declarations_are_checked_when_made() -> None:
    common = {"title": "", "units": toy_units, "compute": toy_compute}

    @dataclass
    class Mutable:
        n: int = 1

    @dataclass(frozen=True)
    class Untyped:
        table: dict = None  # type: ignore[assignment]

    @dataclass(frozen=True)
    class NoDefault:
        n: int

    with pytest.raises(ValueError, match="frozen dataclass"):
        Experiment(name="test-x", config=Mutable, sizes={"quick": {}, "full": {}}, **common)
    with pytest.raises(ValueError, match="'table'"):
        Experiment(name="test-x", config=Untyped, sizes={"quick": {}, "full": {}}, **common)
    with pytest.raises(ValueError, match="'n' needs a default"):
        Experiment(name="test-x", config=NoDefault, sizes={"quick": {}, "full": {}}, **common)
    with pytest.raises(ValueError, match="missing full"):
        Experiment(name="test-x", config=ToyConfig, sizes={"quick": {}}, **common)
    with pytest.raises(ValueError, match="'sedes'"):
        Experiment(name="test-x", config=ToyConfig, sizes={"quick": {"sedes": 2}, "full": {}}, **common)
    with pytest.raises(ValueError, match="name"):
        Experiment(name="Bad Name", config=ToyConfig, sizes={"quick": {}, "full": {}}, **common)
    with pytest.raises(ConfigError, match="sizes: quick, full"):
        TOY.make_config("medium")
    assert TOY.make_config("full", {"episodes": 2}) == ToyConfig(seeds=10, episodes=2)


def test_a_name_cannot_be_taken_by_another_module() -> None:
    impostor = Experiment(name="test-toy", title="", config=ToyConfig, sizes={"quick": {}, "full": {}},
                          units=toy_units, compute=math.sqrt)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        register(impostor)


def test_discovery_imports_every_public_module(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "fake_experiments"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helpers.py").write_text("raise RuntimeError('private modules are not experiments')\n")
    (package / "one.py").write_text(
        "from dataclasses import dataclass\n"
        "from mtenvs.runner import Experiment, Unit, register\n"
        "@dataclass(frozen=True)\n"
        "class Config:\n"
        "    n: int = 1\n"
        "register(Experiment(name='test-discovered', title='', config=Config, sizes={'quick': {}, 'full': {}},\n"
        "                    units=lambda cfg: [Unit({'i': 0})], compute=lambda cfg, unit, ctx: {}))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert discover("fake_experiments") == ["fake_experiments.one"]
        assert "test-discovered" in experiments()
    finally:
        unregister("test-discovered")
    (package / "two.py").write_text("raise ImportError('broken')\n")
    with pytest.raises(ImportError, match=r"fake_experiments\.two"):
        discover("fake_experiments")


def test_the_authoring_example_in_the_package_docstring_runs(tmp_path: Path) -> None:
    import textwrap
    import types

    import mtenvs.runner

    source = textwrap.dedent(mtenvs.runner.__doc__.split("::\n", 1)[1].split("\nThen ", 1)[0])
    module = types.ModuleType("docstring_example")
    sys.modules[module.__name__] = module  # so that its dataclass annotations resolve
    try:
        exec(compile(source, "docstring_example", "exec"), module.__dict__)
        document = run_experiment("000-toy", out=tmp_path)
    finally:
        unregister("000-toy")
        del sys.modules[module.__name__]
    assert document["status"] == "complete" and len(document["units"]) == 6
    assert document["summary"]["return"]["n"] == 2 and document["claims"][0]["holds"] is True
