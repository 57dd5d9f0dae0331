"""Test-wide settings: headless pygame, and SB3 logs kept in a folder removed after the run."""

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


@pytest.fixture(scope="session", autouse=True)
def _sb3_logs_out_of_tmp() -> Iterator[None]:
    """SB3 writes an (often empty) folder per learn() unless told where: keep them out of /tmp."""
    if "SB3_LOGDIR" in os.environ:
        yield
        return
    folder = tempfile.mkdtemp(prefix="qgym-test-sb3-logs-")
    os.environ["SB3_LOGDIR"] = folder
    try:
        yield
    finally:
        del os.environ["SB3_LOGDIR"]
        shutil.rmtree(folder, ignore_errors=True)
