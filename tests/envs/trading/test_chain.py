"""The exact chain rung: its model, the optimal no-trade band, masks, state numbers and arguments."""

from __future__ import annotations

from math import comb
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from trading_episodes import CHAIN_IDS

from qgym import planning
from qgym.envs import known_optimum
from qgym.envs.trading import BUY, SELL, ChainTradingEnv

LEVELS = 21


def _no_trade_band(fixed_cost: float, horizon: int = 100) -> tuple[int, int]:
    """Highest level where the optimal first move from flat is buy, lowest where it is sell."""
    env = ChainTradingEnv(levels=LEVELS, fixed_cost=fixed_cost, episode_length=horizon)
    policy = planning.backward_induction(env.transition_model(), horizon).policy[0]
    flat = [int(policy[env.encode_state(level, 0, 0)]) for level in range(LEVELS)]
    buys = [level for level, action in enumerate(flat) if action == BUY]
    sells = [level for level, action in enumerate(flat) if action == SELL]
    assert buys == list(range(len(buys))), "buying should happen exactly at the lowest levels"
    assert sells == list(range(LEVELS - len(sells), LEVELS)), "selling should happen exactly at the top"
    return max(buys), min(sells)


@pytest.mark.parametrize("env_id", CHAIN_IDS)
def test_registered_optimum_is_the_exact_optimum_and_sets_the_threshold(env_id: str) -> None:
    spec = gym.spec(env_id)
    env = gym.make(env_id)
    model = planning.model_of(env)
    assert spec.max_episode_steps is not None
    solution = planning.backward_induction(model, spec.max_episode_steps)
    optimum = planning.expected_return(model, solution.values)
    assert known_optimum(env_id) == pytest.approx(optimum, abs=5e-5)
    assert spec.reward_threshold == pytest.approx(0.95 * optimum, abs=0.01)


def test_a_buy_at_the_position_limit_is_masked_and_acts_as_a_hold() -> None:
    env = ChainTradingEnv(fixed_cost=1.0)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["action_mask"], [1, 1, 1])
    _, _, _, _, info = env.step(BUY)
    np.testing.assert_array_equal(info["action_mask"], [1, 0, 1])
    _, _, _, _, info = env.step(BUY)
    assert info["position"] == 1
    assert info["trade_cost"] == 0.0
    env.step(SELL)
    _, _, _, _, info = env.step(SELL)
    np.testing.assert_array_equal(info["action_mask"], [1, 1, 0])
    assert env.action_masks() is not env.action_masks()


def test_without_shorting_the_position_never_goes_below_zero() -> None:
    env = ChainTradingEnv(allow_short=False)
    env.reset(seed=0)
    _, _, _, _, info = env.step(SELL)
    assert info["position"] == 0
    assert env.observation_space.n == LEVELS * 2  # type: ignore[attr-defined]


def test_without_costs_the_optimal_band_is_where_the_expected_price_move_changes_sign() -> None:
    """With free trades the best position is the sign of the next expected price move (a myopic
    rule: nothing binds one step to the next), so the planner's first moves from flat must be: buy
    where the chain drifts up, sell where it drifts down. The drift comes from the model's one-step
    outcomes, not from the planner."""
    env = ChainTradingEnv(levels=LEVELS, fixed_cost=0.0)
    model = env.transition_model()
    drift = []
    for level in range(LEVELS):
        state = env.encode_state(level, 0, 0)
        price = env.describe_state(state)["price"]
        outcomes = zip(model.probs[state, 0], model.next_states[state, 0], strict=True)
        drift.append(sum(p * (env.describe_state(int(s))["price"] - price) for p, s in outcomes))
    up = max(level for level in range(LEVELS) if drift[level] > 1e-12)
    down = min(level for level in range(LEVELS) if drift[level] < -1e-12)
    assert _no_trade_band(0.0) == (up, down) == (9, 11)


def test_a_cost_of_two_widens_the_band_to_the_research_prototypes() -> None:
    """(6, 14): the band the research prototype found before qgym's chain existed, an independent
    implementation of the same Ehrenfest chain (``shared/design/envs.md``: cost 2.0, buy <= 6, sell
    >= 14 of 21 levels)."""
    assert _no_trade_band(2.0) == (6, 14)


def test_the_no_trade_band_widens_as_costs_rise() -> None:
    bands = [_no_trade_band(cost) for cost in (0.0, 0.5, 1.0, 2.0)]
    widths = [sell - buy for buy, sell in bands]
    assert widths == sorted(widths)
    assert widths[0] < widths[-1]


