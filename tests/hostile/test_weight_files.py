"""Hostile weights (``policy.pth`` inside a qgym network file): an allocation bomb torch's
``weights_only`` admits, a deflated storage, a pickle that names another global, and NaN, infinite or
complex weights are each refused by name before anything large is allocated (peak RSS measured)."""

from __future__ import annotations

import io
import pathlib
import shutil
import zipfile
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import pytest
import torch
from hostile_tools import run_measured
from stable_baselines3 import DQN
from test_model_files import rewrite

from qgym.training import network_files
from qgym.training.network_files import NetworkFileError, load_network_model, save_network_model

CHAIN = "qgym/Trading-Chain-v0"
# builtins.bytearray(2**31) in pickle protocol 2: 2 GiB from a few bytes, allowed by weights_only=True
BYTEARRAY_BOMB = b"\x80\x02cbuiltins\nbytearray\nq\x00\x8a\x05\x00\x00\x00\x80\x00\x85q\x01Rq\x02."


def torch_file(program: bytes, storages: dict[str, bytes] | None = None, deflate: bool = False) -> bytes:
    """A file laid out as torch.save lays it out, holding ``program`` as its pickle."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", program)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for name, data in (storages or {}).items():
            archive.writestr(
                name, data, compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            )
    return out.getvalue()


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("net") / "dqn.zip"
    model = DQN(
        "MlpPolicy", gym.make(CHAIN), learning_starts=0, device="cpu", seed=0, policy_kwargs={"net_arch": [8]}
    )
    return save_network_model(model.learn(50), path)


def with_weights(network_file: pathlib.Path, folder: pathlib.Path, payload: bytes) -> pathlib.Path:
    path = pathlib.Path(shutil.copy(network_file, folder / "model.zip"))
    rewrite(path, {"policy.pth": payload})
    return path


def edited_weights(network_file: pathlib.Path, edit: Callable[[dict[str, Any]], None]) -> bytes:
    with zipfile.ZipFile(network_file) as archive:
        weights = torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)
    edit(weights)
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    return buffer.getvalue()


def first_weight(weights: dict[str, Any]) -> str:
    return next(key for key in weights if key.endswith("weight"))


def test_the_weights_qgym_saved_load(network_file: pathlib.Path) -> None:
    assert load_network_model(network_file).policy.q_net.q_net[0].weight.dtype == torch.float32


def test_a_bytearray_bomb_torch_would_allocate_is_refused_before_torch_reads_it(
    network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """In a fresh interpreter: torch.load(weights_only=True) of these 392 bytes reaches 2.2 GB
    (measured); refused, the process stays at what importing torch and SB3 takes."""
    path = with_weights(network_file, tmp_path, torch_file(BYTEARRAY_BOMB))
    message, peak_kib = run_measured(
        "import pathlib\n"
        "from qgym.training.network_files import load_network_model\n"
        "load_network_model(pathlib.Path(sys.argv[1]))",
        str(path),
    )
    assert f"policy.pth in {path} refers to 'builtins.bytearray'" in message
    assert "nothing of it was loaded" in message
    assert peak_kib < 1024 * 1024  # under 1 GiB: imports only, no 2 GiB bytearray


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(
            torch_file(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."),
            "refers to 'posix.system'",
            id="another-global",
        ),
        pytest.param(
            torch_file(b"\x80\x02(X\x01\x00\x00\x00aq\x00ios\nsystem\n."),
            "pickle instruction INST",
            id="inst",
        ),
        pytest.param(
            torch_file(b"\x80\x02}q\x00", {}), "is not a readable pickle of weights", id="truncated"
        ),
        pytest.param(
            torch_file(b"\x80\x02}q\x00.", {"archive/data/0": bytes(50_000_000)}, deflate=True),
            "holds compressed or oversized entries",
            id="deflated-50MB-storage",
        ),
        pytest.param(b"PK\x03\x04 not really a zip", "is not a file torch.save wrote", id="not-a-zip"),
        pytest.param(b"", "is not a file torch.save wrote", id="empty"),
    ],
)
def test_a_weights_file_that_is_not_float32_tensors_is_refused_unread(
    payload: bytes, message: str, network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = with_weights(network_file, tmp_path, payload)
    with pytest.raises(NetworkFileError, match=f"policy.pth in {path}.* {message}"):
        load_network_model(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda w: w[first_weight(w)].fill_(float("nan")), "holds NaN or infinite weights", id="nan"
        ),
        pytest.param(
            lambda w: w[first_weight(w)].fill_(float("inf")), "holds NaN or infinite weights", id="inf"
        ),
        pytest.param(
            lambda w: w.update({first_weight(w): w[first_weight(w)].to(torch.complex64)}),
            "refers to 'torch.ComplexFloatStorage'",
            id="complex",
        ),
        pytest.param(
            lambda w: w.update({first_weight(w): w[first_weight(w)].double()}),
            "refers to 'torch.DoubleStorage'",
            id="float64",
        ),
        pytest.param(
            lambda w: w.pop(first_weight(w)), "does not hold this network's weights: Error", id="missing"
        ),
    ],
)
def test_weights_that_are_not_finite_float32_or_not_this_network_are_refused_by_name(
    edit: Any, message: str, network_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = with_weights(network_file, tmp_path, edited_weights(network_file, edit))
    with pytest.raises(NetworkFileError, match=message):
        load_network_model(path)


def test_an_error_with_an_empty_message_still_gives_a_sentence(
    network_file: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``str(error).splitlines()[0]`` raised IndexError on an empty message; now the error's type."""

    def silent(raw: bytes, where: str) -> dict[str, Any]:
        raise RuntimeError("")

    monkeypatch.setattr(network_files, "read_weights", silent)
    with pytest.raises(NetworkFileError, match=r"does not hold this network's weights: RuntimeError$"):
        load_network_model(network_file)


def test_three_bombs_in_a_row_leave_no_traceback(network_file: pathlib.Path, tmp_path: pathlib.Path) -> None:
    for index in range(3):
        folder = tmp_path / str(index)
        folder.mkdir()
        with pytest.raises(NetworkFileError, match=r"builtins\.bytearray"):
            load_network_model(with_weights(network_file, folder, torch_file(BYTEARRAY_BOMB)))
