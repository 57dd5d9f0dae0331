"""Model files qgym does not read, named for what they are: a trusted SB3 PPO or A2C zip ("not an algorithm
qgym evaluates", not "does not fit"), an entry in a compression Python cannot read, a space whose dtype
cannot hold it; and ``python -m qgym.zoo`` without the ``-conf`` a tabular algorithm needs."""

from __future__ import annotations

import pathlib
import shutil
import struct
import subprocess
import sys
import zipfile

import gymnasium as gym
import pytest
from stable_baselines3 import A2C, DQN, PPO
from test_model_files import edit_manifest

from qgym.cli import main
from qgym.training.models import load_model
from qgym.training.network_files import NetworkFileError, load_network_model, save_network_model

LAKE = "FrozenLake-v1"


@pytest.mark.parametrize("algorithm", [PPO, A2C])
def test_a_trusted_sb3_zip_of_another_algorithm_is_named_as_not_evaluated(
    algorithm: type, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.zip"
    algorithm("MlpPolicy", gym.make(LAKE), n_steps=64, device="cpu").save(path)
    assert main(["eval", str(path), "--env", LAKE, "--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert f"{algorithm.__name__} is not an algorithm qgym evaluates ({path} was saved by" in err
    assert "does not fit" not in err


def _unknown_compression(path: pathlib.Path, name: str) -> None:
    """Mark entry ``name`` as compressed with method 99, which Python's zipfile does not know."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw[info.header_offset + 8 : info.header_offset + 10] = struct.pack("<H", 99)
    offset = raw.find(b"PK\x01\x02")
    while offset != -1:
        length = struct.unpack("<H", raw[offset + 28 : offset + 30])[0]
        if raw[offset + 46 : offset + 46 + length].decode() == name:
            raw[offset + 10 : offset + 12] = struct.pack("<H", 99)
        offset = raw.find(b"PK\x01\x02", offset + 4)
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("net") / "dqn.zip"
    model = DQN(
        "MlpPolicy", gym.make(LAKE), learning_starts=0, device="cpu", seed=0, policy_kwargs={"net_arch": [8]}
    )
    return save_network_model(model.learn(20), path)


def test_an_entry_in_an_unknown_compression_is_a_sentence(
    network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = pathlib.Path(shutil.copy(network_file, tmp_path / "model.zip"))
    _unknown_compression(path, "qgym-model.json")
    with pytest.raises(ValueError, match=r"qgym-model\.json in .*model\.zip cannot be read \(.*compression"):
        load_model(path, gym.make(LAKE))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda m: m["observation_space"].update(n=300, dtype="int8"),
            r"a Discrete space of dtype int8 holds -128 to 127; its n, start and .* reach 0 to 300",
            id="discrete-300-int8",
        ),
        pytest.param(
            lambda m: m["action_space"].update(start=-1, dtype="uint8"),
            "a Discrete space of dtype uint8 holds 0 to 255",
            id="negative-start-uint8",
        ),
    ],
)
def test_a_space_whose_dtype_cannot_hold_it_is_refused(
    edit: object, message: str, network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = pathlib.Path(shutil.copy(network_file, tmp_path / "model.zip"))
    edit_manifest(path, edit)
    with pytest.raises(NetworkFileError, match=message):
        load_network_model(path)


def test_zoo_without_conf_for_a_table_names_the_file_to_give() -> None:
    argv = [
        sys.executable,
        "-m",
        "qgym.zoo",
        "train",
        "--algo",
        "qlearning",
        "--env",
        "qgym/Trading-Chain-v0",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert (
        "python -m qgym.zoo train: error: RL Zoo ships no presets for qlearning: give qgym's with -conf"
        in (done.stderr)
    )
    assert "qlearning.yml" in done.stderr
    assert "Traceback" not in done.stderr
