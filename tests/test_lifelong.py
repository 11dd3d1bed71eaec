"""Linear Gaussian policies, eNAC / REINFORCE gradients, the LASSO step and the lifelong learners of paper 002."""

import itertools

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from agents.lifelong import (
    EPGELLA,
    GOMTL,
    PG,
    PGELLA,
    BatchSampler,
    LinearGaussianPolicy,
    Trajectories,
    basis_normal_equations,
    enac_gradient,
    reinforce_gradient,
    reinitialize_zero_columns,
    ridge_basis,
    weighted_lasso,
    weighted_statistics,
)

ENV_ID = "mtenvs/SimpleMass-v0"


def features(x, m):
    """The explicit feature matrix Phi(x) = I_m (x) x^T."""
    return np.kron(np.eye(m), x.reshape(1, -1))


# ------------------------------------------------------------------------------------------------ policy


def test_policy_mean_and_score_match_explicit_features_and_finite_differences():
    rng = np.random.default_rng(0)
    policy = LinearGaussianPolicy(3, 2, sigma=0.7)
    theta, x, u = rng.standard_normal(6), rng.standard_normal(3), rng.standard_normal(2)
    np.testing.assert_allclose(policy.mean(theta[None], x[None])[0], features(x, 2) @ theta)

    def log_density(t):
        r = u - features(x, 2) @ t
        return -0.5 * r @ r / policy.sigma**2

    fd = np.array([(log_density(theta + 1e-6 * e) - log_density(theta - 1e-6 * e)) / 2e-6 for e in np.eye(6)])
    np.testing.assert_allclose(policy.score(theta[None], x[None], u[None])[0], fd, atol=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        LinearGaussianPolicy(3, 2, sigma=0.0)


def test_weighted_statistics_match_the_explicit_sums():
    rng = np.random.default_rng(1)
    policy = LinearGaussianPolicy(3, 2, sigma=0.5)
    horizon, n = 4, 5
    traj = Trajectories(rng.standard_normal((horizon, n, 3)), rng.standard_normal((horizon, n, 2)),
                        rng.standard_normal((horizon, n)), np.zeros(n, dtype=int))
    w = rng.uniform(size=n)
    g_matrix, g_vector = weighted_statistics(policy, traj, w)
    expect_g, expect_v = np.zeros((6, 6)), np.zeros(6)
    for k, step in itertools.product(range(n), range(horizon)):
        phi = features(traj.states[step, k], 2)
        expect_g += w[k] / horizon * phi.T @ phi / 0.25
        expect_v += w[k] / horizon * phi.T @ traj.actions[step, k] / 0.25
    np.testing.assert_allclose(g_matrix, expect_g, atol=1e-12)
    np.testing.assert_allclose(g_vector, expect_v, atol=1e-12)


# ------------------------------------------------------------------------------------------------ gradients


def one_step_lq(rng, n, gain, target, sigma):
    """One-step linear-quadratic problem: x ~ N(0, I), u ~ N(K x, sigma^2), r = -||u - K* x||^2.

    J(K) = -||K - K*||_F^2 - m sigma^2, so grad J = -2 (K - K*) and the Fisher matrix is I / sigma^2."""
    x = rng.standard_normal((1, n, gain.shape[1]))
    u = x[0] @ gain.T + sigma * rng.standard_normal((n, gain.shape[0]))
    r = -np.sum((u - x[0] @ target.T) ** 2, axis=1)
    return Trajectories(x, u[None], r[None], np.zeros(n, dtype=int))


def test_enac_recovers_the_analytic_natural_gradient():
    rng = np.random.default_rng(2)
    sigma = 0.5
    gain, target = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    policy = LinearGaussianPolicy(3, 2, sigma=sigma)
    traj = one_step_lq(rng, 40_000, gain, target, sigma)
    natural = -2.0 * sigma**2 * (gain - target).ravel()  # F^{-1} grad J
    estimate = enac_gradient(policy, gain.ravel(), traj)
    np.testing.assert_allclose(estimate, natural, atol=0.03 * np.linalg.norm(natural))
    plain = enac_gradient(policy, gain.ravel(), traj, baseline=False)  # the constant-J form: same target, noisier
    np.testing.assert_allclose(plain, natural, atol=0.1 * np.linalg.norm(natural))


def test_reinforce_matches_finite_differences_with_common_random_numbers():
    rng = np.random.default_rng(3)
    sigma, n = 0.5, 40_000
    gain, target = rng.standard_normal((1, 2)), rng.standard_normal((1, 2))
    policy = LinearGaussianPolicy(2, 1, sigma=sigma)
    traj = one_step_lq(rng, n, gain, target, sigma)
    x, noise = rng.standard_normal((n, 2)), rng.standard_normal((n, 1))

    def sample_value(theta):  # the same x and noise for every theta: a smooth Monte-Carlo estimate of J
        u = x @ theta.reshape(1, 2).T + sigma * noise
        return -np.mean(np.sum((u - x @ target.T) ** 2, axis=1))

    theta = gain.ravel()
    fd = np.array([(sample_value(theta + 1e-5 * e) - sample_value(theta - 1e-5 * e)) / 2e-5 for e in np.eye(2)])
    estimate = reinforce_gradient(policy, theta, traj)
    np.testing.assert_allclose(estimate, fd, atol=0.08 * np.linalg.norm(fd))


# ------------------------------------------------------------------------------------------------ LASSO


def brute_force_lasso(alpha, h, basis, mu1):
    """Exact LASSO by enumerating every sign pattern (3^p candidate KKT points)."""
    q, c = basis.T @ h @ basis, basis.T @ h @ alpha
    p = q.shape[0]

    def value(s):
        return (alpha - basis @ s) @ h @ (alpha - basis @ s) + mu1 * np.abs(s).sum()

    best = np.zeros(p)
    for pattern in itertools.product([-1, 0, 1], repeat=p):
        active = [k for k in range(p) if pattern[k]]
        if not active:
            continue
        signs = np.array([pattern[k] for k in active], dtype=float)
        s = np.zeros(p)
        s[active] = np.linalg.solve(q[np.ix_(active, active)], c[active] - 0.5 * mu1 * signs)
        if np.all(np.sign(s[active]) == signs) and value(s) < value(best):
            best = s
    return best


@pytest.mark.parametrize("seed", range(20))
def test_lasso_is_exact(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 7))
    p = int(rng.integers(1, d + 1))
    m = rng.standard_normal((d, d)) * np.logspace(0, 1, d)
    h, basis, alpha = m @ m.T + 0.1 * np.eye(d), rng.standard_normal((d, p)), rng.standard_normal(d)
    mu1 = float(10 ** rng.uniform(-2, 1.5))
    np.testing.assert_allclose(weighted_lasso(alpha, h, basis, mu1), brute_force_lasso(alpha, h, basis, mu1), atol=1e-8)


