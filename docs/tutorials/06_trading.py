# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Trading: costs, the no-trade band, and look-ahead
#
# Finance is the slides' second use case (FinRL). qgym's trading family keeps the part that
# teaches: one asset, three actions (hold, buy one unit, sell one unit), a position between -1
# and 1, a cost on every trade, and a reward that is the change in equity net of costs. The
# **chain** rungs are small enough to solve exactly; the **market** rungs are synthetic price paths
# with regimes, where a learner is measured against a trend-following heuristic.
#
# Three lessons: what the exact optimal policy looks like and how costs widen its **no-trade
# band**; what DQN does on the market rungs in a short run; and how a **look-ahead leak**, the
# classic backtest bug, produces results that look brilliant and are impossible, which an exact
# optimum exposes at once. About 60 seconds.

# %%
import copy
import tempfile

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

import qgym
from qgym import planning, training

torch.set_num_threads(1)
HOLD, BUY, SELL = 0, 1, 2

# %% [markdown]
# ## The exact policy of the chain rungs
#
# On `Trading-Chain-v0` the price sits on one of 21 levels around 100 and reverts towards the
# middle. The state is (price level, position); the model is exact, so backward induction gives the
# optimal action in every state on every day of the 100-step season. Here it is on day 0, for three
# trading costs: none, 0.5 (`Trading-Chain-v0`) and 2.0 (`Trading-ChainCostly-v0`).

# %%
COSTS = {
    "cost 0 (Trading-Chain-v0, fixed_cost=0)": gym.make(
        "qgym/Trading-Chain-v0", fixed_cost=0.0
    ),
    "cost 0.5 (Trading-Chain-v0)": gym.make("qgym/Trading-Chain-v0"),
    "cost 2.0 (Trading-ChainCostly-v0)": gym.make("qgym/Trading-ChainCostly-v0"),
}
horizon = 100
exact = {}
for label, env in COSTS.items():
    chain = env.unwrapped
    model = planning.model_of(env)
    solution = planning.backward_induction(model, horizon)
    positions = (-1, 0, 1)
    day0 = np.array(
        [
            [
                solution.policy[0][chain.encode_state(level, p)]
                for level in range(chain.levels)
            ]
            for p in positions
        ]
    )
    flat = day0[1]
    exact[label] = {
        "env": env,
        "model": model,
        "solution": solution,
        "day0": day0,
        "optimum": planning.expected_return(model, solution.values),
        "buy_below": int(np.flatnonzero(flat == BUY).max()),
        "sell_above": int(np.flatnonzero(flat == SELL).min()),
    }

figure, axes = plt.subplots(
    len(COSTS), 1, figsize=(9, 6), layout="constrained", sharex=True
)
colours = ListedColormap(["0.85", "tab:green", "tab:red"])
for ax, (label, result) in zip(axes, exact.items(), strict=True):
    ax.imshow(result["day0"], cmap=colours, vmin=0, vmax=2, aspect="auto")
    ax.set_yticks(range(3), ["short -1", "flat 0", "long +1"])
    ax.set_ylabel("position held")
    ax.set_title(
        f"{label}: buy when flat at level <= {result['buy_below']}, sell at >= {result['sell_above']}",
        fontsize=9,
    )
axes[-1].set_xticks(range(21))
axes[-1].set_xlabel(
    "price level (10 is the middle, price 100; the price reverts towards it)"
)
figure.legend(
    handles=[
        Patch(color="0.85", label="hold"),
        Patch(color="tab:green", label="buy one unit"),
        Patch(color="tab:red", label="sell one unit"),
    ],
    loc="outside right center",
)
figure.suptitle("The exact optimal action on day 0 of the season (backward induction)")
plt.show()

# %% [markdown]
# The policy is a band: below the middle, buy (the price should rise back); above, sell (go short);
# in between, hold. A trade pays its cost at once and its gain only as the price reverts, so the
# higher the cost, the further from the middle the price must be before a trade pays: the
# **no-trade band** widens. How often does each optimal policy trade? The model answers exactly:
# value the time-dependent optimal policy with a "reward" of 1 for every change of position.


