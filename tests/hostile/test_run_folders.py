"""Tampered and odd run folders given to ``qgym compare`` and ``qgym plot --run``: every one refused in a
sentence naming the file, the line and the column (or the other file it disagrees with); none a
traceback, none compared silently; large files refused by size before they are read (peak RSS measured)."""

from __future__ import annotations

import pathlib
import re
import shutil
from collections.abc import Callable

import numpy as np
import pytest
import yaml
from hostile_tools import run_measured

from qgym.cli import main
from qgym.training.comparison import compare_runs
from qgym.training.seed_results import SeedResult, write_seed_files
from qgym.training.stats import probability_of_improvement

Tamper = Callable[[pathlib.Path], None]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    logs = tmp_path_factory.mktemp("logs")
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "--seeds", "4", "-n", "2000"]
    assert main([*argv, "--log-folder", str(logs)]) == 0
    return logs / "qlearning" / "FrozenLake-v1_1"


def edit_csv(name: str, line: int, column: str, value: str) -> Tamper:
    """Set one cell of ``name`` (line 1 is the header)."""

    def tamper(run: pathlib.Path) -> None:
        rows = [row.split(",") for row in (run / name).read_text().splitlines()]
        rows[line - 1][rows[0].index(column)] = value
        (run / name).write_text("\n".join(",".join(row) for row in rows) + "\n")

    return tamper


def drop_column(name: str, column: str) -> Tamper:
    def tamper(run: pathlib.Path) -> None:
        rows = [row.split(",") for row in (run / name).read_text().splitlines()]
        index = rows[0].index(column)
        (run / name).write_text("\n".join(",".join(r[:index] + r[index + 1 :]) for r in rows) + "\n")

    return tamper


def edit_yaml(name: str, change: Callable[[dict], None]) -> Tamper:
    def tamper(run: pathlib.Path) -> None:
        document = yaml.safe_load((run / name).read_text())
        change(document)
        (run / name).write_text(yaml.safe_dump(document))

    return tamper


