"""MkDocs hook: fill the pages whose content lives in the code, at build time, from the installed qgym.

A page asks for generated content with a one-line marker, replaced in ``on_page_markdown``:

* ``<!-- qgym:cli -->``: ``qgym --help`` and ``qgym COMMAND --help`` of every command;
* ``<!-- qgym:ladder PATTERN -->``: the rows of ``qgym list`` whose ID contains PATTERN, as a table;
* ``<!-- qgym:env-sections LABEL=module:Class ... -->``: the env classes' docstrings, merged section by
  section in Gymnasium's fixed order (Description, Action Space, ...);
* ``<!-- qgym:readme START | END -->``: README.md from the line starting with START up to (not
  including) the line starting with END.

``on_post_build`` also checks every link into a tutorial's section (``01_q_table.ipynb#the-q-table``):
MkDocs validates anchors of Markdown pages only, and the notebooks are rendered by mkdocs-jupyter.

Generated at build time rather than checked in, because other branches change the CLI, the envs and
the README while these pages are read: a checked-in copy would be stale after every merge, and a test
comparing it would fail on every branch that forgot to regenerate it. An unknown marker, a command
whose help cannot be read, or a README section that moved fails the build (``mkdocs build --strict``).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!--\s*qgym:(?P<kind>[\w-]+)(?P<args>[^>]*?)\s*-->")
SECTIONS = (
    "Description",
    "Action Space",
    "Observation Space",
    "Rewards",
    "Starting State",
    "Episode End",
    "Arguments",
    "Version History",
)
HELP_COLUMNS = "88"  # the width of the site's code boxes
LINK = re.compile(r'href="((?:\.\./)*[\w./-]*/)#([^"]+)"')
ROLE = re.compile(r":(?:meth|func|class|mod|data|attr|obj):`~?(?:[\w.]*\.)?([\w]+)`")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace every ``<!-- qgym:... -->`` marker of a page with its generated Markdown."""
    root = Path(config["config_file_path"]).parent

    def replace(match: re.Match[str]) -> str:
        kind, args = match["kind"], match["args"].strip()
        try:
            if kind == "cli":
                return cli_reference()
            if kind == "ladder":
                return ladder_table(args)
            if kind == "env-sections":
                return env_sections(args)
            if kind == "readme":
                start, _, end = args.partition("|")
                return readme_section(root / "README.md", start.strip(), end.strip())
        except PluginError:
            raise
        except Exception as error:  # any failure to generate is a broken page
            raise PluginError(f"{page.file.src_uri}: qgym:{kind} {args}: {error}") from error
        raise PluginError(f"{page.file.src_uri}: unknown marker qgym:{kind}")

    return MARKER.sub(replace, markdown)


def on_post_build(config: Any) -> None:
    """Fail the build on a link to a section of a notebook page that the page does not have."""
    site = Path(config["site_dir"])
    notebooks = {path.parent for path in site.rglob("*.ipynb")}  # mkdocs-jupyter copies each beside its page
    broken = []
    for page in site.rglob("*.html"):
        for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
            folder = (page.parent / target).resolve()
            if folder in notebooks and f'id="{anchor}"' not in (folder / "index.html").read_text(
                encoding="utf-8"
            ):
                broken.append(f"{page.relative_to(site)} -> {target}#{anchor}")
    if broken:
        raise PluginError("links to notebook sections that do not exist: " + "; ".join(sorted(set(broken))))


def run_cli(*argv: str) -> str:
    """What ``qgym ARGV`` prints on stdout, run in-process (``--help`` exits, which is expected)."""
    from qgym.cli import main

    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps help to the terminal: fix the width
    try:
        with contextlib.redirect_stdout(out):
            try:
                status = main(list(argv))
            except SystemExit as exit_:
                status = int(exit_.code or 0)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    if status != 0:
        raise PluginError(f"qgym {' '.join(argv)} exited with status {status}")
    return out.getvalue()


def cli_commands(top_help: str) -> list[str]:
    """The command names listed under COMMAND in ``qgym --help``."""
    block = top_help.split("COMMAND\n", 2)[-1].split("\n\n", 1)[0]
    names = re.findall(r"^ {4}([a-z][\w-]*)", block, flags=re.MULTILINE)
    if not names:
        raise PluginError("found no commands in `qgym --help` (its COMMAND list moved?)")
    return names


def cli_reference() -> str:
    """Every command's ``--help``, each under its own heading."""
    top = run_cli("--help")
    parts = ["## qgym", "", "```text", "$ qgym --help", top.rstrip(), "```", ""]
    for name in cli_commands(top):
        parts += [f"## qgym {name}", "", "```text", f"$ qgym {name} --help", run_cli(name, "--help").rstrip()]
        parts += ["```", ""]
    return "\n".join(parts)


def ladder_table(pattern: str) -> str:
    """The ``qgym list`` rows whose ID contains ``pattern``, as a Markdown table."""
    lines = [line for line in run_cli("list").splitlines() if line.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[1:] if pattern in line.split()[0]]
    if not rows:
        raise PluginError(f"`qgym list` has no ID containing {pattern!r}")
    if any(len(row) != len(header) for row in rows):
        raise PluginError(f"`qgym list` rows do not split into its columns {header}")
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join([f"`{row[0]}`", *row[1:]]) + " |" for row in rows]
    return "\n".join(out)


def env_sections(args: str) -> str:
    """The docstrings of ``LABEL=module:Class`` env classes, merged under Gymnasium's section headings."""
    classes = []
    for item in args.split():
        label, _, target = item.rpartition("=")
        module, _, name = target.partition(":")
        cls = getattr(importlib.import_module(module), name)
        classes.append((label.replace("_", " "), f"{module}.{name}", docstring_sections(cls)))
    out = []
    for section in SECTIONS:
        out += [f"## {section}", ""]
        for label, path, sections in classes:
            if section not in sections:
                raise PluginError(f"{path}'s docstring has no '## {section}' section")
            if len(classes) > 1:
                out += [f"**{label}** (`{path}`)", ""]
            out += [sections[section], ""]
    return "\n".join(out)


def docstring_sections(cls: type) -> dict[str, str]:
    """A class docstring split at its ``## Heading`` lines; Sphinx roles become code spans."""
    text = ROLE.sub(r"`\1`", inspect.getdoc(cls) or "")
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"^##\s+(.+?)\s*$", line)
        if heading:
            current = heading[1]
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return {name: _blank_line_before_lists(body.strip()) for name, body in sections.items()}


def readme_section(readme: Path, start: str, end: str) -> str:
    """README lines from the one starting with ``start`` up to the one starting with ``end``."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith(start)), None)
    if first is None:
        raise PluginError(f"README.md has no line starting with {start!r}")
    last = next((i for i in range(first + 1, len(lines)) if lines[i].startswith(end)), None)
    if last is None:
        raise PluginError(f"README.md has no line starting with {end!r} after {start!r}")
    return "\n".join(lines[first:last]).strip()


def _blank_line_before_lists(text: str) -> str:
    """Python-Markdown starts a list only after a blank line; docstrings often do without one."""
    out: list[str] = []
    for line in text.splitlines():
        if re.match(r"^\s*[-*] ", line) and out and out[-1].strip() and not re.match(r"^\s*[-*] ", out[-1]):
            out.append("")
        out.append(line)
    return "\n".join(out)
