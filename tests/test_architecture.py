"""The tree shows the architecture: small modules, and the import contracts of pyproject.toml hold."""

from __future__ import annotations

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
