"""A run folder never runs code: the modules its config.yml names (``env_id: module:ID``, ``gym_packages``)
are never imported by the commands that read run folders, even when the module ships inside the folder
and the command starts there (``python -m qgym eval .`` puts the folder on ``sys.path``). A module the
person names on the command line (``--gym-packages``) is imported: that is how their own env arrives.

Every case runs the installed package in a subprocess started inside the run folder, as a person would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qgym.cli import main

ZEN = "Beautiful is better than ugly"
MODULE = "shipped_env"
# What the shipped module does when imported: create a folder next to itself (proof that it ran), then
# register an env, as a real env module would.
PAYLOAD = """
import os, pathlib
os.mkdir(pathlib.Path(__file__).with_name("PAYLOAD-RAN"))
import gymnasium
gymnasium.register("Shipped-v0", entry_point="gymnasium.envs.toy_text:FrozenLakeEnv", max_episode_steps=100)
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A genuine one-seed run and a genuine two-seed run on FrozenLake-v1, trained once."""
    logs = tmp_path_factory.mktemp("runs")
    base = ["--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "2000", "--log-folder", str(logs)]
    assert main(["train", *base, "--eval-episodes", "2"]) == 0
    assert main(["train", *base, "--seeds", "2"]) == 0
    return logs / "qlearning"


def tampered(source: Path, folder: Path, **config: object) -> Path:
    """A copy of the run ``source`` with keys of its config.yml replaced and the module shipped in it."""
    shutil.copytree(source, folder)
    for path in [folder / "config.yml", *folder.glob("seed_*/config.yml")]:
        document = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**document, **config}))
    (folder / f"{MODULE}.py").write_text(PAYLOAD)
    return folder


def qgym(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m qgym ARGV`` started inside ``folder`` (which Python then puts on sys.path)."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "SB3_LOGDIR": str(folder)}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "qgym", *argv],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


READERS = {
    "eval": ["eval", ".", "--episodes", "2"],
    "enjoy": ["enjoy", ".", "--fps", "1000"],
    "record": ["record", ".", "--out", "a.gif", "--max-frames", "3"],
    "plot": ["plot", "--model", ".", "--out", "plots"],
}


@pytest.mark.parametrize("command", list(READERS))
@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"env_id": "this:X-v0"}, "env_id"),
        ({"env_id": f"{MODULE}:Shipped-v0"}, "env_id"),
        ({"env_id": "Shipped-v0", "gym_packages": [MODULE]}, "gym_packages"),
    ],
    ids=["this", "shipped-env-id", "shipped-gym-packages"],
)
def test_a_module_named_in_a_run_folder_is_never_imported(
    command: str, config: dict[str, object], key: str, trained: Path, tmp_path: Path
) -> None:
    folder = tampered(trained / "FrozenLake-v1_1", tmp_path / "run", **config)
    result = qgym(folder, *READERS[command])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "config.yml" in result.stderr
    assert f"(key {key}" in result.stderr
    assert "a module named in a file is never imported" in result.stderr
    assert "Traceback" not in result.stderr
    assert ZEN not in result.stdout
    assert not (folder / "PAYLOAD-RAN").exists()


@pytest.mark.parametrize("command", ["eval", "compare", "plot"])
def test_a_multi_seed_run_naming_a_module_runs_nothing(command: str, trained: Path, tmp_path: Path) -> None:
    folder = tampered(trained / "FrozenLake-v1_2", tmp_path / "run", env_id=f"{MODULE}:Shipped-v0")
    argv = {
        "eval": ["eval", ".", "--episodes", "2"],
        "compare": ["compare", ".", "."],
        "plot": ["plot", "--run", ".", "--out", "plots"],
    }[command]
    result = qgym(folder, *argv)
    assert "Traceback" not in result.stderr
    assert not (folder / "PAYLOAD-RAN").exists()
    if command == "eval":  # it makes the env: refused, naming the seed's file and key
        assert result.returncode == 2
        assert "seed_0" in result.stderr
        assert "config.yml (key env_id" in result.stderr
    else:  # compare and plot --run read figures only: they make no env, so the name stays a name
        assert result.returncode == 0, result.stderr


def test_the_person_may_import_the_shipped_module_by_naming_it(trained: Path, tmp_path: Path) -> None:
    folder = tampered(
        trained / "FrozenLake-v1_1", tmp_path / "run", env_id="Shipped-v0", gym_packages=[MODULE]
    )
    result = qgym(folder, "eval", ".", "--episodes", "2", "--gym-packages", MODULE)
    assert result.returncode == 0, result.stderr
    assert (folder / "PAYLOAD-RAN").is_dir()  # they named it: it was imported, as RL Zoo's flag does
    assert "model.zip on Shipped-v0" in result.stdout


def test_trust_pickle_also_imports_the_modules_a_run_names(trained: Path, tmp_path: Path) -> None:
    folder = tampered(trained / "FrozenLake-v1_1", tmp_path / "run", env_id=f"{MODULE}:Shipped-v0")
    result = qgym(folder, "eval", ".", "--episodes", "2", "--trust-pickle")
    assert result.returncode == 0, result.stderr
    assert (folder / "PAYLOAD-RAN").is_dir()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("env_wrapper:'this.X'", "env_wrapper 'this.X' is not one of the allowed wrappers"),
        ("callback:'this.X'", "names a callback; RL Zoo would import it by name"),
        ("vec_env_wrapper:'this.X'", "names a vec_env_wrapper"),
        ("policy:'this.X'", "policy 'this.X' is a dotted name RL Zoo would import"),
        ("normalize:'__import__(\"this\")'", "normalize: RL Zoo would eval"),
        ("policy_kwargs:'dict(a=__import__(\"this\"))'", "only numbers, strings"),
    ],
)
def test_qgym_zoo_refuses_params_rl_zoo_would_import(params: str, message: str, tmp_path: Path) -> None:
    # A this.py beside the command shadows the standard library's: whatever imports 'this' runs it.
    marker = "import os, pathlib\nos.mkdir(pathlib.Path(__file__).with_name('PAYLOAD-RAN'))\nclass X: ...\n"
    (tmp_path / "this.py").write_text(marker)
    env = {**os.environ, "SB3_LOGDIR": str(tmp_path)}
    argv = ["-m", "qgym.zoo", "train", "--algo", "qlearning", "--env", "FrozenLake-v1", "-params", params]
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert ZEN not in result.stdout
    assert not (tmp_path / "PAYLOAD-RAN").exists()
