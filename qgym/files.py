"""Files read and written safely: nothing written is lost or half-written, nothing read runs code or
expands without bound.

``write_atomically`` replaces a file in one rename; ``check_destination`` refuses, before any work, a
place that cannot be written; ``locked`` serializes the processes that update one file, in turn
(``filelock``); ``read_yaml`` reads YAML with ``safe_load`` semantics, a size limit, a bounded number
of aliases (an alias bomb of a few hundred bytes otherwise expands to gigabytes when walked) and a
sentence naming the file for anything else wrong with it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import yaml

__all__ = [
    "FileFormatError",
    "check_destination",
    "locked",
    "read_yaml",
    "remove_leftovers",
    "write_atomically",
    "writer_tag",
]

MAX_YAML_BYTES = 1 << 20
MAX_YAML_ALIASES = 64
MAX_YAML_NODES = 200_000
_STALE_TEMP_SECONDS = 3600


class FileFormatError(ValueError):
    """A file that cannot be read as what it should be; the message names the file and the problem."""


def write_atomically(target: pathlib.Path, payload: bytes) -> None:
    """Write to a fresh temp file beside ``target``, flush it to disk, then rename it over ``target``.

    A crash or a full disk leaves the old file as it was, never half of the new one. A temp file is
    named after its writer (host and process id), so the next write removes those of writers that are
    gone (a SIGKILL leaves one behind), and any over an hour old.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target.parent, f".{target.name}.")
    temporary = target.with_name(f".{target.name}.{_writer()}-{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as handle:  # "x": never follow or reuse an existing file
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_destination(target: str | pathlib.Path, what: str, folder: bool = False, free: int = 0) -> None:
    """A ValueError naming ``what`` unless ``target`` can be written, checked before any work: a folder
    (``folder``) or a file, not a device (``/dev/null``) nor the other kind, in a place that takes a new
    file (a read-only folder or file system does not), on a disk with ``free`` bytes to spare. The
    folders it needs are made; nothing else is left behind."""
    path = pathlib.Path(target)
    if path.exists() and not (path.is_dir() if folder else path.is_file()):
        kind = "a folder" if folder else "a file"
        raise ValueError(f"{what} {path} is not {kind} (it is {_kind(path)}): give {kind} to write")
    place = path if folder else path.parent
    try:
        place.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".qgym-probe-", dir=place)
        os.close(handle)
        os.unlink(probe)
        spare = shutil.disk_usage(place).free
    except OSError as error:
        raise ValueError(f"{what} {path}: cannot write in {place} ({error.strerror or error})") from None
    if spare < free:
        raise ValueError(
            f"{what} {path}: its disk has {spare:,} bytes free, and writing there needs at least {free:,}"
        )


def _kind(path: pathlib.Path) -> str:
    if path.is_dir():
        return "a folder"
    if path.is_char_device() or path.is_block_device():
        return "a device"
    return "a file" if path.is_file() else "something else"


@contextlib.contextmanager
def locked(target: pathlib.Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on ``target`` (a ``.lock`` file beside it) across processes, in turn.

    A lock alone is not fair: the process that just released it takes it again before a waiter
    notices, so one writer of a busy file can starve. So a process first passes a gate (a second lock
    file, ``.gate.lock``) and lets go of it only once it holds the lock: a writer that just released the
    lock waits at the gate behind the one already waiting, and two writers take turns. Holding the
    lock, keep the work short (read, merge, write).
    """
    import filelock

    deadline = time.monotonic() + timeout
    gate = filelock.FileLock(str(target.with_name(f".{target.name}.gate.lock")), timeout=timeout)
    lock = filelock.FileLock(str(target.with_name(f".{target.name}.lock")))
    try:
        with gate:
            lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
    except filelock.Timeout:
        raise FileFormatError(f"{target} is locked by another process for over {timeout:.0f} s") from None
    try:
        yield
    finally:
        lock.release()


def read_yaml(path: str | pathlib.Path, what: str = "file") -> Any:
    """The YAML document in ``path`` (``what`` it is, for messages), read as ``yaml.safe_load`` does."""
    file = pathlib.Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_YAML_BYTES:
            raise FileFormatError(
                f"the {what} {file} has {size:,} bytes; at most {MAX_YAML_BYTES:,} are read"
            )
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileFormatError(f"the {what} {file} is not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise FileFormatError(f"cannot read the {what} {file}: {error.strerror or error}") from None
    loader = _BoundedLoader(text)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise FileFormatError(f"the {what} {file} is not valid YAML: {_first_lines(error)}") from None
    finally:
        loader.dispose()
    if _count_nodes(document) > MAX_YAML_NODES:
        raise FileFormatError(f"the {what} {file} expands to more than {MAX_YAML_NODES:,} values")
    return document


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses more than :data:`MAX_YAML_ALIASES` aliases."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (*name)")
        return super().compose_node(parent, index)


def _count_nodes(document: Any) -> int:
    """Values in ``document`` counting shared ones each time they appear, stopping past the limit."""
    count, pending = 0, [document]
    while pending and count <= MAX_YAML_NODES:
        node = pending.pop()
        count += 1
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list | tuple):
            pending.extend(node)
    return count


def _first_lines(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


def remove_leftovers(folder: pathlib.Path, prefix: str, suffix: str = ".tmp") -> None:
    """Remove what killed writers left in ``folder`` (names ``prefix<host>-<pid>-<token><suffix>``):
    those of a process of this host that no longer runs at once, any over an hour old."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    host = socket.gethostname()
    for leftover in folder.glob(f"{glob.escape(prefix)}*{suffix}"):
        writer = leftover.name.removeprefix(prefix).removesuffix(suffix).rsplit("-", 2)
        dead = len(writer) == 3 and writer[0] == host and writer[1].isdigit() and not _alive(int(writer[1]))
        with contextlib.suppress(OSError):
            if dead or leftover.lstat().st_mtime < cutoff:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()


def writer_tag() -> str:
    """``<host>-<pid>``: whose temp file it is, for :func:`remove_leftovers`."""
    return _writer()


def _writer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
