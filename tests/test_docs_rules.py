"""``docs/rules.md`` (where a learning rule lives and who calls it) agrees with the code: every
registered rule is in its diagram, and every caller in its table uses the name the table gives."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from qgym.agents.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")


def test_every_registered_rule_is_in_the_diagram_beside_its_module() -> None:
    diagram = PAGE.split("```text", 1)[1].split("```", 1)[0]
    for rule in RULES.values():
        module = rule.__module__.rsplit(".", 1)[1] + ".py"
        line = next((line for line in diagram.splitlines() if rule.__name__ in line), None)
        assert line is not None, f"{rule.__name__} is not in docs/rules.md's diagram"
        block = diagram[: diagram.index(line) + len(line)]
        assert module in block.rsplit("│ ", 1)[0] or module in line, (rule.__name__, module)


def test_every_caller_in_the_table_uses_what_the_table_says() -> None:
    rows = re.findall(r"^\| `(qgym/[\w/]+\.py)` \| `(\w+)`", PAGE, flags=re.MULTILINE)
    assert len(rows) >= 5, rows
    for path, name in rows:
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert name in used, f"{path} does not use {name}, as docs/rules.md says it does"
