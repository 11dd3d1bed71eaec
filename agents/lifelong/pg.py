"""Single-task policy gradient (the paper's "PG" baseline): every task learns on its own with eNAC or REINFORCE."""

from __future__ import annotations

from typing import Any, Literal

from agents.lifelong.base import PolicySearchLearner
from agents.lifelong.estimators import enac_gradient, reinforce_gradient
from agents.lifelong.policy import Trajectories

Estimator = Literal["enac", "reinforce"]


class PG(PolicySearchLearner):
    """``theta_j <- theta_j + sqrt(2 eps / d_j^T F d_j) d_j`` per task, ``d_j`` the eNAC natural gradient (default) or the
    REINFORCE gradient of the task's own trajectories. Arguments as `PolicySearchLearner`, plus
    ``estimator`` (``"enac"`` or ``"reinforce"``)."""

    name = "PG"

    def __init__(self, env_id: str, tasks: Any, *, estimator: Estimator = "enac", **kwargs: Any) -> None:
        if estimator not in ("enac", "reinforce"):
            raise ValueError(f"PG: estimator must be 'enac' or 'reinforce', got {estimator!r}")
        super().__init__(env_id, tasks, **kwargs)
        self.estimator = estimator

    def _update(self, traj: Trajectories) -> dict[str, Any]:
        gradient = enac_gradient if self.estimator == "enac" else reinforce_gradient
        for j in range(self.num_tasks):
            mine = traj.of_task(j)
            self.thetas[j] = self.gradient_step(self.thetas[j], gradient(self.policy, self.thetas[j], mine), mine)
        return {}
