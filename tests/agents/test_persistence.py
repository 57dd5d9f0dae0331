"""save()/load(): complete round trips, SB3 call conventions, atomic writes, and no unpickling ever."""

from __future__ import annotations

import base64
import io
import json
import os
import pathlib
import pickle
import zipfile
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule

from qgym.agents import SARSA, DoubleQLearning, ExpectedSARSA, ModelFileError, QLearning, TabularAlgorithm
from qgym.agents.schedules import TabulatedSchedule

ALGORITHMS = [QLearning, SARSA, ExpectedSARSA, DoubleQLearning]


class CreatesDirectory:
    """A pickle payload: unpickling it creates a directory (a stand-in for arbitrary code)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.path),))


def trained(cls: type[TabularAlgorithm] = QLearning, steps: int = 3_000, **kwargs: Any) -> TabularAlgorithm:
    return cls("TabularPolicy", gym.make("FrozenLake-v1"), seed=1, visit_decay=0.6, **kwargs).learn(steps)


def rewrite(path: pathlib.Path, change: dict[str, bytes | None]) -> None:
    """Replace, add (bytes) or drop (None) entries of a zip file."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries.update({k: v for k, v in change.items() if v is not None})
    for name in [k for k, v in change.items() if v is None]:
        entries.pop(name)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def edit_manifest(path: pathlib.Path, edit: Any) -> None:
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("qgym-model.json"))
    edit(document)
    rewrite(path, {"qgym-model.json": json.dumps(document).encode()})


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_save_then_load_restores_tables_counters_and_predictions(
    cls: type[TabularAlgorithm], tmp_path: pathlib.Path
) -> None:
    model = trained(cls)
    model.save(tmp_path / "model.zip")
    loaded = cls.load(tmp_path / "model.zip")
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded.policy.tables, model.policy.tables)
    np.testing.assert_array_equal(loaded.visit_counts, model.visit_counts)
    assert loaded.hyperparameters() == model.hyperparameters()
    assert (loaded.num_timesteps, loaded._episode_num, loaded.exploration_rate) == (
        model.num_timesteps,
        model._episode_num,
        model.exploration_rate,
    )
    states = np.arange(16)
    np.testing.assert_array_equal(
        loaded.predict(states, deterministic=True)[0], model.predict(states, deterministic=True)[0]
    )
    # The exploring predict continues the same seeded random stream.
    np.testing.assert_array_equal(loaded.predict(states)[0], model.predict(states)[0])


def test_a_loaded_model_continues_training_with_reset_num_timesteps_false(tmp_path: pathlib.Path) -> None:
    model = trained(steps=2_000)
    model.save(tmp_path / "model")
    loaded = QLearning.load(tmp_path / "model", env=gym.make("FrozenLake-v1"))
    before = loaded.visit_counts.sum()
    loaded.learn(1_000, reset_num_timesteps=False)
    assert loaded.num_timesteps == 3_000
    assert loaded.visit_counts.sum() == before + 1_000


def test_save_appends_zip_to_a_path_without_suffix_as_sb3_does(tmp_path: pathlib.Path) -> None:
    trained(steps=100).save(tmp_path / "nested" / "model")
    assert (tmp_path / "nested" / "model.zip").is_file()
    assert QLearning.load(str(tmp_path / "nested" / "model")).num_timesteps == 100


def test_save_and_load_work_with_file_objects() -> None:
    model = trained(steps=500)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(QLearning.load(buffer).q_table, model.q_table)


def test_tabular_algorithm_load_returns_the_saved_algorithm(tmp_path: pathlib.Path) -> None:
    trained(ExpectedSARSA, steps=100).save(tmp_path / "model.zip")
    assert type(TabularAlgorithm.load(tmp_path / "model.zip")) is ExpectedSARSA


def test_loading_with_another_algorithm_class_names_the_right_one(tmp_path: pathlib.Path) -> None:
    trained(SARSA, steps=100).save(tmp_path / "model.zip")
    with pytest.raises(ModelFileError, match=r"holds a 'SARSA' model.*SARSA\.load"):
        QLearning.load(tmp_path / "model.zip")


def test_loading_with_an_env_of_other_spaces_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    trained(steps=100).save(tmp_path / "model.zip")
    with pytest.raises(
        ValueError, match="does not match the saved QLearning: Observation spaces do not match"
    ):
        QLearning.load(tmp_path / "model.zip", env=gym.make("FrozenLake8x8-v1"))


@pytest.mark.parametrize(
    ("learning_rate", "check"),
    [
        (0.25, lambda lr: lr == 0.25),
        (ConstantSchedule(0.3), lambda lr: lr == 0.3),
        (
            LinearSchedule(0.5, 0.1, 0.4),
            lambda lr: isinstance(lr, LinearSchedule) and lr(0.8) == pytest.approx(0.3),
        ),
        (
            lambda p: 0.05 + 0.1 * p**2,
            lambda lr: isinstance(lr, TabulatedSchedule) and lr(0.5) == pytest.approx(0.075, abs=1e-4),
        ),
    ],
)
def test_learning_rates_and_schedules_are_saved_as_plain_data(
    learning_rate: Any, check: Any, tmp_path: pathlib.Path
) -> None:
    trained(steps=100, learning_rate=learning_rate).save(tmp_path / "model.zip")
    assert check(QLearning.load(tmp_path / "model.zip").learning_rate)


