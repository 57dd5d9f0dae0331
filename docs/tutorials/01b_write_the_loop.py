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
# # 1b. Write it yourself: the Q-learning loop
#
# [Tutorial 1](01_q_table.ipynb) performed one Q-learning update by hand and then handed over to
# `qgym.QLearning`. Here you write the whole loop yourself, as the Hugging Face Deep RL course
# (unit 2) and Gymnasium's FrozenLake tutorial do: choose an action epsilon-greedily, `env.step` it,
# update the table, reset when the episode ends. About fifteen lines.
#
# Then something those tutorials cannot do: value your learned policy **exactly**. `qgym.planning`
# knows the farm's transition model, so it computes the expected season return of your greedy
# policy without sampling, and the best return any policy can expect. The same loop, unchanged, then
# learns FrozenLake, and `qgym.QLearning` with the same hyperparameters lands on the same share of
# the optimum. It runs in about 20 seconds.

# %%
from pathlib import Path

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display
from stable_baselines3.common.logger import Logger

import qgym  # registers the qgym/ environments
from qgym import QLearning, planning
from qgym.training.callbacks import ExactReturnCallback

print("qgym", qgym.__version__)

# %% [markdown]
# ## The farm, as it looks
#
# `qgym/GridFarm-1x1-v0`: one plot, one farmer, a season of 100 days. Planting costs 1, watering a
# dry crop 0.5, harvesting a ripe crop pays 10, and between two actions the weather acts (rain
# waters the crop for free; a wet crop grows a stage or dries out; a dry one may wither).
# `render_mode="rgb_array"` draws each state as a picture: here the first days of a season played
# by a fixed plan.

# %%
ENV_ID = "qgym/GridFarm-1x1-v0"
PLANT, WATER, HARVEST, WAIT = 4, 5, 6, 7
seen = gym.make(ENV_ID, render_mode="rgb_array")
state, info = seen.reset(seed=3)
frames = [(seen.render(), f"day 0: {seen.unwrapped.state_label(state)}")]
for action in [PLANT, WATER, WAIT, WAIT, WAIT, WAIT, WAIT]:
    state, reward, terminated, truncated, info = seen.step(action)
    name = seen.unwrapped.action_names[action]
    caption = f"day {info['day']}: {name} ({reward:+.1f})"
    frames.append((seen.render(), f"{caption}\n{seen.unwrapped.state_label(state)}"))
figure, axes = plt.subplots(2, 4, figsize=(11, 3.6), layout="constrained")
for ax, (frame, caption) in zip(axes.flat, frames, strict=True):
    ax.imshow(frame)
    ax.set_title(caption, fontsize=8)
    ax.axis("off")
figure.suptitle(f"{ENV_ID}: the first days of a season, as render() draws them")
plt.show()

# %% [markdown]
# ## The loop
#
# Everything Q-learning does, in one function. The table `q` starts at zero. At each step:
#
# 1. **choose**: with probability epsilon a random action (explore), else the action with the
#    highest value in this state (exploit; ties broken at random, so an all-zero row is explored
#    evenly). Epsilon falls linearly from 1 to 0.05 over the first 10% of the steps, then stays;
# 2. **act**: `env.step(action)` returns the next state, the reward, and whether the episode
#    *terminated* (a real end: no future to count) or was *truncated* (the season's last day:
#    the future still exists, the clock just stopped);
# 3. **update**: move `Q(s, a)` towards the target `r + gamma * max_a' Q(s', a')` by a step size;
# 4. **reset** when the episode is over.
#
# The step size is the one refinement over the textbook's constant alpha: `max(n ** -0.6, alpha)`,
# where `n` counts the updates of that `(s, a)`. The first update takes the sample whole, later ones
# average more and more samples, down to the floor `alpha`. A constant step keeps jumping with the
# latest sample forever (the weather is random); one that falls settles (the Robbins-Monro
# conditions). It is `QLearning`'s `visit_decay=0.6`.


