"""Node classes live beside their algorithms; the module paths older code and checkpoints name still resolve.

A checkpoint pickles a worker's class (and the helpers its pickle calls) by module path, so a checkpoint written when
the class lived in another module names that module. Unpickling such a reference (the ``GLOBAL`` opcode a pickle
stores) must give the class of today.
"""

from __future__ import annotations

import pickle

import pytest


def global_reference(module: str, name: str) -> object:
    """What unpickling a pickle's reference to ``module.name`` gives (protocol 0 ``GLOBAL`` opcode)."""
    return pickle.loads(f"c{module}\n{name}\n.".encode())


@pytest.mark.parametrize(("old", "new", "name"), [
    ("agents.dcpg.workers", "agents.dcpg.tabular", "TabularAgentWorker"),
    ("agents.dcpg.workers", "agents.dcpg.tabular", "ModelEpisodes"),
    ("agents.dcpg.workers", "agents.dcpg.tabular", "EnvEpisodes"),
    ("agents.dcpg.workers", "agents.dcpg.tabular", "monte_carlo_gradient"),
    ("agents.dcpg.workers", "agents.dcpg.deep", "DeepAgentWorker"),
    ("agents.dcpg.workers", "agents.dcpg.deep", "_rebuild_vec_env_wrapper"),
    ("agents.dcpg.deep", "agents.dcpg.learners", "EpisodeLog"),
    ("agents.lsvi.workers", "agents.lsvi.distmt", "DistMTAgent"),
    ("agents.lsvi.workers", "agents.lsvi.distmt", "DistMTServerNode"),
    ("agents.lsvi.workers", "agents.lsvi.coop", "CoopAgent"),
    ("agents.lsvi.workers", "agents.lsvi.coop", "CoopServer"),
])
def test_a_pickled_reference_to_the_old_path_gives_the_class_of_today(old: str, new: str, name: str) -> None:
    import importlib

    defined = getattr(importlib.import_module(new), name)
    assert global_reference(old, name) is defined
    assert getattr(defined, "__module__", new) == new  # defined there, not re-exported from elsewhere


def test_an_unknown_name_in_a_re_export_module_raises() -> None:
    import agents.dcpg.workers

    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        agents.dcpg.workers.Nope  # noqa: B018