def test_lasso_limits_and_zero_column_reinitialisation():
    rng = np.random.default_rng(4)
    h, basis, alpha = np.diag([1.0, 2.0, 3.0]), rng.standard_normal((3, 2)), rng.standard_normal(3)
    weighted_ls = np.linalg.solve(basis.T @ h @ basis, basis.T @ h @ alpha)
    np.testing.assert_allclose(weighted_lasso(alpha, h, basis, 0.0), weighted_ls, atol=1e-10)
    assert np.all(weighted_lasso(alpha, h, basis, 1e6) == 0.0)
    with pytest.raises(ValueError, match="mu1"):
        weighted_lasso(alpha, h, basis, -1.0)
    partial = np.array([[1.0, 0.0], [2.0, 0.0]])
    filled = reinitialize_zero_columns(partial, rng)
    np.testing.assert_array_equal(filled[:, 0], partial[:, 0])
    assert np.all(filled[:, 1] != 0.0)


# ------------------------------------------------------------------------------------------------ rollouts and learners


@pytest.fixture(scope="module")
def tasks():
    return list(mtenvs.family("SimpleMass").sample(4, seed=0))


def test_batch_sampler_replays_on_single_envs(tasks):
    sampler = BatchSampler(ENV_ID, tasks, n=2, horizon=10)
    policy = LinearGaussianPolicy(*sampler.policy_shape, sigma=0.3)
    thetas = np.random.default_rng(5).standard_normal((len(tasks), policy.dim)) * 0.1
    traj = sampler.sample(policy, thetas, np.random.default_rng(6))
    assert traj.states.shape == (10, 8, 2) and traj.task_index.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    env = gym.make(ENV_ID, task=tasks[2])
    env.reset(seed=0, options={"state": traj.states[0, 5]})
    for step in range(10):
        obs, reward, *_ = env.step(np.clip(traj.actions[step, 5], -1, 1).astype(np.float32))
        assert reward == pytest.approx(traj.rewards[step, 5], rel=1e-5)
        if step < 9:
            np.testing.assert_allclose(obs, traj.states[step + 1, 5], rtol=1e-5, atol=1e-6)
    sampler.close()