def _expected_trades(env_id: str) -> float:
    """Exact expected number of trades per episode under the optimal (time-dependent) policy."""
    env = gym.make(env_id).unwrapped
    assert isinstance(env, ChainTradingEnv)
    model = env.transition_model()
    horizon = env.config.episode_length
    policy = planning.backward_induction(model, horizon).policy
    distribution, trades = model.initial_distribution.copy(), 0.0
    for step in range(horizon):
        actions = policy[step]
        states = np.arange(model.n_states)
        positions = np.array([env.decode_state(s)[1] for s in states])
        moved = (
            np.array([env.decode_state(int(model.next_states[s, actions[s], 0]))[1] for s in states])
            != positions
        )
        trades += float(distribution @ moved)
        nxt = np.zeros_like(distribution)
        np.add.at(
            nxt,
            model.next_states[states, actions].ravel(),
            (distribution[:, None] * model.probs[states, actions]).ravel(),
        )
        distribution = nxt
    return trades


def test_the_high_cost_rung_trades_visibly_less() -> None:
    cheap, costly = _expected_trades("qgym/Trading-Chain-v0"), _expected_trades("qgym/Trading-ChainCostly-v0")
    assert costly < 0.6 * cheap


def test_the_observed_regime_shifts_the_optimal_band() -> None:
    env = gym.make("qgym/Trading-ChainRegime-v0").unwrapped
    assert isinstance(env, ChainTradingEnv)
    policy = planning.backward_induction(env.transition_model(), 100).policy[0]
    highest_buy = [
        max(lvl for lvl in range(LEVELS) if policy[env.encode_state(lvl, 0, r)] == BUY) for r in (0, 1)
    ]
    assert highest_buy[0] > highest_buy[1]  # buy higher in the bull regime than in the bear regime


@pytest.mark.parametrize("env_id", CHAIN_IDS)
def test_playing_the_optimal_policy_in_the_env_earns_the_exact_optimum(env_id: str) -> None:
    env = gym.make(env_id)
    policy = planning.backward_induction(planning.model_of(env), 100).policy
    returns = []
    for seed in range(400):
        obs, _ = env.reset(seed=seed)
        total, truncated, step = 0.0, False, 0
        while not truncated:
            obs, reward, _, truncated, _ = env.step(int(policy[step, obs]))
            total += float(reward)
            step += 1
        returns.append(total)
    standard_error = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - known_optimum(env_id)) < 4 * standard_error  # type: ignore[operator]


def test_p_is_the_toy_text_view_of_the_transition_model() -> None:
    env = ChainTradingEnv(regime_switch=0.1, tilt=0.2, fixed_cost=0.7, proportional_cost=0.01)
    model = env.transition_model()
    rebuilt = planning.TabularModel.from_toy_text(env.P, env.initial_state_distrib)
    values = np.random.default_rng(0).normal(size=model.n_states)
    np.testing.assert_allclose(rebuilt.backup(values, 0.9), model.backup(values, 0.9))
    assert env.initial_state_distrib.sum() == pytest.approx(1.0)


def test_the_chain_starts_flat_from_its_stationary_law() -> None:
    env = ChainTradingEnv()
    isd = env.initial_state_distrib
    for state in range(env.n_states):
        described = env.describe_state(state)
        expected = (
            comb(LEVELS - 1, described["level"]) / 2 ** (LEVELS - 1) if described["position"] == 0 else 0
        )
        assert isd[state] == pytest.approx(expected, abs=1e-12)


def test_state_index_round_trips_through_its_setter() -> None:
    env = ChainTradingEnv(regime_switch=0.05, tilt=0.1)
    env.reset(seed=0)
    for state in (0, 17, env.n_states - 1):
        env.state_index = state
        assert env.state_index == state
    with pytest.raises(ValueError, match="state_index"):
        env.state_index = env.n_states


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"levels": 2}, "levels"), ({"tilt": 0.5}, "tilt"), ({"regime_switch": 1.0}, "regime_switch")],
)
def test_bad_chain_arguments_are_refused_by_name(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        ChainTradingEnv(**kwargs)


def test_unknown_chain_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="levls"):
        ChainTradingEnv(levls=5)


def test_the_frame_shades_long_positions_green() -> None:
    env = ChainTradingEnv(render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    for _ in range(10):
        env.step(BUY)
    after = env.render()
    greenish = (after[..., 1].astype(int) - after[..., 0].astype(int)) > 20
    assert greenish.sum() > (before[..., 1].astype(int) - before[..., 0].astype(int) > 20).sum() + 500
