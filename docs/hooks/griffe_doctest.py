"""A griffe extension for the API reference: doctest examples in docstrings become Python code blocks.

qgym's docstrings are Sphinx style with bare ``>>>`` examples, which Markdown would render as nested
block quotes. This fences each run of doctest lines (prompts, continuations and the expected output
up to a blank line) as ```` ```pycon ````, leaving the docstrings in the code untouched.
"""

from __future__ import annotations

from typing import Any

import griffe

__all__ = ["DoctestFences", "fence_doctests"]


class DoctestFences(griffe.Extension):
    """Fence the doctest examples of every docstring griffe loads."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)


def fence_doctests(text: str) -> str:
    """``text`` with each block of doctest lines wrapped in a ```` ```pycon ```` fence."""
    out: list[str] = []
    in_example = False
    in_fence = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or stripped.startswith("```"):
            out.append(line)
            continue
        if not in_example and stripped.startswith(">>>"):
            in_example = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
        elif in_example and not stripped:
            out.append(f"{indent}```")
            in_example = False
        out.append(line)
    if in_example:
        out.append(f"{indent}```")
    return "\n".join(out)