def small(cls, tasks, **kwargs):
    return cls(ENV_ID, tasks, n_trajectories=12, horizon=30, sigma=0.1, step_size=0.1, seed=0, **kwargs)


def test_pg_ella_accumulates_the_batch_normal_equations(tasks):
    algo = small(PGELLA, tasks, latent_dim=2).learn(3)
    stored = [algo._stored[j] for j in range(len(tasks))]
    a, b = basis_normal_equations(list(algo.coefficients), [h for _, h in stored], [al for al, _ in stored])
    np.testing.assert_allclose(algo._a, a, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(algo.basis, ridge_basis(a, b, len(tasks), algo.mu2, 2, 2), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(algo.thetas, algo.coefficients @ algo.basis.T)
    assert len(algo.history) == 3 and np.isfinite(algo.history[-1]["mean_reward"])


def test_go_mtl_basis_is_the_ridge_solution_of_its_coefficients(tasks):
    algo = small(GOMTL, tasks, latent_dim=2).learn(2)
    assert 1 <= algo.history[-1]["alternations"] <= algo.alternations
    np.testing.assert_allclose(algo.thetas, algo.coefficients @ algo.basis.T)


def test_epg_ella_copies_agree_and_messages_are_counted(tasks):
    algo = small(EPGELLA, tasks, latent_dim=2, num_nodes=4, extra_edges=2, admm_tol=1e-10, admm_iterations=200)
    seen = []
    algo.learn(2, callback=lambda learner, record: seen.append(record.index))
    assert seen == [1, 2]
    reference = algo.bases[0]
    for basis in algo.bases.values():
        np.testing.assert_allclose(basis, reference, atol=1e-6 * np.linalg.norm(reference))
    record = algo.history[-1]
    assert record["comm_bytes"] > 0 and record["alg2_consensus_errors"][-1] <= 1e-6 * np.linalg.norm(reference)


def test_epg_ella_consensus_operating_point_equals_the_owner_solution(tasks):
    traj_source = BatchSampler(ENV_ID, tasks[:1], n=20, horizon=30)
    consensus = small(EPGELLA, tasks[:1], num_nodes=5, extra_edges=3, admm_iterations=300, admm_tol=1e-12)
    owner = small(EPGELLA, tasks[:1], num_nodes=5, extra_edges=3, operating_point="owner")
    traj = traj_source.sample(consensus.policy, np.zeros((1, 2)), np.random.default_rng(7))
    theta_c, h_c, errors, _ = consensus._operating_point(0, traj)
    theta_o, h_o, _, _ = owner._operating_point(0, traj)
    np.testing.assert_allclose(theta_c, theta_o, atol=1e-6 * np.linalg.norm(theta_o))
    np.testing.assert_allclose(h_c, h_o, rtol=1e-10)
    assert errors[-1] <= 1e-6 * np.linalg.norm(theta_o)


def exact_mean_kl(states, theta, theta_new, sigma):
    """``KL(pi_theta || pi_theta_new)`` of the linear Gaussian policies ``N(Phi(x) theta, sigma^2 I)`` averaged over
    ``states``, from torch's closed form for two normals (``Phi(x) theta = mat(theta) x``, row-major ``m x n``)."""
    import torch

    x = states.reshape(-1, states.shape[-1])
    gain, gain_new = theta.reshape(-1, x.shape[1]), theta_new.reshape(-1, x.shape[1])
    old = torch.distributions.Normal(torch.as_tensor(x @ gain.T), sigma)
    new = torch.distributions.Normal(torch.as_tensor(x @ gain_new.T), sigma)
    return float(torch.distributions.kl_divergence(old, new).sum(-1).mean())


def observed_steps(algo, iterations, monkeypatch):
    """Run ``algo`` and return, per iteration and task, ``(visited states, behaviour theta, operating point)``."""
    steps: list[dict[int, list]] = []
    if isinstance(algo, EPGELLA):
        from agents.lifelong import ProcessorNode

        sample, adopt, owner = ProcessorNode.sample, ProcessorNode.adopt_operating_points, ProcessorNode.owner_points

        def sample_and_keep(node):
            scores = sample(node)
            if node.node == 0:
                steps.append({})
            steps[-1].update({j: [traj.states, node.thetas[j].copy()] for j, traj in node.trajectories.items()})
            return scores

        def adopt_and_keep(node, gathered):
            points = adopt(node, gathered)
            for j, (alpha, _) in points.items():
                steps[-1][j].append(alpha)
            return points

        sample_and_keep.__name__, adopt_and_keep.__name__ = "sample", "adopt_operating_points"  # the pool calls by name
        monkeypatch.setattr(ProcessorNode, "sample", sample_and_keep)
        monkeypatch.setattr(ProcessorNode, "adopt_operating_points", adopt_and_keep)

        def owner_and_keep(node, tasks):  # operating_point="owner"
            points = owner(node, tasks)
            for j, (alpha, _) in points.items():
                steps[-1][j].append(alpha)
            return points

        owner_and_keep.__name__ = "owner_points"
        monkeypatch.setattr(ProcessorNode, "owner_points", owner_and_keep)
        algo.learn(iterations)
        return steps
    sample, point = algo.sampler.sample, algo.natural_gradient_point

    def sample_and_keep(policy, thetas, rng, **kwargs):
        traj = sample(policy, thetas, rng, **kwargs)
        steps.append({j: [traj.of_task(j).states, thetas[j].copy()] for j in range(algo.num_tasks)})
        return traj

    def point_and_keep(traj, theta):  # PG-ELLA steps from the policy the sweep has reached so far
        alpha, h = point(traj, theta)
        j = next(j for j, step in steps[-1].items() if np.array_equal(step[0], traj.states))
        steps[-1][j] = [traj.states, np.array(theta), alpha]
        return alpha, h

    monkeypatch.setattr(algo.sampler, "sample", sample_and_keep)
    monkeypatch.setattr(algo, "natural_gradient_point", point_and_keep)
    for _ in range(iterations):
        algo.learn(1)
        if isinstance(algo, PG):  # its operating point is the new policy
            for j, step in steps[-1].items():
                step.append(algo.thetas[j].copy())
    return steps


@pytest.mark.parametrize("cls, kwargs", [(PG, {}), (PGELLA, {"latent_dim": 2}), (GOMTL, {"latent_dim": 2}),
                                         (EPGELLA, {"latent_dim": 2, "num_nodes": 2, "extra_edges": 0}),
                                         (EPGELLA, {"latent_dim": 2, "num_nodes": 2, "operating_point": "owner"})],
                         ids=["PG", "PG-ELLA", "GO-MTL", "ePG-ELLA", "ePG-ELLA-owner"])
def test_every_policy_search_step_has_the_kl_step_size(tasks, cls, kwargs, monkeypatch):
    epsilon = 0.02
    algo = cls(ENV_ID, tasks[:2], n_trajectories=12, horizon=30, sigma=0.3, step_size=epsilon, seed=3, **kwargs)
    steps = observed_steps(algo, 3, monkeypatch)
    kls = [exact_mean_kl(states, theta, alpha, 0.3) for iteration in steps for states, theta, alpha in
           iteration.values()]
    assert len(kls) == 3 * 2
    np.testing.assert_allclose(kls, epsilon, rtol=1e-8)
    if isinstance(algo, EPGELLA):
        assert [r["operating_point_kl"] for r in algo.history] == pytest.approx([epsilon] * 3, rel=1e-8)
    algo.close()


def test_epg_ella_rwr_step_is_the_reward_weighted_regression_point(tasks, monkeypatch):
    """``step="rwr"`` keeps Algorithm 1's own operating point, whose KL only the weights' temperature sets."""
    algo = small(EPGELLA, tasks[:2], latent_dim=2, num_nodes=2, extra_edges=0, operating_point="owner", step="rwr")
    steps = observed_steps(algo, 2, monkeypatch)
    for iteration, record in zip(steps, algo.history, strict=True):
        kls = [exact_mean_kl(states, theta, alpha, algo.policy.sigma) for states, theta, alpha in iteration.values()]
        assert record["operating_point_kl"] == pytest.approx(np.mean(kls), rel=1e-8)
        assert not np.allclose(kls, algo.step_size, rtol=1e-2)
    algo.close()
    with pytest.raises(ValueError, match="step"):
        small(EPGELLA, tasks, step="bogus")


def factorised_objective(algo):
    """Eq. 2's surrogate at the learner's basis and codes: ``(1/T) sum ||alpha - L s||_H^2 + mu1 |s|_1 + mu2 ||L||^2``."""
    node = algo.pool.workers[0]
    fit = np.mean([(r := node.points[j][0] - algo.basis @ s) @ node.points[j][1] @ r + algo.mu1 * np.abs(s).sum()
                   for j, s in enumerate(algo.coefficients)])
    return fit + algo.mu2 * np.sum(algo.basis**2)


def test_epg_ella_basis_rounds_descend_the_factorised_objective(tasks):
    """Each round of (Algorithm 2, LASSO) is an exact block minimisation, so more rounds never raise Eq. 2's
    surrogate on the same operating points (one node: Algorithm 2 is the ridge solve)."""
    objectives, rounds = [], []
    for budget in (1, 2, 5, 50):
        algo = small(EPGELLA, tasks, latent_dim=2, num_nodes=1, extra_edges=0, basis_rounds=budget, basis_tol=1e-9)
        algo.learn(1)  # the same trajectories and operating points for every budget
        objectives.append(factorised_objective(algo))
        rounds.append(algo.history[-1]["basis_rounds"])
        algo.close()
    assert rounds[:3] == [1, 2, 5] and 5 <= rounds[3] <= 50
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in itertools.pairwise(objectives))
    assert objectives[-1] < objectives[0]
    with pytest.raises(ValueError, match="basis_rounds"):
        small(EPGELLA, tasks, basis_rounds=0)


def test_enac_pg_stabilises_the_unstable_helicopter():
    helicopters = list(mtenvs.family("Helicopter").sample(2, seed=0))  # open-loop unstable: theta = 0 diverges
    algo = PG("mtenvs/Helicopter-v0", helicopters, n_trajectories=30, horizon=60, sigma=0.01,
              step_size=1.0, evaluate=True, seed=1).learn(6)
    assert algo.history[-1]["eval_reward"] > 0.5 * algo.history[0]["eval_reward"]


def test_callback_can_stop(tasks):
    stopped = PG(ENV_ID, tasks, n_trajectories=4, horizon=5, seed=0).learn(5, callback=lambda *_: False)
    assert len(stopped.history) == 1


def test_bad_learner_arguments_raise(tasks):
    with pytest.raises(ValueError, match="latent_dim"):
        small(PGELLA, tasks, latent_dim=3)
    with pytest.raises(ValueError, match="estimator"):
        small(PG, tasks, estimator="bogus")
    with pytest.raises(ValueError, match="operating_point"):
        small(EPGELLA, tasks, operating_point="bogus")
    with pytest.raises(ValueError, match="step_size"):
        PG(ENV_ID, tasks, step_size=0.0)


# ------------------------------------------------------------------------------------------------ experiments


def test_reward_experiment_runs_and_reaches_consensus(tmp_path):
    from mtenvs.runner import execute, get, plan_run

    overrides = {"domains": ("SimpleMass", "Helicopter"), "iterations": 2, "trajectories": 8, "horizon": 150}
    results = execute(plan_run(get("002-lifelong-rewards"), "quick", overrides=overrides, out=tmp_path / "rewards"))
    summary = results["summary"]
    assert len(results["units"]) == 8
    assert summary["alg2_final_consensus_error_max"] <= 1e-6
    final = {(u["params"]["domain"], u["params"]["method"]): u["metrics"]["final_reward"] for u in results["units"]}
    for domain, short in (("SimpleMass", "SM"), ("Helicopter", "HC")):  # one seed: the difference of two units
        others = {m: final[(domain, m)] for m in ("PG", "PG-ELLA", "GO-MTL")}
        best = max(others, key=others.get)
        assert summary[f"best_other/{short}"] == best
        assert summary[f"epg_minus_best_other/{short}"]["mean"] == pytest.approx(final[(domain, "ePG-ELLA")] - others[best])
    seconds = {m: sum(u["metrics"]["seconds"] for u in results["units"] if u["params"]["method"] == m)
               for m in ("PG-ELLA", "GO-MTL", "ePG-ELLA")}
    faster = min(seconds["PG-ELLA"], seconds["GO-MTL"])
    assert summary["epg_minus_fastest_seconds"]["mean"] == pytest.approx(seconds["ePG-ELLA"] - faster)
    # one seed and a quick size: no interval, so no claim on a difference is decided, and none is comparable
    verdicts = {c["metric"]: c["verdict"] for c in results["claims"]}
    assert verdicts["epg_minus_best_other/SM"] == verdicts["epg_minus_fastest_seconds"] == "inconclusive"
    assert verdicts["alg2_final_consensus_error_max"] == "agrees"   # a worst case over every node: exact
    assert not any(c["comparable"] for c in results["claims"])
    assert summary["lqr_optimum_per_step/SM"] < 0
    for unit in results["units"]:  # no learned greedy policy beats the exact LQR optimum on average
        if unit["params"]["domain"] == "SimpleMass":
            assert unit["metrics"]["final_reward"] <= summary["lqr_optimum_per_step/SM"] + 0.05


def test_transfer_experiment_measures_jump_start_from_the_zero_policy(tmp_path):
    from mtenvs.runner import execute, get, plan_run

    overrides = {"train_iterations": 2, "new_iterations": 2, "trajectories": 8, "seeds": 2}
    results = execute(plan_run(get("002-lifelong-transfer"), "quick", overrides=overrides, out=tmp_path / "transfer"))
    units = {(u["params"]["method"], u["params"]["seed"]): u["metrics"] for u in results["units"]}
    for metrics in units.values():  # the jump-start is the first point of the curve above the zero policy's reward
        assert metrics["jump_start"] == pytest.approx(metrics["curve"][0] - metrics["zero_policy_reward"])
    summary = results["summary"]
    rival = max(("PG-ELLA", "GO-MTL"), key=lambda m: summary[f"jump_start/HC/{m}"]["mean"])
    differences = [units[("ePG-ELLA", s)]["jump_start"] - units[(rival, s)]["jump_start"] for s in (0, 1)]
    estimate = summary["epg_minus_best_other_jump_start/HC"]
    assert estimate["mean"] == pytest.approx(np.mean(differences))
    half = 12.706204736174707 * np.std(differences, ddof=1) / np.sqrt(2)   # t_{0.975, 1}
    assert (estimate["low"], estimate["high"]) == pytest.approx((np.mean(differences) - half, np.mean(differences) + half))
    verdict = next(c for c in results["claims"] if c["metric"] == "epg_minus_best_other_jump_start/HC")
    expected = "agrees" if estimate["low"] >= 0 else "differs" if estimate["high"] < 0 else "inconclusive"
    assert verdict["verdict"] == expected and not verdict["comparable"]
