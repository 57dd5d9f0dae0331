"""The documentation's own files: every env page opens with an animation of its env, and every
tutorial notebook is paired with its script, listed on the site and in the tutorial index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parents[1] / "docs"
ENV_PAGES = sorted((DOCS / "envs").glob("*.md"))


@pytest.mark.parametrize("page", ENV_PAGES, ids=lambda page: page.name)
def test_each_env_page_opens_with_an_animation_of_its_env(page: Path) -> None:
    from PIL import Image

    lines = [line for line in page.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines[0].startswith("# "), lines[0]
    opening = re.match(r"!\[[^\]]+\]\(([^)]+\.gif)\)", lines[1])
    assert opening, f"{page.name} does not open with a GIF: {lines[1]!r}"
    gif = page.parent / opening[1]
    with Image.open(gif) as animation:
        assert animation.format == "GIF"
        assert animation.n_frames > 50, f"{gif.name} has {animation.n_frames} frames"


def test_every_notebook_has_its_script_and_a_place_on_the_site_and_in_the_index() -> None:
    tutorials = DOCS / "tutorials"
    notebooks = sorted(path.name for path in tutorials.glob("*.ipynb"))
    scripts = sorted(path.with_suffix(".ipynb").name for path in tutorials.glob("[0-9]*.py"))
    assert notebooks == scripts
    nav = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    listed = [page for section in nav if "Tutorials" in section for page in section["Tutorials"]]
    on_site = {next(iter(page.values())) for page in listed if isinstance(page, dict)}
    index = (tutorials / "index.md").read_text(encoding="utf-8")
    for name in notebooks:
        assert f"tutorials/{name}" in on_site, f"{name} is not in mkdocs.yml's nav"
        assert f"]({name})" in index, f"{name} is not in docs/tutorials/index.md"
