"""Hostile inputs: a payload object whose unpickling creates a file, and a guard that fails any unpickle."""

from __future__ import annotations

import os
import pathlib
import pickle
from typing import Any

import cloudpickle
import pytest


class CreatesFile:
    """Unpickling this runs ``os.mkdir(path)``: a stand-in for arbitrary code. The file proves it ran."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.path),))


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call to pickle.loads, pickle.load or cloudpickle.loads fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("something was unpickled")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