def test_rl_zoo_style_custom_objects_and_keyword_overrides_apply(tmp_path: pathlib.Path) -> None:
    trained(steps=100).save(tmp_path / "model.zip")
    custom = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0}
    loaded = QLearning.load(tmp_path / "model.zip", custom_objects=custom, gamma=0.5, policy="MlpPolicy")
    assert (loaded.learning_rate, loaded.gamma) == (0.0, 0.5)
    with pytest.raises(ValueError, match="accepts as keyword arguments only"):
        QLearning.load(tmp_path / "model.zip", buffer_size=10)


def test_load_never_unpickles(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trained(steps=100).save(tmp_path / "model.zip")

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("load() unpickled something")

    for module, name in [(pickle, "loads"), (pickle, "load"), (cloudpickle, "loads"), (pickle, "Unpickler")]:
        monkeypatch.setattr(module, name, forbidden)
    assert QLearning.load(tmp_path / "model.zip").num_timesteps == 100


def test_a_pickle_payload_in_the_json_is_refused_and_never_runs(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "payload-ran"
    payload = base64.b64encode(cloudpickle.dumps(CreatesDirectory(marker))).decode()
    trained(steps=100).save(tmp_path / "model.zip")
    edit_manifest(
        tmp_path / "model.zip",
        lambda doc: doc["hyperparameters"].update(learning_rate={":serialized:": payload, "__module__": "x"}),
    )
    with pytest.raises(ModelFileError, match=r"pickled object.*hyperparameters\.learning_rate"):
        QLearning.load(tmp_path / "model.zip")
    assert not marker.exists()
    pickle.loads(base64.b64decode(payload))  # the payload is live: unpickling it does run it
    assert marker.exists()


def test_a_stable_baselines3_file_with_a_payload_is_refused_though_sb3_would_run_it(
    tmp_path: pathlib.Path,
) -> None:
    marker = tmp_path / "payload-ran"
    payload = base64.b64encode(cloudpickle.dumps(CreatesDirectory(marker))).decode()
    data = {"learning_rate": {":type:": "<class 'float'>", ":serialized:": payload}}
    with zipfile.ZipFile(tmp_path / "sb3.zip", "w") as archive:
        archive.writestr("data", json.dumps(data))
        archive.writestr("_stable_baselines3_version", "2.9.2")
    with pytest.raises(ModelFileError, match="Stable-Baselines3 model file"):
        QLearning.load(tmp_path / "sb3.zip")
    assert not marker.exists()
    load_from_zip_file(tmp_path / "sb3.zip", load_data=True)  # SB3's own loader executes it
    assert marker.exists()


def test_an_object_array_is_refused_and_never_runs(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "payload-ran"
    model = trained(steps=100)
    model.save(tmp_path / "model.zip")
    poisoned = np.empty(model.policy.tables.shape, dtype=object)
    poisoned.fill(0.0)
    poisoned.flat[0] = CreatesDirectory(marker)
    buffer = io.BytesIO()
    np.save(buffer, poisoned, allow_pickle=True)
    rewrite(tmp_path / "model.zip", {"q_values.npy": buffer.getvalue()})
    with pytest.raises(ModelFileError, match="pickled objects are refused"):
        QLearning.load(tmp_path / "model.zip")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda p: rewrite(p, {"extra.pkl": b"\x80\x04N."}), "must hold exactly the entries"),
        (lambda p: rewrite(p, {"visit_counts.npy": None}), "must hold exactly the entries"),
        (lambda p: rewrite(p, {"qgym-model.json": b"{not json"}), "not valid JSON"),
        (lambda p: edit_manifest(p, lambda d: d.update(extra=1)), "must have exactly the keys"),
        (lambda p: edit_manifest(p, lambda d: d["state"].update(rng_state=[1, 2])), "random generator state"),
        (lambda p: edit_manifest(p, lambda d: d.update(format_version=99)), "upgrade qgym"),
        (lambda p: edit_manifest(p, lambda d: d["observation_space"].update(n=17)), "of shape"),
        (
            lambda p: edit_manifest(p, lambda d: d["hyperparameters"].update(gamma="0.9")),
            "gamma must be a number",
        ),
        (lambda p: p.write_bytes(b"not a zip"), "not a zip archive"),
    ],
)
def test_tampered_or_foreign_files_are_refused(tamper: Any, message: str, tmp_path: pathlib.Path) -> None:
    trained(steps=100).save(tmp_path / "model.zip")
    tamper(tmp_path / "model.zip")
    with pytest.raises(ModelFileError, match=message):
        QLearning.load(tmp_path / "model.zip")


def test_a_failed_save_leaves_the_previous_file_intact(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.zip"
    trained(steps=100).save(path)
    good = path.read_bytes()

    def crash(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        trained(steps=200).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip", "sb3-logs"]


def test_save_leaves_no_temporary_files(tmp_path: pathlib.Path) -> None:
    model = trained(steps=100)
    model.save(tmp_path / "a.zip")
    model.save(tmp_path / "a.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "sb3-logs"]
