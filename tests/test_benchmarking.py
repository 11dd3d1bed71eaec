"""Benchmark suites: scores against closed forms, oracle/random anchors, and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from mtenvs import benchmarking
from mtenvs.benchmarking import (
    Suite,
    SuiteEntry,
    iqm,
    register_suite,
    run_suite,
    score_tasks,
    stratified_bootstrap_interval,
)
from mtenvs.cli import main as cli
from mtenvs.evaluation import RandomPolicy

CHAIN_SUITE = register_suite(Suite(
    "test-chain", 0, "test-only suite on the chain family (exact optimum)",
    (SuiteEntry("mtenvs/ToyChain-v0", evaluate=("test", "ood"), budget=10, episodes=3, n_envs=2),),
    seeds=2, quick={"seeds": 2},
))
# One evaluation set only: the random agent's stream then coincides with the suite's random baseline.
CHAIN_OOD_SUITE = register_suite(Suite(
    "test-chain-ood", 0, "test-only suite: the chain family's ood set",
    (SuiteEntry("mtenvs/ToyChain-v0", evaluate=("ood",), budget=10, episodes=3, n_envs=2),), seeds=2, quick={"seeds": 2},
))


class OracleAgent:
    """Always walks right: optimal on every chain task."""

    def __init__(self, env: Any, seed: int) -> None:
        self.env = env

    def learn(self, total_timesteps: int) -> OracleAgent:
        return self

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[Any, Any]:
        return np.ones(len(observation), dtype=np.int64), None


class RandomAgent(OracleAgent):
    """The random reference itself (same seed as the suite's random baseline), so it must score exactly 0."""

    def __init__(self, env: Any, seed: int) -> None:
        super().__init__(env, seed)
        self.policy = RandomPolicy(gym.make("mtenvs/ToyChain-v0").action_space, seed)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[Any, Any]:
        return self.policy.predict(observation)


def test_iqm_is_the_mean_of_the_middle_half() -> None:
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)  # middle four of 1..8
    assert iqm([0, 0, 0, 1, 1, 1, 100, -100]) == pytest.approx(0.5)


def _rliable_interval(matrix: np.ndarray, reps: int) -> np.ndarray:
    """rliable's default IQM interval (``get_interval_estimates``: stratified bootstrap, percentile) of a
    ``(runs, tasks)`` matrix. rliable 1.2 passes ``random_state`` to ``arch``'s bootstrap, which ``arch`` 8 renamed
    ``seed``; the shim forwards it. rliable resamples with NumPy's global generator, hence ``np.random.seed``."""
    import inspect

    import arch.bootstrap as arch_bs
    from rliable import library, metrics

    init = arch_bs.IIDBootstrap.__init__
    if "random_state" not in inspect.signature(init).parameters:
        def forward(self: Any, *args: Any, random_state: Any = None, **kwargs: Any) -> None:
            init(self, *args, seed=random_state, **kwargs)

        arch_bs.IIDBootstrap.__init__ = forward
    try:
        np.random.seed(0)
        _, intervals = library.get_interval_estimates(
            {"agent": matrix}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps)
    finally:
        arch_bs.IIDBootstrap.__init__ = init
    return intervals["agent"].ravel()


def _pooled_interval(matrix: np.ndarray, reps: int) -> tuple[float, float]:
    """The interval of a bootstrap over pooled (task, run) scores, which rliable's default is not."""
    rng = np.random.default_rng(0)
    flat = matrix.ravel()
    stats = [iqm(flat[rng.integers(0, len(flat), len(flat))]) for _ in range(reps)]
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


@pytest.mark.parametrize("shape", [(1, 12), (3, 10), (5, 4), (3, 50)])
def test_iqm_interval_matches_rliable(shape: tuple[int, int]) -> None:
    """Same resample count as rliable; the two intervals differ only by Monte-Carlo error, whose standard deviation
    at 10 000 resamples is about 1% of the interval's width for each bound (4% is a four-sigma bound)."""
    rng = np.random.default_rng(sum(shape))
    runs, tasks = shape
    matrix = rng.normal(0.5, 0.3, size=(1, tasks)) + rng.normal(0.0, 0.3, size=shape)  # task effect + run noise
    reference = _rliable_interval(matrix, reps=10_000)
    ours = np.array(stratified_bootstrap_interval(matrix.T, resamples=10_000))
    width = reference[1] - reference[0]
    if runs == 1:  # nothing to resample within a task: a point, the IQM itself
        assert ours[0] == ours[1] == pytest.approx(iqm(matrix.ravel()))
        assert reference == pytest.approx(ours)
    else:
        assert np.abs(ours - reference).max() < 0.04 * width, (ours, reference)
        pooled = np.array(_pooled_interval(matrix, reps=2_000))
        assert np.abs(pooled - reference).max() > 0.04 * width  # the check can tell the two bootstraps apart


