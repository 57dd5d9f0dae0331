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
# # 7. What about non-discrete states?
#
# "What about non-discrete states, what if there are too many states?" The farm ladder answered
# it with states that are discrete but too many ([tutorial 5](05_dqn.ipynb)). Here the state is
# **continuous**: Gymnasium's `CartPole-v1`, a pole on a cart, observed as four real numbers.
# There are two classic answers, and this notebook measures both:
#
# 1. **cut the state into bins** and keep a table (`qgym.wrappers.DiscretizeObservation`): the
#    table has `bins ** dimensions` rows, which grows fast and stops;
# 2. **a network** that reads the numbers as they are and generalises between nearby states: the
#    DQN built in [tutorial 5b](05b_dqn_from_parts.ipynb), with the hyperparameters of PyTorch's
#    own DQN tutorial, which is about CartPole.
#
# CartPole pays 1 a step until the pole falls or the cart leaves the track, for at most 500 steps,
# and from every start (all four numbers within 0.05 of zero) the pole can be balanced to the end:
# the optimum is exactly **500**, so every result below is a share of a known optimum, as on the
# exact rungs. About 70 seconds.

# %%
import math
import time

import gymnasium as gym
import jupytext
import matplotlib.pyplot as plt
import numpy as np
import torch

import qgym
from qgym import training
from qgym.training import stats
from qgym.wrappers import DiscretizeObservation

torch.set_num_threads(1)
ENV_ID = "CartPole-v1"
OPTIMUM = training.exact_optimum(ENV_ID)  # qgym knows CartPole's maximum
print("qgym", qgym.__version__, f"- {ENV_ID}: optimum {OPTIMUM:.0f}")

# %% [markdown]
# ## CartPole, seen
#
# Push the cart left or right (actions 0 and 1); the episode ends when the pole leans more than 12
# degrees, when the cart leaves the track (2.4 from the centre), or after 500 steps. A random
# policy keeps the pole up for about twenty steps:

# %%
pole = gym.make(ENV_ID, render_mode="rgb_array")
observation, _ = pole.reset(seed=1)
frames, done, t = [], False, 0
while not done:
    frames.append((t, pole.render(), observation))
    observation, reward, terminated, truncated, _ = pole.step(
        pole.action_space.sample()
    )
    done, t = terminated or truncated, t + 1
shown = [frames[i] for i in np.linspace(0, len(frames) - 1, 4).astype(int)]
figure, axes = plt.subplots(1, 4, figsize=(12, 2.6), layout="constrained")
for ax, (step, frame, seen) in zip(axes, shown, strict=True):
    ax.imshow(frame[120:330])
    ax.set_title(f"step {step}: angle {math.degrees(seen[2]):+.1f} deg", fontsize=9)
    ax.axis("off")
figure.suptitle(f"{ENV_ID}, random pushes: the pole falls after {t} steps")
plt.show()
print(
    "the observation: cart position, cart velocity, pole angle (rad), pole angular velocity"
)
print("its space:", pole.observation_space)

# %% [markdown]
# ## Bins: a table over a continuous state
#
# Two of the four numbers are unbounded (the velocities), so the range to cut must be chosen. What
# CartPole actually shows, over 250 episodes of random pushes and 250 of a simple balancing rule
# (push the way the pole is falling: right when angle + 0.5 x angular velocity > 0):

# %%
NAMES = ["cart position", "cart velocity", "pole angle", "pole ang. velocity"]


def observed(policy, episodes=250, steps=200, seed=0):
    """Every observation of `episodes` CartPoles playing `policy` for up to `steps` steps."""
    envs = gym.make_vec(
        ENV_ID, num_envs=episodes, vectorization_mode="vector_entry_point"
    )
    observations, _ = envs.reset(seed=seed)
    alive, seen = np.ones(episodes, dtype=bool), []
    for _ in range(steps):
        seen.append(observations[alive])
        observations, _, terminated, truncated, _ = envs.step(policy(observations))
        alive &= ~(terminated | truncated)  # only each cart's first episode
    return np.concatenate(seen)


