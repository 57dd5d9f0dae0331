"""Hostile model files: every one is refused with a sentence naming the file or the entry, and no
payload runs (a payload here creates a folder; the tests check it was never created)."""

from __future__ import annotations

import base64
import io
import json
import pathlib
import shutil
import zipfile
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch
from hostile_tools import CreatesFile
from stable_baselines3 import DQN

from qgym.agents import ModelFileError, QLearning, TabularAlgorithm
from qgym.cli import main
from qgym.training.models import load_model
from qgym.training.network_files import NetworkFileError, load_network_model, save_network_model

OLD_RUN = pathlib.Path(__file__).resolve().parents[1] / "data" / "v0.1.0" / "dqn-Trading-Chain"
CHAIN = "qgym/Trading-Chain-v0"


def rewrite(path: pathlib.Path, change: dict[str, bytes | None]) -> None:
    """Replace, add (bytes) or drop (None) entries of a zip file."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries.update({k: v for k, v in change.items() if v is not None})
    for name in [k for k, v in change.items() if v is None]:
        entries.pop(name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def poisoned_sb3_zip(path: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    """A Stable-Baselines3 DQN zip whose ``data`` hides a payload (what SB3's load() would run)."""
    DQN("MlpPolicy", gym.make(CHAIN), learning_starts=0, device="cpu", seed=0).save(path)
    payload = base64.b64encode(cloudpickle.dumps(CreatesFile(marker))).decode()
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    data["gamma"] = {":type:": "<class 'float'>", ":serialized:": payload}
    rewrite(path, {"data": json.dumps(data).encode()})
    return path


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("net") / "dqn.zip"
    model = DQN(
        "MlpPolicy", gym.make(CHAIN), learning_starts=0, device="cpu", seed=0, policy_kwargs={"net_arch": [8]}
    )
    return save_network_model(model.learn(50), path)


def edit_manifest(path: pathlib.Path, edit: Any) -> None:
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("qgym-model.json"))
    edit(manifest)
    rewrite(path, {"qgym-model.json": json.dumps(manifest).encode()})


