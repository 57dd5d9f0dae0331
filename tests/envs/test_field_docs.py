"""README and the env pages list every field figure with the code's definition, and their tables of
the optimal policy's figures are what the code computes now."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import pytest

from qgym.envs.farm.accounting import FARM_FIGURES
from qgym.envs.interface import FigureSpec
from qgym.envs.trading.metrics import TRADING_FIGURES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {"trading": TRADING_FIGURES, "farm": FARM_FIGURES}
TRADING_COLUMNS = (
    "return", "sharpe", "sortino", "max_drawdown", "drawdown_duration", "calmar", "turnover", "costs",
    "hit_rate", "time_in_market",
)  # fmt: skip
FARM_COLUMNS = (
    "harvests", "planted", "watered", "rain_waterings", "withered", "rotted", "costs", "revenue", "profit",
    "water_use_efficiency",
)  # fmt: skip


@pytest.mark.parametrize("page", list(PAGES))
def test_the_env_page_defines_every_figure_as_the_code_does(page: str) -> None:
    text = (ROOT / "docs" / "envs" / f"{page}.md").read_text(encoding="utf-8")
    specs: tuple[FigureSpec, ...] = PAGES[page]
    for spec in specs:
        assert f"| {spec.label} | `{spec.key}` | {spec.definition} |" in text, spec.key


@pytest.mark.parametrize("page", list(PAGES))
def test_readme_names_every_figure(page: str) -> None:
    text = README.lower()
    for spec in PAGES[page]:
        # "max drawdown, % of peak" and "buy and hold: return" are named with their first words.
        name = re.split("[,:]", spec.label)[0].lower()
        assert f"**{name}**" in text, spec.label


def _rows(text: str, env_id: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")][1:]
        for line in text.splitlines()
        if re.match(rf"^\| `{re.escape(env_id)}` \|", line) and line.count("|") > 8
    ]


@pytest.mark.parametrize(
    ("env_id", "columns"),
    [
        ("qgym/Trading-Chain-v0", TRADING_COLUMNS),
        ("qgym/Trading-ChainRegime-v0", TRADING_COLUMNS),
        ("qgym/Trading-ChainCostly-v0", TRADING_COLUMNS),
        ("qgym/GridFarm-1x1-Det-v0", FARM_COLUMNS),
        ("qgym/GridFarm-1x1-v0", FARM_COLUMNS),
        ("qgym/GridFarm-1x2-v0", FARM_COLUMNS),
        ("qgym/GridFarm-2x2-v0", FARM_COLUMNS),
    ],
)
def test_the_optimal_policys_figures_in_readme_and_the_pages_are_the_codes(
    env_id: str, columns: tuple[str, ...]
) -> None:
    env = gym.make(env_id)
    report = env.unwrapped.optimal_report(env.spec.max_episode_steps)
    expected = [report.get(key).text() for key in columns]  # type: ignore[union-attr]
    page = "trading" if "Trading" in env_id else "farm"
    for text in (README, (ROOT / "docs" / "envs" / f"{page}.md").read_text(encoding="utf-8")):
        assert _rows(text, env_id) == [expected]
