"""The tree shows the architecture: small modules, and the import contracts of pyproject.toml hold."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qgym"
MAX_LINES = 400


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.rglob("*.py")}
    too_long = {str(path.relative_to(PACKAGE)): n for path, n in lengths.items() if n > MAX_LINES}
    assert len(lengths) > 30, "the package was not found"
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_the_import_contracts_hold() -> None:
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if linter is None:
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    result = subprocess.run(
        [linter, "--config", str(PACKAGE.parent / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=PACKAGE.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_imports_or_reads_another_modules_private_names() -> None:
    """A name with a leading underscore belongs to its module: ``from qgym.x import _y`` and
    ``module._y`` on an imported module are refused (what two modules share gets a public name).
    Stable-Baselines3's own private names are reached only through ``qgym.agents.sb3_surface``."""
    assert private_crossings(PACKAGE) == []


def test_the_private_name_check_finds_each_kind_of_crossing(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text("from qgym.envs.farm.rules import _secret\n")
    (tmp_path / "two.py").write_text("import numpy as np\n\nnp._hidden()\n")
    (tmp_path / "fine.py").write_text("class A:\n    def f(self):\n        return self._own\n")
    assert private_crossings(tmp_path) == [
        "one.py imports qgym.envs.farm.rules._secret",
        "two.py reads np._hidden",
    ]


def private_crossings(root: Path) -> list[str]:
    """Every private name a module under ``root`` imports from qgym or reads off an imported module."""
    crossings = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qgym"):
                for alias in node.names:
                    if _private(alias.name):
                        crossings.append(f"{where} imports {node.module}.{alias.name}")
                    modules.add(alias.asname or alias.name)
        crossings += [
            f"{where} reads {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ]
    return crossings


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")
