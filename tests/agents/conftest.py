"""Agent-test fixtures: SB3's default log folders go under ``tmp_path`` instead of littering /tmp."""

from __future__ import annotations

import pathlib

import pytest


@pytest.fixture(autouse=True)
def _sb3_logs_in_tmp_path(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "sb3-logs"))