# %%
def epsilon_at(step, total, fraction=0.1, start=1.0, end=0.05):
    """Linear from `start` to `end` over the first `fraction` of `total` steps, then `end`."""
    return end + (start - end) * max(0.0, 1.0 - step / (fraction * total))


def q_learning(env, steps, alpha, gamma, seed, keep_every=None):
    """Learn a Q-table on `env` for `steps` steps; with `keep_every`, also return the
    greedy policy every `keep_every` steps (to value it later)."""
    rng = np.random.default_rng(seed)
    q = np.zeros((env.observation_space.n, env.action_space.n))
    visits = np.zeros_like(q)
    kept = []
    state, _ = env.reset(seed=seed)
    for step in range(steps):
        if keep_every and step % keep_every == 0:
            kept.append((step, q.argmax(axis=1)))
        if rng.random() < epsilon_at(step, steps):  # 1. choose: explore ...
            action = int(rng.integers(env.action_space.n))
        else:  # ... or exploit, ties at random
            action = int(rng.choice(np.flatnonzero(q[state] == q[state].max())))
        next_state, reward, terminated, truncated, _ = env.step(action)  # 2. act
        target = reward if terminated else reward + gamma * q[next_state].max()
        visits[state, action] += 1  # 3. update, by a step size that falls
        step_size = max(visits[state, action] ** -0.6, alpha)
        q[state, action] += step_size * (target - q[state, action])
        state = next_state
        if terminated or truncated:  # 4. a new episode
            state, _ = env.reset()
    return (q, kept) if keep_every else q


# %% [markdown]
# Without the two `keep_every` lines (they keep snapshots of the policy for the curve below) the
# loop is fifteen lines. Let it learn the farm for 100,000 steps (1,000 seasons):

# %%
STEPS, ALPHA, GAMMA = 100_000, 0.01, 0.99
env = gym.make(ENV_ID)
q, snapshots = q_learning(env, STEPS, ALPHA, GAMMA, seed=0, keep_every=5_000)
farm = env.unwrapped
print(f"{'state':>10} | " + " ".join(f"{name:>7}" for name in farm.action_names))
for s, row in enumerate(q):
    print(f"{farm.state_label(s):>10} | " + " ".join(f"{v:7.2f}" for v in row))

# %% [markdown]
# ## Valued exactly
#
# Your table's **greedy policy** (the best action of each row) is what you would play. Its expected
# season return is a sum over every weather the season can bring, weighted by probability:
# `planning.policy_return` computes it from the farm's transition model, and
# `planning.backward_induction` computes the best any policy can expect over the 100 days.

# %%
model = planning.model_of(env)
horizon = env.spec.max_episode_steps
optimum = planning.expected_return(
    model, planning.backward_induction(model, horizon).values
)
mine = planning.policy_return(model, q.argmax(axis=1), horizon=horizon)
my_share = mine / optimum
print(f"your greedy policy: {mine:.2f} expected per season, exactly")
print(f"the optimum:        {optimum:.2f}")
print(f"your share of the optimum: {my_share:.1%}")

# %% [markdown]
# ## Against `qgym.QLearning`, with the same hyperparameters
#
# `QLearning` is a Stable-Baselines3 algorithm applying the same rule: `learning_rate` is alpha,
# `visit_decay=0.6` the falling step size, and its default exploration schedule is the one above
# (1 to 0.05 over the first 10% of the steps). The two draw their random numbers differently, so
# the tables differ in their last digits; the policies should not. `ExactReturnCallback` values
# `QLearning`'s greedy policy exactly every 5,000 steps, as your snapshots are valued here.