rng = np.random.default_rng(0)
random_play = observed(lambda obs: rng.integers(2, size=len(obs)))
balancing = observed(lambda obs: (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(int))
for i, name in enumerate(NAMES):
    spans = [
        np.percentile(play[:, i], [0.05, 99.95]) for play in (random_play, balancing)
    ]
    print(
        f"{name:>19}: 99.9% of values within "
        f"[{spans[0][0]:+.2f}, {spans[0][1]:+.2f}] at random, "
        f"[{spans[1][0]:+.2f}, {spans[1][1]:+.2f}] balancing"
    )

# %% [markdown]
# The position and the angle end the episode at 2.4 and 0.21 rad, so those are their ranges. For
# the velocities, the grids of the next section take the naive choice, a margin over what random
# play reaches (+-3 and +-3.5; a value beyond lands in the edge bin). A table then has one row per
# combination of bins: `bins ** 4` for CartPole, `bins ** 2` for MountainCar (position, velocity),
# `bins ** 6` for Acrobot (two angles as cosine and sine, two angular velocities):

# %%
WIDE = ([-2.4, -3.0, -0.21, -3.5], [2.4, 3.0, 0.21, 3.5])  # low, high
bins = np.arange(2, 31)
figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, dims, actions in [
    ("MountainCar-v0", 2, 3),
    ("CartPole-v1", 4, 2),
    ("Acrobot-v1", 6, 3),
]:
    table_bytes = bins.astype(float) ** dims * actions * 8
    ax.plot(bins, table_bytes, label=f"{name}: {dims} dims, {actions} actions")
ax.axhline(8 * 2**30, color="black", linestyle="--", label="8 GiB")
ax.set_yscale("log")
ax.set_xlabel("bins per dimension")
ax.set_ylabel("Q-table size (bytes, float64)")
ax.set_title("A table over bins grows as bins ** dimensions")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
plt.show()
for b in (6, 10, 20):
    print(
        f"CartPole, {b:>2} bins a dimension: {b**4:>7,} states, {b**4 * 2 * 8 / 1e6:6.2f} MB"
    )
print(
    f"Acrobot, 20 bins a dimension: {20**6:,} states, {20**6 * 3 * 8 / 2**30:.1f} GiB"
)

# %% [markdown]
# Memory is not CartPole's wall: 20 bins make a 2.6 MB table. Visits are: every row must be
# visited, often, to be learned, and a finer grid splits the same experience over more rows.
#
# ## What a table learns with 6, 10 and 20 bins a dimension
#
# The loop of [tutorial 1b](01b_write_the_loop.ipynb), run on many CartPoles at once (Gymnasium's
# numpy-vectorised `CartPoleVectorEnv`) and on several tables at once: five tables (seeds), each
# learning from its own 64 carts. `DiscretizeObservation.bin` turns a batch of observations into
# bins, `numpy.ravel_multi_index` the bins into a row. When several carts update the same entry in
# one step, the entry moves towards the mean of their targets. The step size falls linearly from
# 0.2 to 0 over training (RL Zoo's `lin_0.2`), so that the last table is not a snapshot of the
# last few updates' noise; epsilon falls from 1 to 0.01 over the first 30%; gamma is 0.99.


# %%
def learn_tables(
    bins, low, high, steps, tables=5, carts=64, seed=0, alpha=0.2, gamma=0.99
):
    """`tables` Q-tables over CartPole states binned in [low, high], each learning from its
    own `carts` CartPoles for `steps` steps in all. Returns the tables [tables, states, 2]
    and the function from observations to states."""
    envs = gym.make_vec(
        ENV_ID, num_envs=tables * carts, vectorization_mode="vector_entry_point"
    )
    binner = DiscretizeObservation(gym.make(ENV_ID), bins=bins, low=low, high=high)
    shape = tuple(binner.bins)
    n_states = math.prod(shape)

    def state(observations):  # [..., 4] floats -> [...] row numbers
        return np.ravel_multi_index(
            tuple(np.moveaxis(binner.bin(observations), -1, 0)), shape
        )

    rng = np.random.default_rng(seed)
    offset = np.repeat(np.arange(tables), carts) * n_states  # each cart's own table
    q = np.zeros((tables * n_states, 2))
    s = offset + state(envs.reset(seed=seed)[0])
    starting = np.zeros(s.size, dtype=bool)  # NEXT_STEP autoreset: nothing to learn
    turns = steps // carts
    for turn in range(turns):
        epsilon = 0.01 + 0.99 * max(0.0, 1 - turn / (0.3 * turns))
        values = q[s]
        ties = values[:, 0] == values[:, 1]
        greedy = np.where(ties, rng.integers(2, size=s.size), values.argmax(axis=1))
        explore = rng.random(s.size) < epsilon
        actions = np.where(explore, rng.integers(2, size=s.size), greedy)
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        s_next = offset + state(observations)
        targets = rewards + gamma * np.where(terminated, 0.0, q[s_next].max(axis=1))
        entry = (2 * s + actions)[~starting]  # the (state, action) entries, flat
        errors = targets[~starting] - q.reshape(-1)[entry]
        unique, which = np.unique(entry, return_inverse=True)
        mean_error = np.bincount(which, weights=errors) / np.bincount(which)
        q.reshape(-1)[unique] += alpha * (1 - turn / turns) * mean_error
        s, starting = s_next, terminated | truncated
    return q.reshape(tables, n_states, 2), state


def greedy_returns(act, agents, episodes=100, seed=10_000):
    """Each agent's greedy policy over `episodes` CartPole episodes (the same starts for all):
    `act(observations [agents, episodes, 4]) -> actions [agents, episodes]`."""
    envs = gym.make_vec(
        ENV_ID, num_envs=agents * episodes, vectorization_mode="vector_entry_point"
    )
    observations, _ = envs.reset(seed=seed)
    total, running = np.zeros(agents * episodes), np.ones(agents * episodes, dtype=bool)
    while running.any():
        actions = act(observations.reshape(agents, episodes, 4)).reshape(-1)
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        total += rewards * running
        running &= ~(terminated | truncated)
    return total.reshape(agents, episodes)


# %% [markdown]
# Two million steps a table, the same budget for every grid; and, last, the grid of the shipped
# preset (`zoo_configs/qlearning.yml`), with its own ranges:

# %%
STEPS, TABLES = 2_000_000, 5
PRESET = training.load_preset("qlearning", ENV_ID)
binning = PRESET["env_wrapper"][0]["qgym.wrappers.DiscretizeObservation"]
GRIDS = {
    "6 bins": ([6] * 4, *WIDE),
    "10 bins": ([10] * 4, *WIDE),
    "20 bins": ([20] * 4, *WIDE),
    "preset": (binning["bins"], binning["low"], binning["high"]),
}
tables = {}
for name, (grid, low, high) in GRIDS.items():
    start = time.perf_counter()
    q, state = learn_tables(grid, low, high, STEPS, tables=TABLES)
    seconds = time.perf_counter() - start
    returns = greedy_returns(
        lambda obs, q=q, state=state: np.take_along_axis(
            q, state(obs)[..., None], axis=1
        ).argmax(-1),
        TABLES,
    )
    means = returns.mean(axis=1)
    visited = np.mean(np.any(q != 0, axis=2), axis=1)
    tables[name] = {
        "means": means,
        "summary": stats.summarize(100 * means / OPTIMUM),
        "states": q.shape[1],
        "bytes": q[0].nbytes,
        "seconds": seconds / TABLES,
        "visited": visited.mean(),
    }
    print(
        f"{name:>8} {grid}: {q.shape[1]:>7,} states, {visited.mean():.0%} visited; "
        f"greedy means {', '.join(f'{m:.0f}' for m in means)} "
        f"({seconds:.1f} s for {TABLES} tables)"
    )

# %% [markdown]
# Six bins a dimension cannot tell apart states that need opposite pushes (a pole leaning a little
# and one about to fall share a bin). Twenty tell them apart, but 160,000 rows split the same two
# million steps so thinly that most are never visited, and those that are have seen too few
# updates. Ten sit between. The preset's grid does as well with 324 rows: three bins for the cart's
# position and velocity (near an edge? drifting there?), six for the pole's angle and angular
# velocity, and velocity ranges near where a balancing policy keeps them (+-1 and +-1.5, a margin
# over the balancing rule's +-0.4 and +-0.3 above), so that its bins split the states a balanced
# pole visits instead of spanning speeds it never reaches.
# Where the bins go matters as much as how many there are.
#
# ## The network: DQN, from tutorial 5b
#
# Tutorial 5b wrote a DQN in cells tagged `dqn-parts` (its imports, network, replay buffer,
# epsilon, update and loop). The next cell runs those cells from its script, so that what trains
# below is that code, not a copy of it.

# %%
tutorial_5b = {"__name__": "tutorial_5b"}
for cell in jupytext.read("05b_dqn_from_parts.py").cells:
    if "dqn-parts" in cell.metadata.get("tags", []):
        exec(cell.source, tutorial_5b)  # its imports, then the parts
DQNConfig, train_dqn = tutorial_5b["DQNConfig"], tutorial_5b["train_dqn"]
defined = [
    n for n, v in tutorial_5b.items() if getattr(v, "__module__", "") == "tutorial_5b"
]
print("from tutorial 5b:", ", ".join(defined))

# %% [markdown]
# PyTorch's DQN tutorial (*Reinforcement Learning (DQN) Tutorial*, on CartPole) uses: a 128x128
# network, batches of 128, gamma 0.99, a 10,000-transition buffer, the Huber loss, learning rate
# 3e-4, epsilon from 0.9 to 0.01 decaying exponentially with a time constant of 2,500 steps, and a
# **soft** target update: after every step the target moves 0.005 of the way to the online
# network (tau = 0.005) instead of a copy every C steps. It learns from the first full batch, one
# gradient step per env step, and trains 600 episodes on a GPU (50 on a CPU). Here: the same
# settings, two seeds, 10,000 steps each on one CPU thread. Two differences: Adam instead of AdamW
# with amsgrad, and no gradient clipping (theirs clips each gradient at 100).

# %%
pytorch_tutorial = DQNConfig(
    steps=10_000,
    envs=1,
    hidden=(128, 128),
    learning_rate=3e-4,
    buffer_size=10_000,
    learning_starts=128,
    batch_size=128,
    gamma=0.99,
    target_period=1,
    tau=0.005,
    reward_scale=1.0,
    loss="huber",
)


def pytorch_epsilon(step):
    return 0.01 + (0.9 - 0.01) * math.exp(-step / 2500)


def as_floats(observations):
    return torch.as_tensor(observations, dtype=torch.float32)


DQN_SEEDS = 2
dqn_envs = gym.make_vec(
    ENV_ID, num_envs=DQN_SEEDS, vectorization_mode="vector_entry_point"
)
start = time.perf_counter()
online, episodes = train_dqn(
    dqn_envs, as_floats, pytorch_tutorial, DQN_SEEDS, seed=0, epsilon=pytorch_epsilon
)
dqn_seconds = (time.perf_counter() - start) / DQN_SEEDS


def network_act(observations):
    with torch.no_grad():
        return online(as_floats(observations)).argmax(dim=-1).numpy()


dqn_means = greedy_returns(network_act, DQN_SEEDS).mean(axis=1)
parameters = sum(p[0].numel() for p in online.parameters())  # one agent's
buffer_bytes = 10_000 * (2 * 4 * 4 + 8 + 4 + 4)  # two observations, action, reward, end
print(
    f"DQN: {parameters:,} parameters a network; greedy means "
    f"{', '.join(f'{m:.0f}' for m in dqn_means)} after {pytorch_tutorial.steps:,} steps "
    f"({dqn_seconds:.0f} s a seed)"
)

# %%
figure, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
for k, lengths in enumerate(episodes):
    lengths, colour = np.asarray(lengths), f"C{k}"
    ax.plot(lengths, alpha=0.35, color=colour, label=f"seed {k}: episode length")
    window = np.convolve(lengths, np.ones(20) / 20, mode="valid")
    ax.plot(
        np.arange(19, len(lengths)),
        window,
        linewidth=2,
        color=colour,
        label=f"seed {k}: mean of the last 20",
    )
ax.axhline(OPTIMUM, color="black", linewidth=1, label="the optimum, 500")
ax.set_xlabel("episode")
ax.set_ylabel("steps the pole stayed up (= return)")
ax.set_title("Our DQN with the PyTorch tutorial's settings: episodes while learning")
ax.grid(alpha=0.3)
ax.legend(fontsize=7, ncols=2)
plt.show()

# %% [markdown]
# In 10,000 steps (about a hundred episodes) the episodes grow from twenty-odd steps to a few
# hundred, unevenly: one seed is still climbing, the other has stalled. The PyTorch tutorial's own
# figure, over 600 episodes, reaches 500 and falls back now and then; the tutorial warns that DQN
# on CartPole may not converge reliably. The greedy policies above are valued over 100 episodes
# each, as the tables' are.
#
# ## Table against network, side by side
#
# Time is wall-clock time on this machine, per seed; memory is what the learner keeps: the table,
# or the network (twice: online and target, plus Adam's two moments per parameter) and the buffer.

# %%
rows = []
for name, result in tables.items():
    rows.append(
        (
            f"table, {name}",
            f"{result['states']:,} states",
            result["bytes"],
            STEPS,
            result["seconds"],
            result["means"],
        )
    )
network_bytes = 4 * parameters * (2 + 2)  # float32: online, target, Adam's two moments
rows.append(
    (
        "DQN (PyTorch tutorial)",
        f"{parameters:,} parameters",
        network_bytes + buffer_bytes,
        pytorch_tutorial.steps,
        dqn_seconds,
        dqn_means,
    )
)
print(
    f"{'learner':<24} {'size':>18} {'memory':>9} {'steps':>10} {'s/seed':>7}  "
    "IQM % of 500 [95% CI]"
)
for name, size, memory, steps, seconds, means in rows:
    summary = stats.summarize(100 * means / OPTIMUM)
    print(
        f"{name:<24} {size:>18} {memory / 1e6:>7.2f}MB {steps:>10,} {seconds:>7.1f}  "
        f"{summary.iqm:5.1f}% {summary.iqm_interval.text('.1f')}"
    )

# %% [markdown]
# A table learns CartPole from two million cheap steps (a lookup and an addition each) in a few
# seconds; the network, in ten thousand expensive ones (two forward passes and a backward pass
# through 17,410 parameters each), is still learning after several times as long. DQN's price is
# compute, a table's is samples, and a grid someone had to choose: the preset's 324 rows do as well
# as 10,000 uniform ones. On CartPole's four dimensions a table is still possible; on Acrobot's
# six a grid fine enough to balance is gigabytes, and an image has no grid at all. That is where
# only the network is left.
#
# ## The shipped presets
#
# `zoo_configs/qlearning.yml` has tabular presets for the three classic continuous envs, each
# through `DiscretizeObservation` with the grid and ranges its comment justifies, and `qgym train`
# prints the greedy policy's mean over 100 episodes as a share of CartPole's 500:
#
# ```bash
# qgym train --algo qlearning --env CartPole-v1
# qgym train --algo qlearning --env MountainCar-v0
# qgym train --algo qlearning --env Acrobot-v1
# ```

# %%
for env_id in ("CartPole-v1", "MountainCar-v0", "Acrobot-v1"):
    block = training.load_preset("qlearning", env_id)
    grid = block["env_wrapper"][0]["qgym.wrappers.DiscretizeObservation"]["bins"]
    print(f"{env_id}: {block['n_timesteps']:,} steps, bins {grid}")

# %% [markdown]
# ## What this notebook checked

# %%
assert OPTIMUM == 500
summaries = {name: result["summary"] for name, result in tables.items()}
assert summaries["10 bins"].iqm > summaries["6 bins"].iqm, summaries
assert summaries["10 bins"].iqm > summaries["20 bins"].iqm, summaries
assert tables["20 bins"]["visited"] < 0.15 < tables["6 bins"]["visited"], tables
assert summaries["preset"].iqm >= 95, summaries[
    "preset"
]  # the preset's grid, this learner
assert dqn_means.max() > 100, dqn_means  # the network learned to balance, for a while
assert tables["20 bins"]["bytes"] == 20**4 * 2 * 8
print("all checks passed")
