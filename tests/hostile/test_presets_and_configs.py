"""Hostile presets and run configurations: refused by qgym train, eval and python -m qgym.zoo with a
sentence naming the file and the key; nothing named in them is imported, nothing in them runs."""

from __future__ import annotations

import itertools
import pathlib
import shutil
import time

import pytest

from qgym import zoo
from qgym.cli import main

OLD_RUN = pathlib.Path(__file__).resolve().parents[1] / "data" / "v0.1.0" / "qlearning-Trading-Chain"


def alias_bomb(levels: int) -> str:
    """Billion laughs: each level a list of nine aliases of the one before (9 ** levels strings)."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghij"[: levels + 1]
    lines += [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in itertools.pairwise(names)]
    return "\n".join(lines)


def train(
    tmp_path: pathlib.Path, preset: str, algo: str = "qlearning", env: str = "FrozenLake-v1"
) -> list[str]:
    path = tmp_path / "preset.yml"
    path.write_text(preset, encoding="utf-8")
    return [
        "train",
        "--algo",
        algo,
        "--env",
        env,
        "--preset",
        str(path),
        "--log-folder",
        str(tmp_path / "logs"),
    ]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("  n_timesteps: [1, 2]", "n_timesteps must be a positive whole number"),
        ("  n_timesteps: true", "n_timesteps must be a positive whole number"),
        (
            "  n_timesteps: 100\n  policy_kwargs: dict(initial_q_value='abc')",
            "initial_q_value must be a finite number",
        ),
        ("  n_timesteps: 100\n  n_envs: 0", "n_envs must be a positive whole number"),
        (
            "  n_timesteps: 100\n  env_wrapper: qgym.__main__.x",
            "'qgym.__main__.x' is not one of the allowed wrappers",
        ),
        ("  n_timesteps: 100\n  env_wrapper: os.system", "'os.system' is not one of the allowed wrappers"),
        (
            "  n_timesteps: 100\n  policy_kwargs: \"dict(x=__import__('os').system('touch pwned'))\"",
            "only numbers, strings",
        ),
        ("  n_timesteps: !!python/object/apply:os.system ['touch pwned']", "is not valid YAML"),
    ],
)
def test_a_hostile_table_preset_is_refused_naming_the_key(
    block: str, message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train(tmp_path, f"FrozenLake-v1:\n{block}\n")) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("model.zip"))
    assert not pathlib.Path("pwned").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('policy_kwargs: "dict(net_arch=[1000000000])"', "net_arch must be a list of at most 16 layer"),
        ("buffer_size: 1e12", "buffer_size must be a whole number from 1 to 10,000,000"),
        ("batch_size: 0", "batch_size must be a whole number from 1"),
        ("gamma: 1.5", "gamma must be a number in [0, 1]"),
    ],
)
def test_a_hostile_dqn_preset_is_refused_before_anything_is_built(
    extra: str, message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = train(tmp_path, f"FrozenLake-v1:\n  n_timesteps: 100\n  {extra}\n", algo="dqn")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "preset for dqn on FrozenLake-v1" in err


@pytest.mark.parametrize(
    ("levels", "message"), [(5, "expands to more than 200,000 values"), (9, "more than 64 aliases")]
)
def test_an_alias_bomb_is_refused_at_once(
    levels: int, message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    assert main(train(tmp_path, alias_bomb(levels) + "\nFrozenLake-v1: {n_timesteps: 100}\n")) == 2
    assert message in capsys.readouterr().err
    assert time.perf_counter() - started < 30, "the bomb was walked"  # a hang, not a timing claim


def test_a_preset_file_that_is_not_utf8_is_named(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin.yml"
    path.write_bytes("FrozenLake-v1:\n  n_timesteps: 100 # é\n".encode("latin-1"))
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "--preset", str(path)]
    assert main([*argv, "--log-folder", str(tmp_path / "logs")]) == 2
    assert f"the preset file {path} is not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("algo: qlearning\nenv_id: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "must be a mapping"),
        (
            "algo: qlearning\nhyperparameters:\n  env_wrapper: builtins.print\n",
            "is not one of the allowed wrappers",
        ),
        (
            "algo: qlearning\nhyperparameters:\n  env_wrapper:\n"
            "  - qgym.wrappers.UnravelObservation: {dimz: 3}\n",
            "env_wrapper UnravelObservation with {'dimz': 3}",
        ),
    ],
)
def test_a_hostile_run_configuration_is_named_by_qgym_eval(
    config: str, message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = pathlib.Path(shutil.copytree(OLD_RUN, tmp_path / "run"))
    (run / "config.yml").write_text(config, encoding="utf-8")
    assert main(["eval", str(run / "model.zip"), "--env", "qgym/Trading-Chain-v0", "--episodes", "2"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_qgym_zoo_refuses_a_preset_rl_zoo_would_run(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "payload-ran"
    conf = tmp_path / "evil.yml"
    code = f"__import__('os').mkdir('{marker}')"
    conf.write_text(f'FrozenLake-v1:\n  n_timesteps: 100\n  policy_kwargs: "dict(a={code})"\n')
    argv = ["train", "--algo", "dqn", "--env", "FrozenLake-v1", "--gym-packages", "qgym", "-conf", str(conf)]
    assert zoo.main(argv) == 2
    assert f"the preset 'FrozenLake-v1' in {conf}" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-conf", "CONF"], "names a callback"),
        (["-params", "gamma:__import__('os').getcwd()"], "-params gamma: RL Zoo would eval"),
        (["-optimize"], "qgym tune --algo qlearning"),
    ],
)
def test_qgym_zoo_refuses_what_rl_zoo_would_import_or_eval(
    extra: list[str], message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "callback.yml"
    conf.write_text("FrozenLake-v1:\n  n_timesteps: 100\n  callback: os.system\n")
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1"]
    assert zoo.main([*argv, *[str(conf) if word == "CONF" else word for word in extra]]) == 2
    assert message in capsys.readouterr().err
