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
# # 1. Rewards, states, actions and the Q-table
#
# Reinforcement learning is **reward-based learning**: nobody tells the agent what to do; it acts,
# the environment answers with a number (the *reward*), and the agent learns to prefer what pays in
# the long run. Like a dog trained with treats, except that here the treat may come twenty steps
# after the action that earned it.
#
# This notebook plays a small farm by hand, writes the Q-table as the slides draw it (rows are
# states, columns are actions), performs one Q-learning update with pencil and paper and checks it
# against `qgym.QLearning`, then trains the table and draws it next to the **exact** optimal
# Q-table, which qgym computes from the farm's transition model.
#
# Set-up (once): `pip install torch==2.13.0 && pip install -e ".[docs]"` in the repository, then
# open this notebook. It runs in about 15 seconds.

# %%
import tempfile

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

import qgym  # importing qgym registers the qgym/ environments with Gymnasium
from qgym import QLearning, planning, training

print("qgym", qgym.__version__)

# %% [markdown]
# ## The environment: states, actions, rewards
#
# `qgym/GridFarm-1x1-v0` is a field of one plot and one farmer. The **state** is what the agent
# can base a decision on: here the plot's stage (empty, seeded, growing, ripe, withered; dry or
# wet). The **actions** are the farmer's moves and work. The **rewards**: planting costs 1,
# watering a dry crop 0.5, harvesting a ripe crop pays 10. Between two actions the weather acts: it
# may rain (watering the crop for free), a wet crop may grow a stage or dry out, a dry crop may
# wither, a ripe one may rot. A season is 100 days.

# %%
env = gym.make("qgym/GridFarm-1x1-v0")
# the env itself, without Gymnasium's wrappers: it names its states and actions
farm = env.unwrapped
print("observation space:", env.observation_space, "(one number: the state's index)")
print("action space:     ", env.action_space)
print("actions:", dict(enumerate(farm.action_names)))
print("states: ", {s: farm.state_label(s) for s in range(env.observation_space.n)})
print("how to read a state:", farm.state_legend())

# %% [markdown]
# ## Playing a few steps by code
#
# `reset(seed=...)` starts a season (the seed fixes the weather's draws, so this cell prints the same
# every time); `step(action)` returns the next state, the reward, whether the episode *terminated*
# (it never does on the farm) or was *truncated* (at the end of the season), and an info dict.

# %%
PLANT, WATER, HARVEST, WAIT = 4, 5, 6, 7
state, info = env.reset(seed=0)
played = []  # (state, action, reward, next state): the experience a learner learns from
print(f"day 0: state {state} '{farm.state_label(state)}'")
for action in [PLANT, WATER, WAIT, WAIT, WAIT, HARVEST, WAIT]:
    next_state, reward, terminated, truncated, info = env.step(action)
    played.append((state, action, float(reward), next_state))
    print(
        f"day {info['day']}: {farm.action_names[action]:>7} -> reward {reward:+5.1f}, "
        f"state {next_state} '{farm.state_label(next_state)}', rained: {info['rained']}"
    )
    state = next_state
print(
    "return of these steps (the sum of the rewards):", sum(step[2] for step in played)
)


# %% [markdown]
# The costs come first and the pay-off later (or never, if the crop withers): to learn that planting
# is worth its cost, the agent has to connect a reward to actions taken many days before.
#
# ## The Q-table
#
# Q-learning keeps one number per state and action, `Q(s, a)`: the *quality* of taking action `a`
# in state `s`, an estimate of the (discounted) return that follows. Stored as a 2-D array: one row
# per state, one column per action, as on the slide. It starts at zero.


# %%
def print_q_table(q, title):
    """The Q-table as the slides draw it: rows are states, columns are actions."""
    names = farm.action_names
    print(title)
    print(f"{'state':>10} | " + " ".join(f"{name:>7}" for name in names))
    for s, row in enumerate(q):
        print(
            f"{farm.state_label(s):>10} | " + " ".join(f"{value:7.2f}" for value in row)
        )


q = np.zeros((env.observation_space.n, env.action_space.n))
print_q_table(q, "Q-table before any learning (all zero)")