# %%
def expected_trades(result):
    """Expected number of position changes over the season under the optimal (day-dependent) policy."""
    model, policy, chain = (
        result["model"],
        result["solution"].policy,
        result["env"].unwrapped,
    )
    position = np.array([chain.decode_state(s)[1] for s in range(model.n_states)])
    # per outcome
    trades = (position[model.next_states] != position[:, None, None]).astype(float)
    values = np.zeros(model.n_states)
    for day in reversed(range(horizon)):
        chosen = policy[day].astype(int)
        rows = np.arange(model.n_states)
        p, nxt, t = (
            model.probs[rows, chosen],
            model.next_states[rows, chosen],
            trades[rows, chosen],
        )
        values = (p * (t + values[nxt])).sum(axis=1)
    return planning.expected_return(model, values)


for label, result in exact.items():
    result["trades"] = expected_trades(result)
    print(
        f"{label:>40}: optimum {result['optimum']:7.3f}, no-trade band from flat: levels "
        f"{result['buy_below'] + 1}-{result['sell_above'] - 1}, {result['trades']:.1f} trades per season"
    )

# %% [markdown]
# ## DQN on the market rungs, briefly
#
# `Trading-Market-v0` draws a fresh synthetic price path every episode (mean reversion, regimes
# *ranging* / *rally* / *slump*, observed) and shows the agent scale-free features: recent
# volatility-scaled returns, a 20-step z-score, its position, the time left, the regime. There is no
# exact optimum, so qgym plays the family's heuristic (ride the regime's trend) on the **same**
# seeded episodes and reports the paired difference: on the same paths, luck mostly cancels. The
# DQN preset trains for 600,000 steps (minutes); this is a 30,000-step run, to see the machinery.

# %%
MARKET = "qgym/Trading-Market-v0"
with tempfile.TemporaryDirectory() as runs:
    run = training.train(
        "dqn", MARKET, n_timesteps=30_000, seed=0, log_folder=runs, eval_episodes=60
    )
evaluation = run.evaluation
print(evaluation.summary())
print(
    "standard error of the DQN's mean alone (unpaired):",
    f"{evaluation.standard_error:.2f}",
)

# %% [markdown]
# Compare the two standard errors: each episode's return swings by tens (the path's luck), so a
# mean over 60 episodes is uncertain by several units; the paired difference removes the path's
# luck and is far more precise. The shipped preset, at its full 600,000 steps, beats the heuristic
# by more than two standard errors over 500 paired episodes on seeds 0-2 (the README's preset
# table and `zoo_configs/dqn.yml`, measured by `benchmarks/bench_presets.py`; not rerun here).
#
# ## A look-ahead leak beats the optimum
#
# A backtest leaks the future when a decision at time `t` uses anything known only after `t`:
# indicators computed with the day's close and traded at that close, features normalised over the
# whole series, a label shifted the wrong way. The results look excellent and will never be seen
# live. It is among the most common bugs in RL trading code (FinRL-style pipelines included), and
# it is hard to spot when there is nothing to compare with.
#
# Here is a leak in its purest form: a policy that peeks one step ahead. At each step it copies the
# env (with its random generator), steps the copy to see the next price, then goes long if the
# price will rise and short if it will fall.


# %%
def peek_next_price(env):
    """The price the env will show after this step: the leak (a copy of the env, random state included)."""
    future = copy.deepcopy(env.unwrapped)
    return future.step(HOLD)[4]["price"]


def leaky_episode(env, seed):
    """One episode of the one-step look-ahead policy; checks the peek was right at every step."""
    _, info = env.reset(seed=seed)
    total, truncated = 0.0, False
    while not truncated:
        upcoming, price, position = (
            peek_next_price(env),
            info["price"],
            info["position"],
        )
        target = 1 if upcoming > price else -1 if upcoming < price else position
        action = BUY if target > position else SELL if target < position else HOLD
        _, reward, _, truncated, info = env.step(action)
        assert info["price"] == upcoming  # the peek saw the real future
        total += float(reward)
    return total


chain_env = exact["cost 0.5 (Trading-Chain-v0)"]["env"]
chain_optimum = exact["cost 0.5 (Trading-Chain-v0)"]["optimum"]
leak_chain = np.array([leaky_episode(chain_env, seed) for seed in range(40)])
market_env = gym.make(MARKET)
leak_market = np.array([leaky_episode(market_env, seed) for seed in range(20)])
heuristic_market = training.episode_returns(
    market_env, training.heuristic_for(market_env), 20, 0
)


def describe(returns):
    stderr = returns.std(ddof=1) / np.sqrt(len(returns))
    return (
        f"{returns.mean():7.2f} (standard error {stderr:.2f}, {len(returns)} episodes)"
    )