@pytest.mark.parametrize("command", ["eval", "enjoy", "record", "plot", "play"])
def test_a_foreign_sb3_zip_with_a_payload_is_refused_by_every_command(
    command: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], no_unpickling: None
) -> None:
    marker = tmp_path / "payload-ran"
    model = poisoned_sb3_zip(tmp_path / "foreign.zip", marker)
    argv = {
        "eval": ["eval", str(model), "--env", CHAIN],
        "enjoy": ["enjoy", str(model), "--env", CHAIN],
        "record": ["record", str(model), "--env", CHAIN, "--out", str(tmp_path / "a.gif")],
        "plot": ["plot", "--model", str(model), "--env", CHAIN, "--out", str(tmp_path / "plots")],
        "play": ["play", CHAIN, "--hint", str(model)],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{model} is a Stable-Baselines3 zip qgym did not write" in err
    assert "--trust-pickle" in err
    assert "Traceback" not in err
    assert not marker.exists()
    assert not (tmp_path / "a.gif").exists()


def test_trust_pickle_loads_a_foreign_sb3_zip_its_user_vouches_for(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "foreign.zip"
    DQN("MlpPolicy", gym.make(CHAIN), learning_starts=0, device="cpu", seed=0).save(path)
    loaded = load_model(path, gym.make(CHAIN), CHAIN, trust_pickle=True)
    assert type(loaded.model).__name__ == "DQN"


def test_weights_holding_a_pickle_payload_are_refused(
    network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "payload-ran"
    path = shutil.copy(network_file, tmp_path / "model.zip")
    buffer = io.BytesIO()
    torch.save({"q_net.q_net.0.weight": CreatesFile(marker)}, buffer)
    rewrite(pathlib.Path(path), {"policy.pth": buffer.getvalue()})
    with pytest.raises(NetworkFileError, match=r"policy\.pth in .* refers to 'posix\.mkdir'"):
        load_network_model(pathlib.Path(path))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: m["policy_kwargs"].update(net_arch=[10**9]),
            "net_arch must be a list of at most 16 layer",
        ),
        (
            lambda m: m["policy_kwargs"].update(activation_fn="os.system"),
            r"policy_kwargs \['activation_fn'\]",
        ),
        (lambda m: m["observation_space"].update(n=2**70), "a Discrete space needs an integer n"),
        (lambda m: m["observation_space"].update(n="63"), "a Discrete space needs an integer n"),
        (lambda m: m.update(algorithm="PPO"), "must name one of"),
        (lambda m: m.update(format_version=True), "this qgym reads"),
        (lambda m: m.update(num_timesteps=-1), "num_timesteps must be a non-negative integer"),
        (lambda m: m.update(extra=1), "must have exactly the keys"),
    ],
)
def test_a_network_manifest_out_of_bounds_is_refused_by_name(
    edit: Any, message: str, network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = pathlib.Path(shutil.copy(network_file, tmp_path / "model.zip"))
    edit_manifest(path, edit)
    with pytest.raises(NetworkFileError, match=message):
        load_network_model(path)


def test_a_qgym_0_1_run_is_rebuilt_from_its_config_and_weights_never_its_data(
    tmp_path: pathlib.Path, no_unpickling: None
) -> None:
    marker = tmp_path / "payload-ran"
    run = pathlib.Path(shutil.copytree(OLD_RUN, tmp_path / "run"))
    payload = base64.b64encode(cloudpickle.dumps(CreatesFile(marker))).decode()
    with zipfile.ZipFile(run / "model.zip") as archive:
        data = json.loads(archive.read("data"))
    data["policy_class"][":serialized:"] = payload
    rewrite(run / "model.zip", {"data": json.dumps(data).encode()})
    loaded = load_model(run / "model.zip", gym.make(CHAIN), CHAIN)
    assert loaded.model.predict(np.arange(63), deterministic=True)[0].shape == (63,)
    assert not marker.exists()


def tabular_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "table.zip"
    QLearning("TabularPolicy", gym.make("FrozenLake-v1"), seed=0).learn(200).save(path)
    return path


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A .npy file (magic and header) claiming ``shape`` with no data: 128 bytes promising terabytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    return header.getvalue()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda p: rewrite(p, {"q_values.npy": npy_header((1, 2**40, 8))}),
            r"must be a float64 array of shape",
        ),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["observation_space"].update(n=2**40)),
            "no Q-table in memory can index",
        ),
        (lambda p: _edit_table_manifest(p, lambda d: d.update(format_version=True)), "upgrade qgym"),
        (
            lambda p: _edit_table_manifest(p, lambda d: d.update(algorithm="TabularAlgorithm")),
            "has no learning rule",
        ),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["state"].update(n_envs=0)),
            "n_envs' must be from 1 to 65,536, got 0",
        ),
        (lambda p: _nest_manifest(p, 100_000), "is not valid JSON"),
        (lambda p: _corrupt_entry(p, "q_values.npy"), "cannot be read"),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["state"].update(exploration_rate=1e400)),
            "non-finite",
        ),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["state"].update(exploration_rate=-5)),
            r"state 'exploration_rate' must be a number in \[0, 1\], got -5",
        ),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["state"].update(progress_remaining=-5)),
            r"state 'progress_remaining' must be a number in \[0, 1\], got -5",
        ),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["state"].update(n_envs=10**12)),
            "state 'n_envs' must be from 1 to 65,536, got 1000000000000",
        ),
        (
            lambda p: _edit_table_manifest(
                p, lambda d: d["state"]["rng_state"].update(internal=[0] * 624 + [624])
            ),
            "Mersenne Twister state",
        ),
        (
            lambda p: _edit_table_manifest(p, lambda d: d["hyperparameters"].update(learning_rate=0.0)),
            "learning_rate 0 never changes the table",
        ),
    ],
)
def test_a_tampered_table_file_is_refused_before_anything_large_is_read(
    tamper: Any, message: str, tmp_path: pathlib.Path
) -> None:
    path = tabular_file(tmp_path)
    tamper(path)
    with pytest.raises(ModelFileError, match=message):
        TabularAlgorithm.load(path)


def _edit_table_manifest(path: pathlib.Path, edit: Any) -> None:
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("qgym-model.json"))
    edit(document)
    rewrite(path, {"qgym-model.json": json.dumps(document).encode()})


def _nest_manifest(path: pathlib.Path, depth: int) -> None:
    rewrite(path, {"qgym-model.json": ("[" * depth + "]" * depth).encode()})


def _corrupt_entry(path: pathlib.Path, name: str) -> None:
    """Flip bytes inside the compressed data of ``name``: its CRC no longer matches."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 5, start + 25):
        raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
