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
# # 3. Exploration vs exploitation
#
# An agent that always takes the action it currently believes best (**exploitation**) never finds
# out whether the others are better; one that keeps trying actions at random (**exploration**)
# wastes what it knows. Q-learning's usual compromise is **epsilon-greedy**: with probability
# epsilon a random action, otherwise the greedy one, with epsilon falling over training.
#
# This notebook shows three things with exact measurements:
#
# 1. epsilon schedules, as SB3 and qgym define them;
# 2. a trap that no amount of epsilon gets out of in a reasonable time, and the fix, **optimistic
#    initial values** (the 1x2 farm);
# 3. the price of exploring while you learn: SARSA against Q-learning on CliffWalking (Sutton &
#    Barto, Example 6.6).
#
# About 45 seconds.

# %%
import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

import qgym  # noqa: F401  (registers the qgym/ environments)
from qgym import planning, training
from qgym.agents.schedules import linear_epsilon
from qgym.viewing.plots import grid_values, plot_grid_policy
from qgym.viewing.views import cell_marks


def silent(agent):
    """Give an agent a logger that writes nothing (no files, no output)."""
    agent.set_logger(Logger(folder=None, output_formats=[]))
    return agent


# %% [markdown]
# ## Epsilon schedules
#
# qgym's tabular agents take DQN's three numbers: epsilon goes linearly from
# `exploration_initial_eps` to `exploration_final_eps` over the first `exploration_fraction` of
# training, then stays. The schedules used below:

# %%
SCHEDULES = {
    "default: 1 -> 0.05 over 10%": (1.0, 0.05, 0.1),
    "1x2 preset: 1 -> 0.1 over 10%": (1.0, 0.1, 0.1),
    "constant 0.5": (0.5, 0.5, 0.1),
    "constant 0.1 (CliffWalking below)": (0.1, 0.1, 0.1),
    "greedy: 0 (with optimism)": (0.0, 0.0, 0.1),
}
progress = np.linspace(0, 1, 201)
figure, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
for label, (initial, final, fraction) in SCHEDULES.items():
    ax.plot(
        100 * progress,
        [linear_epsilon(initial, final, fraction, 1 - p) for p in progress],
        label=label,
    )
ax.set_xlabel("training progress, % of the steps")
ax.set_ylabel("epsilon: probability of a random action")
ax.set_title(
    "Epsilon schedules (qgym.agents.schedules.linear_epsilon, as in SB3's DQN)"
)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## The 1x2 farm's trap
#
# `qgym/GridFarm-1x2-v0`: two plots side by side, 98 states. The exact optimum farms both plots.
# Start Q-learning with a table of zeros and the usual epsilon schedule, and it settles on farming
# **one** plot. Why: the states where both plots are planted are reached only by a run of choices
# (walk over, plant, keep both watered), and until the table has seen that run pay off, their
# values are zero, less than what farming the first plot already earns. The greedy policy never
# goes there, and epsilon's random actions rarely string the run together.
#
# The fix: **optimism**. Start every Q-value at 100, above any true value (about 75-85 here). Then
# every untried action looks better than the tried ones, whose values fall towards the truth as
# they are taken; the greedy agent tries everything systematically, with no random actions at all.
#
# Each run below is measured every 64,000 steps by the exact expected season return of its greedy
# policy. One seed per setting, to stay within a minute (seed 0; the shipped preset is checked on
# seeds 0-2 by `benchmarks/bench_presets.py`).

# %%
FARM = "qgym/GridFarm-1x2-v0"
farm_env = gym.make(FARM)
farm = farm_env.unwrapped
farm_model = planning.model_of(farm_env)
season = farm_env.spec.max_episode_steps
farm_optimum = planning.expected_return(
    farm_model, planning.backward_induction(farm_model, season).values
)


class ExactShare(BaseCallback):
    """Every ``every`` steps, the greedy policy's exact season return as a share of the optimum."""

    def __init__(self, every):
        super().__init__()
        self.every, self.history = every, []

    def _on_step(self):
        if self.num_timesteps % self.every == 0:
            policy = self.model.q_table.argmax(axis=1)
            value = planning.policy_return(farm_model, policy, horizon=season)
            self.history.append((self.num_timesteps, value / farm_optimum))
        return True