# %% [markdown]
# ## The update rule, by hand
#
# After each step `(s, a, r, s')` Q-learning moves `Q(s, a)` towards what it just saw:
#
# ```
# Q(s, a) <- Q(s, a) + alpha * [ r + gamma * max_a' Q(s', a') - Q(s, a) ]
#           (old value)  (learning rate) (new information - old information)
# ```
#
# `r + gamma * max_a' Q(s', a')` is the *target*: the reward now plus the discounted value of the
# best action in the next state. `alpha` (the learning rate, between 0 and 1) sets how far one step
# moves the estimate; `gamma` (the discount factor) how much the future counts
# ([tutorial 2](02_alpha_gamma.ipynb) is about both). The bracket is the *temporal-difference
# error*. Let us apply it to the steps played above, one after the other.

# %%
alpha, gamma = 0.5, 0.9
for s, a, r, s_next in played:
    target = r + gamma * q[s_next].max()
    q[s, a] = q[s, a] + alpha * (target - q[s, a])
print_q_table(
    q, f"Q-table after {len(played)} updates by hand (alpha {alpha}, gamma {gamma})"
)

# %% [markdown]
# Planting got a negative value (it cost 1 and the next state still looked worthless), and only
# the harvest's +10 made its row positive. Information flows backwards one step per update: it
# takes many seasons before the value of the harvest reaches the decision to plant. That is why
# the agent trains for thousands of steps.
#
# ## Checking the rule against QLearning
#
# `qgym.QLearning` is a Stable-Baselines3 algorithm that applies exactly this rule. To check it, let
# it train a little, then take **one** more step while a callback records the transition, and
# compare the entry it changed with the formula applied by hand to the table as it was before.
# (`exploration_initial_eps = exploration_final_eps` keeps the exploration rate constant, so the
# extra step does not change the schedule; the logger is a silent one, so nothing is written.)


