"""Both trading envs: the registered ladder, accounting across every rung, info, variants, keys."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest
from trading_episodes import CHAIN_IDS, TRADING_IDS, random_episode

from qgym.envs.trading import BUY, HOLD, SELL, ChainTradingEnv, generate_prices


def test_the_ladder_has_exact_continuous_and_high_cost_rungs() -> None:
    assert len(TRADING_IDS) >= 4
    assert len(CHAIN_IDS) >= 2
    assert any(gym.spec(env_id).kwargs.get("fixed_cost", 0) >= 2 for env_id in CHAIN_IDS)
    market = [gym.spec(env_id).kwargs for env_id in TRADING_IDS if env_id not in CHAIN_IDS]
    assert {kwargs["observe_regime"] for kwargs in market} == {True, False}


@pytest.mark.parametrize("env_id", TRADING_IDS)
def test_registered_kwargs_carry_no_data_and_are_json(env_id: str) -> None:
    kwargs = gym.spec(env_id).kwargs
    assert not {"prices", "csv_path"} & set(kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


@pytest.mark.parametrize("env_id", TRADING_IDS)
def test_rewards_add_up_to_final_minus_initial_equity_costs_included(env_id: str) -> None:
    env = gym.make(env_id)
    for seed in range(3):
        total, first, last, steps = random_episode(env, seed)
        assert steps == gym.spec(env_id).max_episode_steps
        assert last["total_cost"] > 0
        assert total == pytest.approx(last["equity"] - first["equity"], abs=1e-9)
    env.close()


@pytest.mark.parametrize("env_id", TRADING_IDS)
def test_info_reports_equity_position_costs_and_baseline_but_never_episode(env_id: str) -> None:
    env = gym.make(env_id)
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(BUY)
    assert {"equity", "position", "trade_cost", "total_cost", "buy_and_hold_equity", "action_mask"} <= set(
        info
    )
    assert "episode" not in info


_PRICES = generate_prices(600, seed=2).tolist()


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("qgym/Trading-ChainRegime-v0", {"observation": "features"}),
        ("qgym/Trading-Chain-v0", {"max_position": 2, "allow_short": False, "proportional_cost": 0.01}),
        ("qgym/Trading-Market-v0", {"observation": "index", "max_position": 2}),
        ("qgym/Trading-MarketHidden-v0", {"prices": _PRICES, "observation": "index", "allow_short": False}),
        ("qgym/Trading-MarketHidden-v0", {"prices": _PRICES, "split": "test", "episode_length": 60}),
    ],
    ids=["chain-features", "chain-long-only", "market-index", "data-index", "data-test-split"],
)
def test_variants_made_with_extra_arguments_pass_the_gymnasium_checker(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped)
    total, first, last, steps = random_episode(env, seed=1)
    assert steps == min(env.unwrapped.config.episode_length, gym.spec(env_id).max_episode_steps or steps)  # type: ignore[attr-defined]
    assert total == pytest.approx(last["equity"] - first["equity"], abs=1e-9)
    assert env.observation_space.contains(env.unwrapped._observation())  # type: ignore[attr-defined]


def test_keyboard_map_buys_sells_and_holds() -> None:
    import pygame

    keys = ChainTradingEnv().get_keys_to_action()
    assert keys[(pygame.K_UP,)] == BUY
    assert keys[(pygame.K_DOWN,)] == SELL
    assert keys[(pygame.K_SPACE,)] == HOLD
    assert set(keys.values()) == {HOLD, BUY, SELL}
