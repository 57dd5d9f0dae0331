"""A griffe extension for the API reference: qgym's Sphinx-style docstrings read as Markdown.

qgym's docstrings are Sphinx style: bare ``>>>`` examples, which Markdown would render as nested
block quotes, and roles such as ``:class:`TransitionModel` ``, which it would print as they are.
This fences each run of doctest lines (prompts, continuations and the expected output up to a blank
line) as ```` ```pycon ```` and turns each role into a code span (``~a.b.C`` into ``C``), leaving the
docstrings in the code untouched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

__all__ = ["DoctestFences", "fence_doctests", "plain_roles"]

ROLE = re.compile(r":(?:meth|func|class|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")


class DoctestFences(griffe.Extension):
    """Fence the doctest examples of every docstring griffe loads."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(fence_doctests(obj.docstring.value))


def plain_roles(text: str) -> str:
    """Sphinx roles as code spans: ``:func:`x.y` `` -> `` `x.y` ``, ``:class:`~a.B` `` -> `` `B` ``."""
    return ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


def fence_doctests(text: str) -> str:
    """``text`` with each block of doctest lines wrapped in a ```` ```pycon ```` fence."""
    if ">>>" not in text:
        return text
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
