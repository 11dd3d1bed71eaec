"""The task contract: parameters, tasks, families and task sets, checked against their definitions."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mtenvs
from mtenvs.core import Categorical, Continuous, Integer, ParameterSpace, Task, TaskFamily, TaskSet

CARTPOLE = mtenvs.family("CartPole")


def small_family() -> TaskFamily:
    return TaskFamily("Toy", ParameterSpace([
        Continuous("mass", 1.0, bounds=(0.5, 4.0), train=(0.5, 2.0), units="kg"),
        Continuous("scale", 1.0, bounds=(0.1, 10.0), train=(0.5, 2.0), distribution="log-uniform"),
        Integer("size", 5, bounds=(3, 9), train=(4, 6)),
        Categorical("layout", "a", choices=("a", "b", "c"), train=("a", "b")),
        Continuous("fixed", 0.0, bounds=(-1.0, 1.0)),
    ]), set_sizes={"train": 20, "test": 20, "ood": 20})


def test_default_task_has_every_default() -> None:
    task = CARTPOLE.default_task()
    assert dict(task.params) == CARTPOLE.parameters.defaults()
    assert task["cart_mass"] == 1.0 and task["pole_length"] == 0.5 and task["gravity"] == 9.8


def test_overrides_fill_defaults_and_canonicalize() -> None:
    task = CARTPOLE.task({"pole_length": 1})  # an int is accepted and stored as float
    assert task["pole_length"] == 1.0 and isinstance(task["pole_length"], float)
    assert task == CARTPOLE.task(pole_length=1.0)
    assert task.id == CARTPOLE.task(pole_length=1.0).id


def test_task_id_is_stable_across_processes() -> None:
    # The id is a digest of canonical JSON, not Python's salted hash: recompute it independently.
    import hashlib

    task = CARTPOLE.task(pole_length=0.8)
    canonical = json.dumps({"family": "CartPole", "params": dict(task.params)}, sort_keys=True, separators=(",", ":"))
    assert task.id == "CartPole-" + hashlib.sha256(canonical.encode()).hexdigest()[:10]


def test_task_is_immutable_hashable_and_picklable() -> None:
    task = CARTPOLE.task(pole_length=0.8)
    with pytest.raises(AttributeError):
        task.family = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        task.params["pole_length"] = 3.0  # type: ignore[index]
    assert pickle.loads(pickle.dumps(task)) == task
    assert len({task, CARTPOLE.task(pole_length=0.8)}) == 1


@settings(max_examples=60, deadline=None)
@given(
    mass=st.floats(0.5, 4.0), scale=st.floats(0.1, 10.0), size=st.integers(3, 9), layout=st.sampled_from("abc"),
)
def test_json_round_trip(mass: float, scale: float, size: int, layout: str) -> None:
    fam = small_family()
    task = fam.task(mass=mass, scale=scale, size=size, layout=layout)
    again = Task.from_json(task.to_json(), fam)
    assert again == task and again.id == task.id
    assert fam.validate(again) == task


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"pole_lenght": 0.5}, ["unknown parameter 'pole_lenght'", "did you mean 'pole_length'"]),
        ({"pole_length": float("nan")}, ["'pole_length'", "finite", "[0.05, 2] m"]),
        ({"pole_length": math.inf}, ["'pole_length'", "finite"]),
        ({"pole_length": 5.0}, ["'pole_length' = 5", "outside its bounds [0.05, 2] m"]),
        ({"pole_length": "long"}, ["'pole_length'", "real number", "str"]),
        ({"pole_length": True}, ["'pole_length'", "real number", "bool"]),
        ({"cart_mass": -1.0}, ["'cart_mass' = -1", "[0.05, 5] kg"]),
    ],
)
def test_bad_tasks_raise_naming_parameter_value_and_bounds(overrides: dict, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as error:
        CARTPOLE.task(overrides)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_integer_and_categorical_validation() -> None:
    fam = small_family()
    assert fam.task(size=4.0)["size"] == 4
    with pytest.raises(ValueError, match="'size' must be an integer"):
        fam.task(size=4.5)
    with pytest.raises(ValueError, match=r"'layout' = 'z' is not one of \['a', 'b', 'c'\]"):
        fam.task(layout="z")


def test_sampling_is_seeded_and_inside_regions() -> None:
    fam = small_family()
    assert fam.sample(10, seed=3) == fam.sample(10, seed=3)
    assert fam.sample(10, seed=3) != fam.sample(10, seed=4)
    for task in fam.sample(200, seed=0):
        assert 0.5 <= task["mass"] <= 2.0 and 0.5 <= task["scale"] <= 2.0 and 4 <= task["size"] <= 6
        assert task["layout"] in ("a", "b") and task["fixed"] == 0.0


def test_log_uniform_sampling_is_uniform_in_log_space() -> None:
    fam = small_family()
    logs = np.log([t["scale"] for t in fam.sample(4000, seed=1)])
    # Uniform on [log 0.5, log 2]: mean 0, standard deviation (2 log 2)/sqrt(12).
    assert abs(logs.mean()) < 0.03
    assert abs(logs.std() - 2 * math.log(2) / math.sqrt(12)) < 0.02


def test_standard_task_sets() -> None:
    fam = small_family()
    train, test, ood = fam.task_set("train"), fam.task_set("test"), fam.task_set("ood")
    assert len(train) == len(test) == len(ood) == 20
    assert fam.task_set("train") is train  # cached, and identical for every user
    assert not set(train) & set(test)
    space = fam.parameters
    for task in ood:
        outside = [
            name for name, p in space.items()
            if (isinstance(p, Continuous) and ((p.train is None and task[name] != p.default)
                                               or (p.train is not None and not p.train[0] <= task[name] <= p.train[1])))
            or (isinstance(p, Integer) and not p.train[0] <= task[name] <= p.train[1])  # type: ignore[index]
            or (isinstance(p, Categorical) and task[name] not in p.train)  # type: ignore[operator]
        ]
        assert outside, f"{task} lies inside the training region"
        fam.validate(task)  # still inside the bounds


def test_unknown_task_set_suggests_names() -> None:
    with pytest.raises(ValueError, match="did you mean 'train'"):
        CARTPOLE.task_set("trian")


def test_task_set_json_round_trip_and_index() -> None:
    train = CARTPOLE.task_set("train")
    again = TaskSet.from_json(train.to_json())
    assert list(again) == list(train) and again.name == "train"
    assert train.index(train[7]) == 7
    with pytest.raises(ValueError):
        train.index(CARTPOLE.task(pole_length=1.9))


def test_features_are_normalized_bounds() -> None:
    fam = small_family()
    low = fam.task(mass=0.5, scale=0.1, size=3, layout="a", fixed=-1.0)
    high = fam.task(mass=4.0, scale=10.0, size=9, layout="c", fixed=1.0)
    np.testing.assert_allclose(fam.features(low), [-1, -1, -1, 1, -1, -1, -1])
    np.testing.assert_allclose(fam.features(high), [1, 1, 1, -1, -1, 1, 1])
    assert fam.parameters.feature_names() == ["mass", "scale", "size", "layout=a", "layout=b", "layout=c", "fixed"]


def test_families_registry() -> None:
    assert "CartPole" in mtenvs.families()
    assert mtenvs.family("CartPole") is CARTPOLE
    assert "mtenvs/CartPole-v0" in mtenvs.env_ids("CartPole")
    with pytest.raises(ValueError, match="did you mean 'CartPole'"):
        mtenvs.family("Cartpole")


def test_no_exact_optimum_by_default() -> None:
    assert not CARTPOLE.has_optimum
    with pytest.raises(mtenvs.NoExactOptimum):
        CARTPOLE.optimal_value(CARTPOLE.default_task())


def test_bad_declarations_are_rejected() -> None:
    with pytest.raises(ValueError, match="default"):
        Continuous("x", 5.0, bounds=(0.0, 1.0))
    with pytest.raises(ValueError, match="training region"):
        Continuous("x", 0.5, bounds=(0.0, 1.0), train=(0.5, 2.0))
    with pytest.raises(ValueError, match="log-uniform"):
        Continuous("x", 0.5, bounds=(0.0, 1.0), distribution="log-uniform")