print(
    f"Trading-Chain-v0, exact optimum (no policy can expect more): {chain_optimum:7.2f}"
)
print(
    f"Trading-Chain-v0, one-step look-ahead policy:                 {describe(leak_chain)}"
)
print(
    f"Trading-Market-v0, trend-following heuristic:                  {describe(heuristic_market)}"
)
print(
    f"Trading-Market-v0, one-step look-ahead policy (same seeds):    {describe(leak_market)}"
)
print(
    f"Trading-Market-v0, DQN above (30k steps, its own 60 seeds):    {evaluation.mean_return:7.2f}"
)

figure, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
bars = {
    "chain: exact optimum": (chain_optimum, 0.0),
    "chain: look-ahead leak": (
        leak_chain.mean(),
        leak_chain.std(ddof=1) / np.sqrt(len(leak_chain)),
    ),
    "market: heuristic": (
        heuristic_market.mean(),
        heuristic_market.std(ddof=1) / np.sqrt(len(heuristic_market)),
    ),
    "market: DQN, 30k steps": (evaluation.mean_return, evaluation.standard_error),
    "market: look-ahead leak": (
        leak_market.mean(),
        leak_market.std(ddof=1) / np.sqrt(len(leak_market)),
    ),
}
colours = ["black", "tab:red", "tab:blue", "tab:green", "tab:red"]
ax.barh(
    list(bars),
    [value for value, _ in bars.values()],
    xerr=[1.96 * e for _, e in bars.values()],
    color=colours,
    capsize=3,
)
ax.invert_yaxis()
ax.set_xlabel("mean episode return; error bars: 95% interval of the mean")
ax.set_ylabel("policy")
ax.set_title("A one-step look-ahead leak against honest policies")
ax.legend(
    handles=[
        Patch(color="black", label="exact optimum (an expectation)"),
        Patch(color="tab:red", label="leaks the next price"),
        Patch(color="tab:blue", label="honest, hand-written"),
        Patch(color="tab:green", label="honest, learned"),
    ],
    fontsize=8,
    loc="upper center",
    bbox_to_anchor=(0.5, -0.22),
    ncol=4,
)
ax.grid(alpha=0.3, axis="x")
plt.show()

# %% [markdown]
# On the chain the leak "earns" nearly three times the exact optimum, the most any policy that sees
# only the past can expect. That is the point of having the optimum: a result above it is not a
# better strategy, it is a bug. On the market rungs, where no optimum is known, the same leak
# simply looks like a spectacular learner; only the construction of the observation (qgym's
# features use prices up to `t` only, and its train and test paths come from disjoint seed streams,
# `split="train"` / `"test"`) rules it out. When you bring your own prices
# (`gym.make("qgym/Trading-MarketHidden-v0", prices=array, split="train")`), keep the test segment for
# the end and be suspicious of any result that beats a simple heuristic by a lot.
#
# ## What this notebook checked

# %%
bands = [(r["buy_below"], r["sell_above"]) for r in exact.values()]
trades = [r["trades"] for r in exact.values()]
assert (
    bands[0][1] - bands[0][0] <= bands[1][1] - bands[1][0] < bands[2][1] - bands[2][0]
), bands  # costs widen
assert trades[0] > trades[1] > trades[2], trades  # and trade less
assert np.isclose(
    exact["cost 0.5 (Trading-Chain-v0)"]["optimum"],
    qgym.envs.KNOWN_OPTIMA["qgym/Trading-Chain-v0"],
    atol=1e-4,
)
assert np.isclose(
    exact["cost 2.0 (Trading-ChainCostly-v0)"]["optimum"],
    qgym.envs.KNOWN_OPTIMA["qgym/Trading-ChainCostly-v0"],
    atol=1e-4,
)
chain_stderr = leak_chain.std(ddof=1) / np.sqrt(len(leak_chain))
# impossible
assert leak_chain.mean() > chain_optimum + 5 * chain_stderr, (
    leak_chain.mean(),
    chain_optimum,
)
assert leak_chain.mean() > 2 * chain_optimum, (leak_chain.mean(), chain_optimum)
assert leak_market.mean() > 2 * heuristic_market.mean(), (
    leak_market.mean(),
    heuristic_market.mean(),
)
assert evaluation.heuristic_return is not None
# pairing removes luck
assert evaluation.difference_stderr < evaluation.standard_error, evaluation
print("all checks passed")