def test_interval_with_unequal_runs_and_bad_input() -> None:
    # A task with one run always contributes its one score; tasks keep their own run counts.
    low, high = stratified_bootstrap_interval([[0.0, 1.0], [0.5], [0.2, 0.4, 0.9]], resamples=2_000)
    assert 0.0 <= low <= iqm([0.0, 1.0, 0.5, 0.2, 0.4, 0.9]) <= high <= 1.0
    for bad, field in [([], "runs_by_task"), ([[1.0], []], "runs_by_task")]:
        with pytest.raises(ValueError, match=field):
            stratified_bootstrap_interval(bad)
    with pytest.raises(ValueError, match="resamples"):
        stratified_bootstrap_interval([[1.0]], resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        stratified_bootstrap_interval([[1.0]], confidence=1.5)


def test_score_formula_and_undefined_span() -> None:
    scores = score_tasks(np.array([5.0, 1.0, 3.0]), np.array([1.0, 1.0, 3.0]), np.array([9.0, 5.0, 3.0]))
    assert scores == [0.5, 0.0, None]


@pytest.mark.parametrize(("suite", "agent", "expected"), [(CHAIN_SUITE, "test_benchmarking:OracleAgent", 1.0),
                                                          (CHAIN_OOD_SUITE, "test_benchmarking:RandomAgent", 0.0)])
def test_oracle_scores_one_and_random_scores_zero(tmp_path: Path, suite: Suite, agent: str, expected: float) -> None:
    document = run_suite(suite, agent, out=tmp_path)
    summary = document["summary"]
    for name, s in summary["sets"].items():
        assert s["iqm"] == pytest.approx(expected) and s["mean"] == pytest.approx(expected), name
    sets = len(suite.entries[0].evaluate)
    assert summary["sets"]["overall"]["n"] + summary["undefined_scores"] == 2 * sets * 8  # seeds × sets × tasks
    assert summary["sets"]["overall"]["n"] >= 8
    assert len(document["units"]) == 2


@pytest.mark.slow
def test_cli_benchmark_with_sb3_ppo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ppo"
    code = cli(["benchmark", "cartpole-generalization", "--agent", "stable_baselines3:PPO", "--out", str(out),
                "--set", "budget_scale=0.01", "--set", "eval_tasks=4", "--set", "episodes=1"])
    assert code == 0
    document = json.loads((out / "results.json").read_text())
    assert document["status"] == "complete"
    sets = document["summary"]["sets"]
    assert set(sets) == {"mtenvs/CartPole-v0:test", "mtenvs/CartPole-v0:ood", "overall"}
    metrics = document["units"][0]["metrics"]["sets"]["test"]
    for r, low, high, s in zip(metrics["returns"], metrics["random"], metrics["anchor"], metrics["scores"], strict=True):
        assert s == pytest.approx((r - low) / (high - low))
    assert high == 500.0  # the LQR reference balances the pole for the whole episode
    with Image.open(out / "benchmark-cartpole-generalization-v0.png") as image:
        assert image.format == "PNG"
    stdout = capsys.readouterr().out
    assert "overall" in stdout
    assert f"scorecard: {out / 'benchmark-cartpole-generalization-v0.png'} and {out / 'results.json'}" in stdout


def test_benchmark_prints_where_its_scorecard_went(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default output folder is relative to the working directory
    assert benchmarking.main(["test-chain", "--agent", "test_benchmarking:OracleAgent"]) == 0
    captured = capsys.readouterr()
    line = captured.out.splitlines()[-1]
    out = Path("runs") / "benchmark-test-chain-v0-test_benchmarking-OracleAgent-quick-seed0"
    assert line == f"scorecard: {out / 'benchmark-test-chain-v0.png'} and {out / 'results.json'}"
    assert (tmp_path / out / "benchmark-test-chain-v0.png").exists() and (tmp_path / out / "results.json").exists()
    assert "benchmark-test-chain-v0: 0/" in captured.err       # progress: plain lines where stderr is no terminal
    assert benchmarking.main(["test-chain", "--agent", "test_benchmarking:OracleAgent", "--force", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.splitlines()[-1] == line


@pytest.mark.parametrize(("argv", "message"), [
    (["benchmark", "cartpole-generalisation", "--agent", "stable_baselines3:PPO"], "did you mean"),
    (["benchmark", "cartpole-generalization", "--agent", "no_such_module:Agent"], "cannot import"),
    (["benchmark", "cartpole-generalization", "--agent", "PPO"], "module:attribute"),
    (["benchmark", "cartpole-generalization", "--agent", "stable_baselines3:PPO", "--set", "seeds=many"], "seeds"),
])
def test_bad_benchmark_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                 message: str) -> None:
    out = tmp_path / "never"
    assert cli([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_suites_are_listed_with_versions() -> None:
    assert "cartpole-generalization-v0" in benchmarking.suites()
    assert benchmarking.get_suite("cartpole-generalization").version == 0


BUILT_IN = [(suite_id, i) for suite_id, suite in benchmarking.suites().items() if not suite_id.startswith("test-")
            for i in range(len(getattr(suite, "entries", ())))]  # continual suites: tests/test_continual.py


@pytest.mark.parametrize(("suite_id", "index"), BUILT_IN, ids=[f"{s}:{i}" for s, i in BUILT_IN])
def test_built_in_suite_anchors_beat_random(suite_id: str, index: int) -> None:
    """Every entry of every shipped suite names registered sets, and its anchor (exact optimum or reference policy)
    is computable and outscores a random policy on the first task of each evaluation set."""
    from mtenvs.core.registry import family_of
    from mtenvs.evaluation import rollout_returns

    entry = benchmarking.get_suite(suite_id).entries[index]
    family = family_of(entry.env_id)
    assert entry.train in family.task_set_names()
    for name in entry.evaluate:
        task = family.task_set(name)[0]
        anchor = benchmarking.anchor_returns(entry, [task], episodes=1, seed=0)[0]
        policy = RandomPolicy(gym.make(entry.env_id, **entry.env_kwargs).action_space, 0)
        random, _ = rollout_returns(policy, entry.env_id, [task] * 3, seed=0, env_kwargs=entry.env_kwargs)
        assert np.isfinite(anchor) and anchor > random.mean(), (entry.env_id, name, anchor, random.mean())
