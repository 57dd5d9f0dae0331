"""What the hostile tests share: a payload object whose unpickling creates a file, and a fresh
interpreter whose peak memory is measured."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any


class CreatesFile:
    """Unpickling this runs ``os.mkdir(path)``: a stand-in for arbitrary code. The file proves it ran."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.path),))


_MEASURE = """
import json, resource, sys
result = None
try:
{body}
except (ValueError, OSError) as error:
    result = f"{{type(error).__name__}}: {{error}}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps([result, peak]))
"""


def run_measured(
    body: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[Any, int]:
    """Run ``body`` (Python that sets ``result``; ``sys.argv[1:]`` are ``args``) in a fresh interpreter
    and return its ``result`` (or the ValueError / OSError it raised, as ``"Type: message"``) and its
    peak resident memory in KiB. The peak is the process's own (``VmHWM``): getrusage's ``ru_maxrss``
    in a child starts from its parent's peak, which exec keeps, so inside pytest it reads pytest's."""
    code = _MEASURE.format(body="\n".join("    " + line for line in body.strip().splitlines()))
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"the measured process failed (rc {done.returncode}): {done.stderr[-2000:]}")
    result, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return result, int(peak)