# %%
agent = QLearning(
    "TabularPolicy",
    gym.make(ENV_ID),
    learning_rate=ALPHA,
    visit_decay=0.6,
    gamma=GAMMA,
    exploration_fraction=0.1,
    exploration_initial_eps=1.0,
    exploration_final_eps=0.05,
    seed=0,
)
agent.set_logger(Logger(folder=None, output_formats=[]))  # silent: no files
curve = ExactReturnCallback(gym.make(ENV_ID), eval_freq=5_000, horizon=horizon)
agent.learn(STEPS, callback=curve)
theirs = planning.policy_return(model, agent.q_table.argmax(axis=1), horizon=horizon)
their_share = theirs / optimum
print(f"QLearning's greedy policy: {theirs:.2f} = {their_share:.1%} of the optimum")
print(f"yours:                     {mine:.2f} = {my_share:.1%}")
print(f"difference: {100 * (my_share - their_share):+.1f} points")

# %%
mine_curve = [
    (step, planning.policy_return(model, policy, horizon=horizon) / optimum)
    for step, policy in snapshots
]
figure, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
ax.plot(*zip(*mine_curve, strict=True), marker="o", label="your loop")
ax.plot(
    [step for step, _ in curve.history],
    [value / optimum for _, value in curve.history],
    marker="x",
    linestyle="--",
    label="qgym.QLearning, same hyperparameters",
)
ax.axhline(1.0, color="black", linewidth=1, label="the exact optimum")
ax.set_xlabel("training steps")
ax.set_ylabel("greedy policy's exact return / optimum")
ax.set_title(f"{ENV_ID}: your loop and QLearning, valued exactly as they learn")
ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# Both climb to the same share within a few thousand steps: the season's value is learned once
# epsilon has fallen and the agent works the plot instead of wandering.
#
# ## Why the step size falls
#
# Try the textbook's constant step instead: `QLearning` without `visit_decay`, alpha 0.1, six
# seeds. Each update moves the estimate 10% of the way to the latest sample, so the values never
# stop jumping with the weather, and where two actions are worth nearly the same (in the empty plot,
# planting today is worth about 0.5 more than planting tomorrow, against values near 45) the greedy
# choice can flip with them.

# %%
constant = []
for seed in range(6):
    fixed = QLearning(
        "TabularPolicy", gym.make(ENV_ID), learning_rate=0.1, gamma=GAMMA, seed=seed
    )
    fixed.set_logger(Logger(folder=None, output_formats=[]))
    fixed.learn(STEPS)
    value = planning.policy_return(model, fixed.q_table.argmax(axis=1), horizon=horizon)
    constant.append(value / optimum)
print("constant alpha 0.1, seeds 0-5:", ", ".join(f"{share:.1%}" for share in constant))

# %% [markdown]
# Most seeds end where the falling step size does; one ends on a policy that never plants (0%): when
# training stopped, the last few samples had pushed its estimate of waiting in the empty plot above
# that of planting. One seed proves little, in either direction
# ([tutorial 8](08_many_seeds.ipynb) is about that).
#
# ## FrozenLake: the same loop, unchanged
#
# Gymnasium's `FrozenLake-v1`: walk from the top-left corner to the goal across slippery ice (a move
# goes where you meant only a third of the time), without falling into a hole. Reward 1 at the goal,
# 0 otherwise; 100 steps at most. `planning.model_of` reads its model from the env's `P` table, so
# it is valued exactly too.

# %%
lake = gym.make("FrozenLake-v1", render_mode="rgb_array")
lake.reset(seed=0)
picture = lake.render()
lake_q = q_learning(lake, STEPS, ALPHA, GAMMA, seed=0)
lake_model = planning.model_of(lake)
lake_horizon = lake.spec.max_episode_steps
lake_optimum = planning.expected_return(
    lake_model, planning.backward_induction(lake_model, lake_horizon).values
)
lake_mine = planning.policy_return(
    lake_model, lake_q.argmax(axis=1), horizon=lake_horizon
)
lake_agent = QLearning(
    "TabularPolicy",
    gym.make("FrozenLake-v1"),
    learning_rate=ALPHA,
    visit_decay=0.6,
    gamma=GAMMA,
    seed=0,
)
lake_agent.set_logger(Logger(folder=None, output_formats=[]))
lake_agent.learn(STEPS)
lake_theirs = planning.policy_return(
    lake_model, lake_agent.q_table.argmax(axis=1), horizon=lake_horizon
)
print(
    f"FrozenLake: the best policy reaches the goal with probability {lake_optimum:.3f}"
)
print(f"your loop:  {lake_mine:.3f} = {lake_mine / lake_optimum:.1%} of the optimum")
print(
    f"QLearning:  {lake_theirs:.3f} = {lake_theirs / lake_optimum:.1%} of the optimum"
)