TAMPERS = [
    pytest.param(
        drop_column("seeds.csv", "online_return"),
        r"seeds\.csv has no column 'online_return'",
        id="missing-column",
    ),
    pytest.param(
        edit_csv("seeds.csv", 2, "exact_return", "nan"),
        r"seeds\.csv, line 2: column 'exact_return' holds 'nan', not a finite number",
        id="nan-figure",
    ),
    pytest.param(
        edit_csv("seeds.csv", 3, "percent", "lots"),
        r"seeds\.csv, line 3: column 'percent' holds 'lots', not a number",
        id="text-figure",
    ),
    pytest.param(
        edit_csv("seeds.csv", 3, "exact_return", "-inf"),
        r"seeds\.csv, line 3: column 'exact_return' holds '-inf', not a finite",
        id="inf-figure",
    ),
    pytest.param(
        edit_csv("seeds.csv", 3, "seed", "0"),
        r"seeds\.csv, line 3: seed 0 again \(first on line 2\)",
        id="duplicate-seed",
    ),
    pytest.param(
        edit_csv("seeds.csv", 3, "seed", "1.5"),
        r"seeds\.csv, line 3: column 'seed' holds '1.5', not a whole number",
        id="fractional-seed",
    ),
    pytest.param(
        edit_csv("seeds.csv", 3, "seed", "inf"),
        r"seeds\.csv, line 3: column 'seed' holds 'inf', not a finite",
        id="inf-seed",
    ),
    pytest.param(
        edit_csv("seeds.csv", 3, "seed", "nan"),
        r"seeds\.csv, line 3: column 'seed' holds 'nan', not a finite",
        id="nan-seed",
    ),
    pytest.param(
        edit_csv("seeds.csv", 2, "online_return", "x" * 10_000_000),
        r"seeds\.csv is not a csv file qgym wrote: field larger than field limit",
        id="10MB-cell",
    ),
    pytest.param(
        edit_csv("curves.csv", 5, "step", "inf"),
        r"curves\.csv, line 5: column 'step' holds 'inf', not a finite",
        id="inf-step",
    ),
    pytest.param(
        edit_csv("curves.csv", 5, "seed", "77"),
        r"curves\.csv, line 5: seed 77 is not in seeds\.csv",
        id="curve-of-no-seed",
    ),
    pytest.param(
        edit_csv("curves.csv", 5, "exact", "7"),
        r"curves\.csv, line 5: column 'exact' must be 0 or 1",
        id="exact-7",
    ),
    pytest.param(
        lambda run: (run / "seeds.csv").write_text("seed,online_return\n"),
        r"seeds\.csv holds no seed",
        id="no-rows",
    ),
    pytest.param(
        lambda run: (run / "seeds.csv").write_bytes(b"seed,online\xff\n"),
        r"seeds\.csv is not UTF-8 text",
        id="not-utf8",
    ),
    pytest.param(
        lambda run: (run / "seeds.csv").write_text("seed,online_return\n1,2,3\n"),
        r"seeds\.csv, line 2: 3 cells, its header has 2",
        id="ragged",
    ),
    pytest.param(
        edit_yaml("summary.yml", lambda s: s["percent"].update(iqm=99.5)),
        r"summary\.yml disagrees with .*seeds\.csv on percent .* the run folder was edited",
        id="summary-iqm",
    ),
    pytest.param(
        edit_yaml("summary.yml", lambda s: s["exact_return"].update(n=40)),
        r"summary\.yml disagrees with .*seeds\.csv on exact_return \(it says n=40",
        id="summary-n",
    ),
    pytest.param(
        edit_yaml("config.yml", lambda c: c.update(seeds=[0, 1, 2])),
        r"seeds\.csv beside .*config\.yml has seed 3, which .*config\.yml does not list",
        id="config-seeds",
    ),
    pytest.param(
        edit_yaml("config.yml", lambda c: c.update(seeds="all")),
        r"config\.yml: 'seeds' must be a list of whole numbers",
        id="config-seeds-text",
    ),
    pytest.param(
        edit_yaml("config.yml", lambda c: c.pop("env_id")),
        r"has no config\.yml naming its algo and env_id",
        id="no-env-id",
    ),
]


