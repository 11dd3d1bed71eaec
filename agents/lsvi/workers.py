"""The nodes of the cooperative LSVI methods as workers, re-exported from the modules of their algorithms.

Each agent and each server keeps its own state and runs its own computation, in this process or in a Ray actor of
its own (`agents.common.workers`):

* `DistMTAgent` and `DistMTServerNode` (paper 000) are defined beside their driver in `agents.lsvi.distmt`: agent i's
  environments, exploration phases, planning and table F of label policies; the server's value sets G_m, statistics
  F_m, the line-6 test and Group (Alg. 4).
* `CoopAgent` and `CoopServer` (paper 001, Algorithms 1 and 3) are defined beside the algorithm in `agents.lsvi.coop`:
  agent m's environment, data U^m_h, pending tuples W^m_h, ridge statistics and determinant test (Eq. 7); the
  server's union of pending tuples and synchronized statistics.
"""

from __future__ import annotations

from agents.lsvi.coop import CoopAgent, CoopServer
from agents.lsvi.distmt import DistMTAgent, DistMTServerNode

__all__ = ["CoopAgent", "CoopServer", "DistMTAgent", "DistMTServerNode"]