# %%
arrows = np.array(["←", "↓", "→", "↑"])  # FrozenLake's actions 0-3
desc = lake.unwrapped.desc.astype(str)
best = planning.backward_induction(lake_model, lake_horizon).policy[0]  # day 0's
figure, axes = plt.subplots(1, 3, figsize=(11, 3.8), layout="constrained")
axes[0].imshow(picture)
axes[0].set_title("FrozenLake-v1 (render)")
axes[0].axis("off")
for ax, policy, name in [
    (axes[1], lake_q.argmax(axis=1), "your greedy policy"),
    (axes[2], best, "an optimal policy (planning)"),
]:
    ax.imshow(desc == "H", cmap="Blues", vmin=0, vmax=1.5)
    for s, action in enumerate(policy):
        row, col = divmod(s, desc.shape[1])
        cell = desc[row, col]
        label = cell if cell in "HG" else arrows[action]
        ax.text(col, row, label, ha="center", va="center", fontsize=16)
    ax.set_xticks(range(desc.shape[1]))
    ax.set_yticks(range(desc.shape[0]))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(name + " (H hole, G goal)")
figure.suptitle("FrozenLake: the action each policy takes in each cell")
plt.show()

# %% [markdown]
# Your loop learned an optimal first-day policy cell for cell, including its oddities: on slippery
# ice, moving *away* from a hole is best even when the goal lies the other way (the start cell
# pushes west, into the wall, so that a slip can only go south or stay). It still earns 99.5%, not
# 100%: over a 100-step limit the best move changes as the clock runs out (backward induction plans
# each day apart), which one table of actions cannot follow.
#
# ## Next: play it yourself
#
# You have written a learner and measured it. Now measure yourself: `qgym play` opens the farm in
# a window (one key press is one day) and, with `--hint optimal`, shows `Q*` of every action for
# the day and the **regret** of each move you make, the expected return it gave away:
#
# ```bash
# qgym play qgym/GridFarm-1x1-v0 --hint optimal
# ```
#
# Below, the window after planting (optimal) and then waiting, where watering was best: a regret of
# 0.305. Rain then fell and watered the crop for free, which is luck, not skill: at the end of the
# season the window splits your return into the optimum, minus your total regret, plus luck.

# %%
SCREENSHOT = Path("images/play_farm_1x1_hint.png")
display(Image(filename=SCREENSHOT))

# %% [markdown]
# ## What this notebook checked

# %%
assert abs(my_share - their_share) <= 0.05, (my_share, their_share)
assert my_share >= 0.95, my_share
assert abs(lake_mine - lake_theirs) / lake_optimum <= 0.05, (lake_mine, lake_theirs)
assert lake_mine / lake_optimum >= 0.9, lake_mine / lake_optimum
ice = ~np.isin(desc.reshape(-1), ["H", "G"])  # the cells where an action matters
assert np.array_equal(lake_q.argmax(axis=1)[ice], best[ice]), (
    lake_q.argmax(axis=1),
    best,
)
assert mine_curve[-1][1] > mine_curve[0][1], mine_curve  # it learned
assert min(constant) < my_share - 0.05, constant  # a constant step ended far lower
assert np.isclose(optimum, qgym.envs.KNOWN_OPTIMA[ENV_ID], atol=1e-4)
assert SCREENSHOT.stat().st_size > 10_000
print("all checks passed")
