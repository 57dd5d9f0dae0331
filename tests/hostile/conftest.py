"""Hostile inputs: a guard that fails any unpickle (the payloads and the measured interpreter are in
``hostile_tools``, imported by name: a test module's ``from conftest import`` could find another
folder's conftest first)."""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle
import pytest


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call to pickle.loads, pickle.load or cloudpickle.loads fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("something was unpickled")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