# %%
class RecordStep(BaseCallback):
    """Remember the action, reward and info of every step SB3 reports."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def _on_step(self):
        self.steps.append(
            (int(self.locals["actions"][0]), float(self.locals["rewards"][0]))
        )
        return True


check_env = gym.make("qgym/GridFarm-1x1-v0")
agent = QLearning(
    "TabularPolicy",
    check_env,
    learning_rate=0.1,
    gamma=0.99,
    exploration_initial_eps=0.3,
    exploration_final_eps=0.3,
    seed=0,
)
agent.set_logger(Logger(folder=None, output_formats=[]))
agent.learn(2_000)  # a table with something in it

before = agent.q_table  # a copy
s = planning.current_state(check_env)  # the state the next step starts from
recorder = RecordStep()
agent.learn(1, reset_num_timesteps=False, callback=recorder)  # exactly one more step
after = agent.q_table
(a, r), s_next = recorder.steps[0], planning.current_state(check_env)

by_hand = before[s, a] + 0.1 * (r + 0.99 * before[s_next].max() - before[s, a])
changed = np.argwhere(after != before)
print(
    f"the step: s = '{farm.state_label(s)}', a = {farm.action_names[a]}, r = {r:+.1f}",
    end="",
)
print(f", s' = '{farm.state_label(s_next)}'")
print(f"Q(s, a) before: {before[s, a]:.6f}")
old, best_next = before[s, a], before[s_next].max()
print(
    f"by hand:  {old:.6f} + 0.1 * ({r:+.1f} + 0.99 * {best_next:.6f} - {old:.6f}) = {by_hand:.6f}"
)
print(f"QLearning's table after the step: {after[s, a]:.6f}")
print(
    "entries the step changed (state, action):",
    [tuple(int(i) for i in entry) for entry in changed],
)

# %% [markdown]
# The same number, and no other entry moved.
#
# ## Training, and the exact answer
#
# `qgym.training.train` trains an agent from the shipped preset (200,000 steps for this farm, 16
# copies of the env side by side) and writes a run folder, here in a temporary directory. Its
# evaluation values the greedy policy of the learned table **exactly**: the farm's transition model
# (`qgym.planning.model_of`) gives the expected season return of any policy without sampling.

# %%
with tempfile.TemporaryDirectory() as runs:
    run = training.train("qlearning", "qgym/GridFarm-1x1-v0", seed=0, log_folder=runs)
print(run.evaluation.summary())
learned = run.model.q_table

# %% [markdown]
# The table learns the values of the discounted problem with the agent's `gamma` (0.99 in the
# preset). `planning.value_iteration` computes that problem's exact optimal Q-table, Q*, from the
# model: no samples, just the Bellman equation iterated to convergence. Side by side:

# %%
model = planning.model_of(env)
optimal = planning.value_iteration(model, gamma=run.model.gamma)
labels = [farm.state_label(s) for s in range(model.n_states)]
low = min(learned.min(), optimal.q.min())
high = max(learned.max(), optimal.q.max())
figure, axes = plt.subplots(2, 1, figsize=(8, 8), layout="constrained")
panels = [
    (learned, "learned by Q-learning (200k steps)"),
    (optimal.q, "exact Q* (value iteration)"),
]
for ax, (table, name) in zip(axes, panels, strict=True):
    image = ax.imshow(table, cmap="viridis", vmin=low, vmax=high, aspect="auto")
    for (i, j), value in np.ndenumerate(table):
        colour = "white" if value < (low + high) / 2 else "black"
        ax.text(
            j, i, f"{value:.1f}", ha="center", va="center", fontsize=8, color=colour
        )
    for i, j in enumerate(table.argmax(axis=1)):  # box the greedy action of each row
        ax.add_patch(
            plt.Rectangle(
                (j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2
            )
        )
    ax.set_xticks(range(len(farm.action_names)), farm.action_names)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("action a")
    ax.set_ylabel("state s (plot stage @ cell)")
    ax.set_title(f"Q(s, a) {name}, gamma {run.model.gamma}")
figure.colorbar(image, ax=axes, label="Q(s, a): discounted return expected")
box = Line2D(
    [],
    [],
    marker="s",
    markersize=12,
    markerfacecolor="none",
    markeredgecolor="red",
    linestyle="",
)
figure.legend(
    handles=[box],
    labels=["greedy action (highest Q in the row)"],
    loc="outside lower center",
)
figure.suptitle("GridFarm-1x1: the learned Q-table next to the exact Q*")
plt.show()

# %% [markdown]
# The learned values sit close to Q* where the agent spent its time, and the red boxes (the greedy
# actions) fall on the same work: plant the empty plot, water a dry crop, harvest the ripe one. On a
# one-plot field the four moves change nothing, so they are worth exactly what `wait` is; where
# every action is worth the same (a wet crop just grows or not), any greedy choice is optimal and
# the learned box lands wherever the noise of sampling put the highest estimate. The withered row
# is far below Q* in every action but `harvest` (which clears the plot): the agent seldom sees a
# withered plot and, once harvesting proved best there, rarely tried anything else. Updates per
# state, from the agent's own counts:

# %%
visits = run.model.visit_counts.sum(axis=1)
print("updates per state:", {farm.state_label(s): int(n) for s, n in enumerate(visits)})

# %% [markdown]
# What matters is the **policy**: the greedy policy of the learned table earns, exactly, the share
# of the best possible season printed above. The season optimum comes from
# `planning.backward_induction`, which plans over the 100 days themselves:

# %%
horizon = env.spec.max_episode_steps
season_optimum = planning.expected_return(
    model, planning.backward_induction(model, horizon).values
)
greedy = learned.argmax(axis=1)
mine = planning.policy_return(model, greedy, horizon=horizon)
share = mine / season_optimum
print(f"exact expected season return of the learned greedy policy: {mine:.2f}")
print(
    f"exact season optimum (backward induction over {horizon} days): {season_optimum:.2f}"
)
print(f"share of the optimum: {share:.1%}")
gap = np.abs(learned - optimal.q).max()
print(
    f"largest |learned Q - Q*| over the table: {gap:.2f} (Q* values are about {optimal.q.mean():.0f})"
)

# %% [markdown]
# ## What this notebook checked
#
# These assertions fail if the code stops teaching what the text says: the hand update must equal
# `QLearning`'s to the last bits, only that entry may change, and the trained table's greedy policy
# must reach 95% of the exact optimum.

# %%
assert np.isclose(after[s, a], by_hand, rtol=0, atol=1e-12), (after[s, a], by_hand)
others = np.ones_like(before, dtype=bool)
others[s, a] = False
assert np.array_equal(after[others], before[others]), changed
assert share >= 0.95, share
assert np.isclose(
    season_optimum, qgym.envs.KNOWN_OPTIMA["qgym/GridFarm-1x1-v0"], atol=1e-4
)
assert np.array_equal(greedy[[0, 1, 5]], optimal.policy[[0, 1, 5]]), (
    greedy,
    optimal.policy,
)
print("all checks passed")
