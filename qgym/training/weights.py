"""A network's weights (``policy.pth``) read with an allow-list: float32 tensors and nothing else.

``torch.load(weights_only=True)`` runs a restricted unpickler, but what it admits is wider than
weights: a 389-byte file holding ``bytearray(2**31)`` allocates 2 GiB, an entry deflated from a
gigabyte fits under any file-size limit, and complex, NaN or infinite tensors load without a word.
:func:`read_weights` first checks the file without running anything: a zip of uncompressed entries (so
a file is as large as what it holds) whose pickle uses only the instructions and the three globals
``torch.save`` writes for a state dict of float32 tensors. Only then does torch read it, and every
tensor must be float32 and finite.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from typing import Any

from qgym.validation import brief

__all__ = ["WEIGHT_GLOBALS", "read_weights"]

WEIGHT_GLOBALS = frozenset(
    {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"}
)
"""The only globals a pickle of float32 weights refers to."""
_OPCODES = frozenset(
    {"PROTO", "FRAME", "STOP", "MARK", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "BINPERSID"}
    | {"EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_LIST", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "SETITEM"}
    | {"SETITEMS", "APPEND", "APPENDS", "BINPUT", "LONG_BINPUT", "MEMOIZE", "BINGET", "LONG_BINGET"}
    | {"BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "NONE", "NEWTRUE", "NEWFALSE"}
    | {"BINUNICODE", "SHORT_BINUNICODE"}
)
_MEMO = frozenset({"MEMOIZE", "BINPUT", "LONG_BINPUT"})


def read_weights(raw: bytes, where: str) -> dict[str, Any]:
    """The state dict in ``raw`` (a ``torch.save`` file; ``where`` names it in messages), or a
    ValueError saying what in it is not a float32 weight; torch's own errors pass through."""
    import torch

    _check_file(raw, where)
    weights = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    if not isinstance(weights, dict):
        raise ValueError(f"{where} holds a {type(weights).__name__}, not a dict of weights")
    for key, tensor in weights.items():
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float32:
            kind = tensor.dtype if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f"{where}: {brief(key)} is {kind}, not float32 weights")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(
                f"{where}: {brief(key)} holds NaN or infinite weights; a network with them predicts nothing"
            )
    return weights


def _check_file(raw: bytes, where: str) -> None:
    try:
        entries = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValueError(f"{where} is not a file torch.save wrote (not a zip archive)") from None
    packed = [entry.filename for entry in entries if entry.compress_type != zipfile.ZIP_STORED]
    if packed or sum(entry.file_size for entry in entries) > len(raw):
        raise ValueError(
            f"{where} holds compressed or oversized entries {brief(packed)}; torch.save stores its "
            "entries uncompressed, so a file of weights is as large as the weights"
        )
    programs = [entry for entry in entries if entry.filename.endswith("data.pkl")]
    if len(programs) != 1:
        raise ValueError(f"{where} has {len(programs)} data.pkl entries; torch.save writes one")
    program = zipfile.ZipFile(io.BytesIO(raw)).read(programs[0])
    for name in _globals(program, where):
        if name not in WEIGHT_GLOBALS:
            raise ValueError(
                f"{where} refers to {brief(name)}: a file of weights holds only float32 tensors in an "
                f"OrderedDict ({', '.join(sorted(WEIGHT_GLOBALS))}); nothing of it was loaded"
            )


def _globals(program: bytes, where: str) -> list[str]:
    """The ``module.name`` of every global the pickle refers to, read without running it; an
    instruction a pickle of weights never needs is refused."""
    found: list[str] = []
    strings: list[str] = []  # the strings pushed last: STACK_GLOBAL's module and name
    try:
        for opcode, argument, _ in pickletools.genops(program):
            if opcode.name not in _OPCODES:
                raise ValueError(
                    f"{where} uses the pickle instruction {opcode.name}, which a file of weights never needs"
                )
            if opcode.name == "GLOBAL":
                found.append(str(argument).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL":
                found.append(".".join(strings[-2:]) if len(strings) >= 2 else "a global it does not name")
            if opcode.name in ("BINUNICODE", "SHORT_BINUNICODE"):
                strings.append(str(argument))
            elif opcode.name not in _MEMO:
                strings.clear()
    except (ValueError, IndexError) as error:
        if str(error).startswith(where):
            raise
        raise ValueError(f"{where} is not a readable pickle of weights: {error}") from None
    return found
