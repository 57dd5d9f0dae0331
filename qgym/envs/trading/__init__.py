"""Toy trading: one asset, hold / buy / sell, costs on every trade, reward = change in equity.

``rules`` (the trading rules on arrays of N traders) serves ``desk`` (N traders' accounts on N price
streams), which the single envs (a desk of one) and ``vector`` (a desk of N) both step. ``chain`` is the
exact rung, a finite Ehrenfest price chain whose rule and exact model are in ``chain_rules``; ``market``
the market rungs (the synthetic paths of ``prices``, or the user's prices). ``render`` draws an
episode, ``heuristic`` plays the market rungs; ``metrics`` and ``reference`` read an episode as a
portfolio (the chains' optimal one exactly), ``leak`` is a look-ahead bug on purpose.
"""

from qgym.envs.trading.chain import ChainTradingEnv
from qgym.envs.trading.chain_rules import chain_outcomes, chain_price
from qgym.envs.trading.heuristic import TrendFollower
from qgym.envs.trading.leak import PeekNextMove, peeking_policy
from qgym.envs.trading.market import TradingEnv
from qgym.envs.trading.prices import (
    REGIME_NAMES,
    PriceProcess,
    generate_prices,
    load_csv_prices,
    validate_prices,
)
from qgym.envs.trading.rules import (
    ACTION_NAMES,
    BUY,
    HOLD,
    SELL,
    TradingConfig,
    decode_index,
    encode_index,
    market_features,
    position_tables,
    step_rewards,
    trade_costs,
)
from qgym.envs.trading.vector import ChainTradingVectorEnv, TradingVectorEnv

__all__ = [
    "ACTION_NAMES",
    "BUY",
    "HOLD",
    "REGIME_NAMES",
    "SELL",
    "ChainTradingEnv",
    "ChainTradingVectorEnv",
    "PeekNextMove",
    "PriceProcess",
    "TradingConfig",
    "TradingEnv",
    "TradingVectorEnv",
    "TrendFollower",
    "chain_outcomes",
    "chain_price",
    "decode_index",
    "encode_index",
    "generate_prices",
    "load_csv_prices",
    "market_features",
    "peeking_policy",
    "position_tables",
    "step_rewards",
    "trade_costs",
    "validate_prices",
]
