"""Writing files so that nothing written is lost or half-written."""

from __future__ import annotations

import os
import pathlib
import secrets

__all__ = ["write_atomically"]


def write_atomically(target: pathlib.Path, payload: bytes) -> None:
    """Write to a fresh temp file beside ``target``, flush it to disk, then rename it over ``target``.

    A crash or a full disk leaves the old file as it was, never half of the new one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as handle:  # "x": never follow or reuse an existing file
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
