"""DCPG's entropy-regularized objective and its exact policy gradient on a known finite MDP (paper 003, Eqs. 4-8).

"A Decentralized Policy Gradient Approach to Multi-Task Reinforcement Learning" (Zeng et al., UAI 2021; App. A,
with the matrix conventions corrected so that ``P_pi`` is row-stochastic): for the tabular softmax policy
``pi_theta`` (Eq. 4) of a `mtenvs.gridworld.tabular.TabularMDP`,

* the relative entropy to uniform (Eq. 6, with the sum over states the paper omits)
  ``RE(pi) = -(1/(|S||A|)) sum_{s,a} log pi(a|s) - log|A|``;
* the regularized objective ``L^lambda(theta; rho) = V^pi(rho) - lambda RE(pi)`` (Eq. 7);
* its exact gradient (Eq. 8):
  ``dL/dtheta[s, a] = d_rho(s) pi(a|s) A(s, a) / (1 - gamma) + (lambda / |S|) (1/|A| - pi(a|s))``.

The environment side (exact values, visitation, optimal values) belongs to the model; what is optimized and how is
the method's, so it lives here beside DCPG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax, softmax

from mtenvs.gridworld.tabular import TabularMDP

__all__ = ["objective", "policy_gradient", "relative_entropy", "softmax_policy"]


def softmax_policy(theta: Any) -> np.ndarray:
    """The tabular softmax policy ``pi(a|s) = exp(theta[s, a]) / sum_a' exp(theta[s, a'])`` (Eq. 4)."""
    return softmax(np.asarray(theta, dtype=np.float64), axis=-1)


def relative_entropy(theta: Any) -> float:
    """``RE(pi_theta) = E_{s ~ Unif(S)} KL(Unif(A) || pi(.|s)) = -(1/(|S||A|)) sum_{s,a} log pi(a|s) - log|A|``."""
    log_pi = log_softmax(np.asarray(theta, dtype=np.float64), axis=-1)
    return float(-log_pi.mean() - np.log(log_pi.shape[-1]))


def objective(model: TabularMDP, theta: Any, lam: float = 0.0, start: Any = None) -> float:
    """``L^lambda(theta; rho) = V^{pi_theta}(rho) - lambda RE(pi_theta)`` (Eq. 7, one task; ``start`` overrides
    the model's ``rho``)."""
    return model.value(softmax_policy(theta), start) - lam * relative_entropy(theta)


def policy_gradient(model: TabularMDP, theta: Any, lam: float = 0.0, start: Any = None) -> np.ndarray:
    """The exact gradient of `objective` with respect to the softmax parameters ``theta[s, a]`` (Eq. 8)."""
    pi = softmax_policy(theta)
    v, d = model.values_and_visitation(pi, start)                                              # Eq. 18, d_rho^pi
    advantage = model.rewards + model.gamma * model.transitions @ v - v[:, None]               # Eq. 20 minus V
    value_gradient = d[:, None] * pi * advantage / (1.0 - model.gamma)                        # Eq. 16
    regularizer_gradient = (lam / model.num_states) * (1.0 / model.num_actions - pi)          # -lambda dRE/dtheta
    return value_gradient + regularizer_gradient