RUNS = {
    "zero-initialised, epsilon 1 -> 0.1 (the preset's schedule)": (
        0.0,
        1.0,
        0.1,
        1_000_000,
    ),
    "zero-initialised, epsilon 0.5 throughout": (0.0, 0.5, 0.5, 1_000_000),
    "optimistic (initial Q = 100), greedy (epsilon 0)": (100.0, 0.0, 0.0, 2_000_000),
}
farm_runs = {}
for label, (initial_q, eps_start, eps_end, steps) in RUNS.items():
    block = {
        "n_envs": 64,
        "learning_rate": 0.05,
        "gamma": 0.99,
        "exploration_fraction": 0.1,
        "exploration_initial_eps": eps_start,
        "exploration_final_eps": eps_end,
        "policy_kwargs": {"initial_q_value": initial_q},
    }
    agent = silent(training.make_model("qlearning", FARM, block, seed=0))
    tracker = ExactShare(every=64_000)
    agent.learn(steps, callback=tracker)
    farm_runs[label] = (agent, np.array(tracker.history))
    print(
        f"{label}: {steps:,} steps, greedy policy {tracker.history[-1][1]:.1%} of the exact optimum"
    )

figure, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
for label, (_, history) in farm_runs.items():
    ax.plot(history[:, 0], 100 * history[:, 1], marker="o", markersize=3, label=label)
ax.axhline(
    100,
    color="black",
    linestyle="--",
    linewidth=1,
    label=f"exact optimum {farm_optimum:.2f}",
)
ax.set_xlabel("environment steps (64 envs side by side)")
ax.set_ylabel("greedy policy, % of the exact optimum")
ax.set_title(f"{FARM}: the one-plot trap and optimism (Q-learning, alpha 0.05, seed 0)")
ax.set_ylim(0, 105)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# The zero-initialised runs stay at or below 60% of the optimum, whatever epsilon does (they get
# half the optimistic run's steps, to save time: they are flat from the first measurement on). The
# optimistic greedy run starts worse, while it tries everything its optimism promises, then climbs
# past them. Where did each agent spend its updates? The state labels
# name each plot's stage (`.` empty), so the two-crop states are those with no `.`:

# %%
two_crops = np.array(
    [not farm.state_label(s).split()[0].count(".") for s in range(farm_model.n_states)]
)
for label, (agent, _) in farm_runs.items():
    visits = agent.visit_counts.sum(axis=1)
    print(
        f"{label}: {visits[two_crops].sum() / visits.sum():5.1%} of the updates in two-crop states"
    )

# %% [markdown]
# That is the trap: the zero-initialised tables hardly ever saw both plots planted, so nothing
# told them it pays. The shipped preset (`zoo_configs/qlearning.yml`: optimism, 6M steps, learning
# rate 0.02, epsilon 1 -> 0.1) is slower and steadier than this one-minute version; the README's
# table lists what it reaches, as measured by `benchmarks/bench_presets.py` (96.1% on the worst of
# seeds 0-2). On the 2x2 farm the same trap comes back one size up (a table farms two plots of
# four), which is where tables stop: [tutorial 5](05_dqn.ipynb).
#
# ## SARSA vs Q-learning on the cliff
#
# `CliffWalking-v1` (Sutton & Barto, Example 6.6): walk from the bottom-left corner to the
# bottom-right one; every step costs 1, stepping into the cliff between them costs 100 and sends
# you back to the start. The shortest path runs along the cliff edge (13 steps).
#
# Both agents explore with a constant epsilon of 0.1. **Q-learning** is *off-policy*: its target
# uses the best next action, so it learns the values of the greedy policy, which walks the edge.
# **SARSA** is *on-policy*: its target uses the action it will actually take next (random 10% of
# the time), so it learns the values of the epsilon-greedy policy, for which the edge is dangerous,
# and it prefers a path further from the cliff. Which is better depends on what you measure, and
# the model answers both exactly: `planning.policy_return` of the greedy policy, and of the
# epsilon-greedy policy given as action probabilities per state.