@pytest.mark.parametrize(("tamper", "message"), TAMPERS)
@pytest.mark.parametrize("command", ["compare", "plot"])
def test_a_tampered_seeds_run_is_refused_by_name(
    command: str,
    tamper: Tamper,
    message: str,
    genuine: pathlib.Path,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = pathlib.Path(shutil.copytree(genuine, tmp_path / "run"))
    tamper(run)
    argv = ["compare", str(genuine), str(run)] if command == "compare" else ["plot", "--run", str(run)]
    assert main([*argv, *(["--out", str(tmp_path / "plots")] if command == "plot" else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qgym {command}: error: ")
    assert re.search(message, err), err
    assert str(run) in err  # the message names the folder or file
    assert not (tmp_path / "plots").exists()


def test_a_genuine_run_compares_with_itself_and_plots(
    genuine: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(genuine), str(genuine)]) == 0
    assert "P(A > B) = 0.50" in capsys.readouterr().out
    assert main(["plot", "--run", str(genuine), "--out", str(tmp_path)]) == 0


def test_runs_on_one_env_made_with_other_arguments_are_not_compared(
    genuine: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    other = pathlib.Path(shutil.copytree(genuine, tmp_path / "other"))
    edit_yaml("config.yml", lambda c: c.update(env_kwargs={"is_slippery": False}))(other)
    with pytest.raises(
        ValueError, match=r"made with other arguments \(\{\} against \{'is_slippery': False\}"
    ):
        compare_runs(genuine, other)


def test_a_60_mb_seeds_csv_is_refused_by_its_size_before_it_is_read(
    genuine: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = pathlib.Path(shutil.copytree(genuine, tmp_path / "run"))
    with (run / "seeds.csv").open("a") as handle:
        row = "5,0.01,0.02,3.0,inf,,\n"
        handle.write(row * (60_000_000 // len(row)))
    message, peak_kib = run_measured(
        "from qgym.training.comparison import compare_runs\ncompare_runs(sys.argv[1], sys.argv[2])",
        str(genuine),
        str(run),
    )
    assert re.search(
        r"seeds\.csv has 6\d,\d{3},\d{3} bytes; a seeds\.csv qgym writes holds at most 16,777,216", message
    ), message
    assert peak_kib < 500 * 1024  # the 10.7 GiB of a dict per row is never reached


def test_two_1000_seed_runs_compare_as_the_pairwise_count_says(tmp_path: pathlib.Path) -> None:
    """1,000 seeds a side (the probability's bootstrap compared 10^10 pairs): the rank-based count gives
    the pairwise count's probability, and the comparison completes."""
    rng = np.random.default_rng(0)
    folders = []
    for name, shift in (("a", 0.0), ("b", 0.05)):
        folder = tmp_path / name
        folder.mkdir()
        values = np.round(rng.normal(0.7 + shift, 0.1, size=1000), 3)  # rounded: ties, counted half
        results = [
            SeedResult(seed, float(v), float(v), float(v) * 100, None) for seed, v in enumerate(values)
        ]
        (folder / "config.yml").write_text(
            yaml.safe_dump({"algo": "qlearning", "env_id": "FrozenLake-v1", "seeds": list(range(1000))})
        )
        write_seed_files(folder, results, [])
        folders.append((folder, values))
    lines = compare_runs(folders[0][0], folders[1][0])
    pairwise = np.mean(
        (folders[0][1][:, None] > folders[1][1][None, :])
        + 0.5 * (folders[0][1][:, None] == folders[1][1][None, :])
    )
    assert probability_of_improvement(folders[0][1], folders[1][1]) == pairwise
    assert f"P(A > B) = {pairwise:.2f}" in lines[2]


def test_plot_run_on_the_root_folder_is_a_sentence_not_a_walk_of_the_disk(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    assert main(["plot", "--run", "/", "--out", str(tmp_path)]) == 2
    assert "qgym plot: error: / holds no learning curve" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda p: p.write_bytes(b"not a zip at all" * 10),
            r"evaluations\.npz is not an EvalCallback file \(not a numpy \.npz archive\)",
            id="garbage",
        ),
        pytest.param(
            lambda p: np.savez(p, timesteps=np.arange(3), results=np.array([{"x": 1}] * 3, dtype=object)),
            r"holds objects \(pickled data\), not numbers",
            id="pickled",
        ),
        pytest.param(
            lambda p: np.savez(p, timesteps=np.arange(3)),
            r"needs the arrays 'timesteps' and 'results'",
            id="no-results",
        ),
        pytest.param(
            lambda p: np.savez(p, timesteps=np.arange(3), results=np.full((3, 2), np.nan)),
            "its returns are empty or not finite",
            id="nan",
        ),
        pytest.param(
            lambda p: np.savez_compressed(p, timesteps=np.arange(4), results=np.zeros((4, 10_000_000))),
            r"expands to 320,000,\d{3} bytes; an EvalCallback file holds a few kB",
            id="320MB-compressed",
        ),
    ],
)
def test_an_evaluations_file_that_is_not_evalcallback_numbers_is_refused(
    make: Callable[[pathlib.Path], None],
    message: str,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    make(run / "evaluations.npz")
    assert main(["plot", "--run", str(run), "--out", str(tmp_path / "plots")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "allow_pickle" not in err  # no advice to load it unsafely
    assert str(run / "evaluations.npz") in err


def test_a_150_mb_progress_csv_is_refused_by_its_size(tmp_path: pathlib.Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with (run / "progress.csv").open("wb") as handle:
        handle.truncate(150 * 2**20)  # sparse: its size is what is checked, before a byte is read
    message, peak_kib = run_measured(
        "from qgym.viewing.curves import read_run\nread_run(sys.argv[1])", str(run)
    )
    assert "progress.csv has 157,286,400 bytes; a progress.csv SB3 writes holds a few MB" in message
    assert peak_kib < 500 * 1024
