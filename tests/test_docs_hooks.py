"""The documentation site's build hooks (docs/hooks/): the pages they generate from the code.

They need the ``docs`` extra (mkdocs, griffe); without it these tests are skipped, and ``.ci/run``,
which installs it, also builds the site with ``mkdocs build --strict``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", HOOKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages() -> ModuleType:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    return _load("qgym_pages")


def test_the_cli_page_has_every_command_with_its_own_help(pages: ModuleType) -> None:
    page = pages.cli_reference()
    commands = pages.cli_commands(pages.run_cli("--help"))
    assert {"list", "optimal", "play", "train", "eval", "tune"} <= set(commands)
    for command in commands:
        assert f"## qgym {command}\n" in page
        assert f"usage: qgym {command} [-h]" in page


def test_the_ladder_lists_each_id_of_a_family_with_its_optimum(pages: ModuleType) -> None:
    import qgym

    table = pages.ladder_table("GridFarm")
    farm_ids = [env_id for env_id in qgym.envs.qgym_env_ids() if "GridFarm" in env_id]
    assert len(table.splitlines()) == 2 + len(farm_ids)
    for env_id in farm_ids:
        assert f"`{env_id}`" in table
    for env_id, optimum in qgym.envs.KNOWN_OPTIMA.items():
        if "GridFarm" in env_id:
            assert f"{optimum:.4f}" in table
    with pytest.raises(pages.PluginError):
        pages.ladder_table("NoSuchFamily")


def test_env_pages_get_gymnasiums_sections_from_each_family_docstring(pages: ModuleType) -> None:
    text = pages.env_sections(
        "Chain=qgym.envs.trading.chain:ChainTradingEnv Market=qgym.envs.trading.market:TradingEnv"
    )
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [f"## {section}" for section in pages.SECTIONS]
    assert text.count("**Chain** (`qgym.envs.trading.chain.ChainTradingEnv`)") == len(pages.SECTIONS)
    assert ":class:" not in text
    assert ":func:" not in text


def test_a_readme_section_that_moved_fails_the_build(pages: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# t\nStart here\nkept\n## End\nleft out\n")
    assert pages.readme_section(readme, "Start", "## End") == "Start here\nkept"
    with pytest.raises(pages.PluginError):
        pages.readme_section(readme, "Missing", "## End")


def test_doctests_are_fenced_and_sphinx_roles_become_code() -> None:
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    doctest = _load("griffe_doctest")
    text = "Intro, see :class:`~qgym.planning.TabularModel`.\n\n>>> 1 + 1\n2\n\nAfter."
    fenced = doctest.plain_roles(doctest.fence_doctests(text))
    assert fenced == "Intro, see `TabularModel`.\n\n```pycon\n>>> 1 + 1\n2\n```\n\nAfter."
    assert doctest.plain_roles(":func:`qgym.planning.value_iteration`") == "`qgym.planning.value_iteration`"