# %%
CLIFF = "CliffWalking-v1"
cliff_env = gym.make(CLIFF)
cliff_model = planning.model_of(cliff_env)
# qgym judges CliffWalking (no registered time limit) over 1,000 steps
EPSILON, LIMIT = 0.1, 1_000


def epsilon_greedy(q, epsilon):
    """The epsilon-greedy policy of a Q-table as action probabilities, shape (states, actions)."""
    probabilities = np.full(q.shape, epsilon / q.shape[1])
    probabilities[np.arange(q.shape[0]), q.argmax(axis=1)] += 1 - epsilon
    return probabilities


cliff = {}
for algo in ("sarsa", "qlearning"):
    for seed in (0, 1, 2):
        block = {
            "n_envs": 1,
            "learning_rate": 0.1,
            "gamma": 1.0,
            "exploration_initial_eps": EPSILON,
            "exploration_final_eps": EPSILON,
        }
        agent = silent(training.make_model(algo, CLIFF, block, seed=seed)).learn(
            100_000
        )
        q = agent.q_table
        cliff[algo, seed] = {
            "agent": agent,
            "online": np.mean(
                [episode["r"] for episode in agent.ep_info_buffer]
            ),  # last 100 episodes
            "greedy": planning.policy_return(
                cliff_model, q.argmax(axis=1), horizon=LIMIT
            ),
            "epsilon-greedy": planning.policy_return(
                cliff_model, epsilon_greedy(q, EPSILON), horizon=LIMIT
            ),
        }
print(f"{'agent':>9} {'seed':>4} {'online, last 100 episodes':>26}", end="")
print(f" {'exact, epsilon-greedy':>22} {'exact, greedy':>14}")
for (algo, seed), result in cliff.items():
    print(f"{algo:>9} {seed:>4} {result['online']:>26.1f}", end="")
    print(f" {result['epsilon-greedy']:>22.1f} {result['greedy']:>14.1f}")

# %% [markdown]
# The table is Sutton & Barto's figure in numbers. While learning (epsilon 0.1 on), SARSA's
# episodes return about -21 and Q-learning's about -50: Q-learning walks the edge and its random
# steps throw it off the cliff. The exact value of each epsilon-greedy policy confirms the sampled
# means. Turn exploration off, though, and Q-learning's greedy policy is the optimal one (-13,
# the optimum `planning` gives), while SARSA's greedy policy keeps its detour (-15: it learned what
# is best *while exploring*). The two greedy policies, drawn with `qgym.viewing.plots`:

# %%
for algo in ("qlearning", "sarsa"):
    agent = cliff[algo, 0]["agent"]
    values, policy, names = grid_values(
        cliff_env, lambda observation, agent=agent: agent.q_table[observation]
    )
    title = f"{CLIFF}: {algo}'s greedy policy (seed 0), exact return {cliff[algo, 0]['greedy']:.0f}"
    display(
        plot_grid_policy(
            values, policy, names, title=title, marks=cell_marks(cliff_env)
        )
    )

# %% [markdown]
# ## What this notebook checked

# %%
cliff_optimum = planning.expected_return(
    cliff_model, planning.value_iteration(cliff_model, gamma=1.0).values
)
final_share = {label: history[-1, 1] for label, (_, history) in farm_runs.items()}
zero_labels = [label for label in RUNS if label.startswith("zero")]
optimistic = final_share["optimistic (initial Q = 100), greedy (epsilon 0)"]
assert all(final_share[label] < 0.66 for label in zero_labels), final_share  # the trap
assert optimistic >= 0.9, final_share  # optimism gets out of it
assert np.isclose(cliff_optimum, -13.0)
for seed in (0, 1, 2):
    q_learning, sarsa = cliff["qlearning", seed], cliff["sarsa", seed]
    # Q-learning's greedy policy is optimal
    assert np.isclose(q_learning["greedy"], cliff_optimum), q_learning
    assert sarsa["greedy"] < cliff_optimum - 1, sarsa  # SARSA's takes the safe path
    # SARSA earns more while exploring: exactly valued, and as sampled online
    assert sarsa["epsilon-greedy"] > q_learning["epsilon-greedy"] + 10, (
        sarsa,
        q_learning,
    )
    assert sarsa["online"] > q_learning["online"] + 10, (sarsa, q_learning)
print("all checks passed")
