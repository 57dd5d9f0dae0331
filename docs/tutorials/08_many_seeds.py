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
# # 8. One seed proves little: many seeds, IQM and intervals
#
# Train an agent twice with two seeds and you get two numbers; train two algorithms once each and
# the difference between them may be the seeds' doing. Deep RL learned this the hard way
# (Henderson et al., *Deep Reinforcement Learning that Matters*, 2018), and Agarwal et al.
# (*Deep RL at the Edge of the Statistical Precipice*, 2021) proposed the figures qgym reports:
# the **interquartile mean** (IQM) over seeds, with a **bootstrap confidence interval**, and the
# **probability of improvement** of one algorithm over another.
#
# This notebook reads them as a learner would, on Sutton & Barto's cliff (Example 6.6): Q-learning
# and SARSA, 50 seeds each, with `qgym train --seeds`, `qgym compare` and `qgym plot`. About 20
# seconds.

# %%
import subprocess
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import qgym
from qgym.training import stats

print("qgym", qgym.__version__)
work = Path(tempfile.mkdtemp(prefix="qgym-08-"))


def qgym_cli(*arguments):
    """Run `qgym ARGUMENTS` as you would in a terminal, print what it prints, return it."""
    print("$ qgym", " ".join(arguments))
    done = subprocess.run(
        [sys.executable, "-m", "qgym", *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        cwd=work,  # run folders go to ./logs there
    )
    lines = done.stdout.splitlines()
    progress = [line for line in lines if line.startswith("step ")]
    for line in lines:
        if line.startswith("step ") and line != progress[-1]:
            continue  # of the progress lines, the last one
        print(line)
    return done.stdout


# %% [markdown]
# ## The cliff
#
# `CliffWalking-v1`: walk from the bottom-left corner to the bottom-right one; every step costs 1,
# and a step onto the cliff (the bottom row between them) costs 100 and sends you back to the
# start. The shortest path runs along the edge (13 steps: a return of -13), the safe path one or
# two rows up.

# %%
cliff = gym.make("CliffWalking-v1", render_mode="rgb_array")
cliff.reset(seed=0)
figure, ax = plt.subplots(figsize=(8, 3), layout="constrained")
ax.imshow(cliff.render())
ax.set_title("CliffWalking-v1: start bottom left, goal bottom right, the cliff between")
ax.axis("off")
plt.show()

# %% [markdown]
# ## Fifty seeds of each, in one command each
#
# Sutton & Barto's settings: epsilon fixed at 0.1, alpha 0.5, no discount, one env. `--seeds 50`
# trains seeds 0 to 49 into one run folder. On an env with an exact model the tables train in
# lockstep in one process, every seed with its own random stream; every 1,000 steps each seed's
# greedy policy is valued exactly.

# %%
H = [
    "n_envs:1",
    "learning_rate:0.5",
    "exploration_initial_eps:0.1",
    "exploration_final_eps:0.1",
    "gamma:1.0",
    "visit_decay:None",
]
runs = {}
for algo in ("qlearning", "sarsa"):
    out = qgym_cli(
        "train",
        "--algo",
        algo,
        "--env",
        "CliffWalking-v1",
        "--seeds",
        "50",
        "-n",
        "20000",
        "--no-progress",
        "--hyperparams",
        *H,
    )
    runs[algo] = f"logs/{algo}/CliffWalking-v1_1"  # relative to the working folder

# %% [markdown]
# Each run prints three figures over the seeds (above them, the last of its progress lines: the
# IQM of the greedy policies' exact share at each evaluation, printed as training goes):
#
# - the **greedy policy's** exact return, as a share of the optimum -13: what the agent would do
#   if it stopped exploring. Q-learning learns the path along the edge on every seed;
# - the **steps** until each seed's greedy policy first reached 95% of the optimum;
# - the **online return**: what the agent earned while it learned, exploring with epsilon 0.1.
#
# `seeds.csv` holds the figures of every seed. Read it:

# %%
seeds = {
    algo: np.genfromtxt(work / folder / "seeds.csv", delimiter=",", names=True)
    for algo, folder in runs.items()
}
for algo, table in seeds.items():
    print(
        f"{algo}: online return of seeds 0-9:",
        ", ".join(f"{v:.1f}" for v in table["online_return"][:10]),
    )
    print(
        f"{algo}: greedy return of seeds 0-9:",
        ", ".join(f"{v:.0f}" for v in table["exact_return"][:10]),
    )

# %% [markdown]
# ## One seed proves little
#
# Had you run one seed of each, what would you have concluded?

# %%
q_online, s_online = (
    seeds["qlearning"]["online_return"],
    seeds["sarsa"]["online_return"],
)
q_greedy, s_greedy = seeds["qlearning"]["exact_return"], seeds["sarsa"]["exact_return"]
lost = np.flatnonzero(s_greedy < -100)  # greedy policies that never reach the goal
print(
    f"SARSA seed {lost[0]}: greedy return {s_greedy[lost[0]]:.0f} (it never reaches the goal "
    f"in the 1,000 steps qgym judges it over); seed {np.argmax(s_greedy)}: "
    f"{s_greedy.max():.0f}. {len(lost)} of 50 seeds are like seed {lost[0]}."
)
print(
    f"online: Q-learning's best seed earned {q_online.max():.1f} per episode, "
    f"SARSA's worst {s_online.min():.1f}; "
    f"{np.mean(q_online[:, None] > s_online[None, :]):.1%} of the 2,500 pairs of seeds "
    "put Q-learning ahead"
)

# %%
figure, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
for ax, field, title in [
    (axes[0], "online_return", "online return (exploring, last episodes)"),
    (axes[1], "exact_return", "greedy policy's exact return"),
]:
    for i, (algo, table) in enumerate(seeds.items()):
        values = table[field]
        ax.scatter(
            values,
            i + np.random.default_rng(i).uniform(-0.2, 0.2, len(values)),
            s=14,
            alpha=0.6,
            label=f"{algo}, one dot a seed",
        )
    ax.set_yticks([0, 1], list(seeds))
    ax.set_xlabel("return per episode")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
axes[1].set_xscale("symlog")
axes[1].set_xlim(-1500, -10)
figure.suptitle("CliffWalking, 50 seeds each: where each seed ended")
plt.show()

# %% [markdown]
# One SARSA seed alone would have said "SARSA does not learn the cliff"; another, "SARSA learns a
# safe path". Both are true of some seeds, and only the spread says how often. Online, the ranges
# just overlap: a lucky Q-learning seed beats an unlucky SARSA seed, though the bulk says the
# opposite. Q-learning's greedy path runs along the edge and, exploring with epsilon 0.1, it falls
# off now and then while it learns; SARSA learns the value of the policy it actually follows,
# exploration included, and walks the safer path (-17) when it stops exploring. The greedy returns
# of SARSA's failed seeds sit at -1000 (the x axis is logarithmic): a mean over the seeds would be
# dragged by those few, which is why qgym reports the IQM.
#
# ## The IQM and its interval, by hand
#
# The **IQM** sorts the seeds and averages the middle half: the outer quarters, where the
# flukes are, are left out, yet half the seeds count (a median uses one or two). The **bootstrap**
# asks how much the IQM would move with other seeds: draw 50 seeds *with replacement* from the 50
# you have, compute the IQM of that resample, repeat thousands of times; the middle 95% of those
# IQMs is the interval. `qgym.training.stats.summarize` does it with scipy (5,000 resamples); here
# it is by hand:

# %%
rng = np.random.default_rng(0)
resampled = rng.choice(s_online, size=(5000, len(s_online)), replace=True)
iqms = stats.iqm(resampled, axis=1)
by_hand = np.percentile(iqms, [2.5, 97.5])
summary = stats.summarize(s_online)
print(f"SARSA online: mean {s_online.mean():.2f}, IQM {stats.iqm(s_online):.2f}")
print(f"95% interval by hand: [{by_hand[0]:.2f}, {by_hand[1]:.2f}]")
print(stats.describe("qgym.training.stats", summary))

# %% [markdown]
# The two intervals agree to a few hundredths (different random resamples). How many seeds does
# a claim need? The interval narrows roughly as one over the square root of the number of seeds;
# here it is, for the first n seeds of the same 50:

# %%
counts = [3, 5, 10, 20, 50]
widths = []
for n in counts:
    interval = stats.summarize(s_online[:n]).iqm_interval
    widths.append(interval.high - interval.low)
    print(
        f"{n:>2} seeds: IQM {stats.iqm(s_online[:n]):7.2f}, interval {interval.text()}"
    )
figure, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(counts, widths, marker="o", label="width of the IQM's 95% interval")
ax.plot(
    counts,
    widths[-1] * np.sqrt(counts[-1] / np.array(counts)),
    linestyle="--",
    label="1 / sqrt(seeds), through the 50-seed width",
)
ax.set_xlabel("seeds")
ax.set_ylabel("interval width (return)")
ax.set_title("SARSA's online return on the cliff: more seeds, narrower interval")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Comparing two algorithms: `qgym compare`
#
# `qgym compare A B` gives, for each figure, the **probability of improvement** `P(A > B)`: the
# chance that a seed of A beats a seed of B (every pair counted, ties half), and the difference of
# the IQMs, each with a bootstrap interval. An interval that excludes 0.5 (or 0) is a difference
# the seeds support; one that contains it is not.

# %%
comparison = qgym_cli("compare", runs["qlearning"], runs["sarsa"])

# %% [markdown]
# Read it line by line. On the **greedy policy**, Q-learning (A) beats SARSA (B) in every pair of
# seeds: it found the shortest path, SARSA's greedy path is the safe one; the IQM difference is
# about 4 (13 steps against 17), and its interval reaches far up because resamples that draw
# many of SARSA's failed seeds move SARSA's IQM towards -1000. On the **online return** the
# probability is near 0: SARSA earns about 25 more per episode while learning, an interval far
# from 0. Both statements hold together, and neither shows with one seed: Sutton & Barto's
# Figure 6.4 in two lines.
#
# The learning curves of both runs, every seed's greedy value and the IQM over seeds with its
# interval at each evaluation, come from `qgym plot`:

# %%
qgym_cli(
    "plot",
    "--run",
    runs["qlearning"],
    "--run",
    runs["sarsa"],
    "--out",
    "plots",
)
pictures = sorted((work / "plots").glob("*.png"))
print([picture.name for picture in pictures])
for picture in pictures:
    display(Image(filename=picture))

# %% [markdown]
# ## What this notebook checked

# %%
# Q-learning's greedy path is the edge on every seed; SARSA's is the safe one
assert np.all(q_greedy == -13), q_greedy
assert stats.iqm(s_greedy) < -13, s_greedy
assert stats.iqm(s_online) > stats.iqm(q_online) + 10, (s_online, q_online)
assert 0 < len(lost) < 25, s_greedy  # some SARSA seeds fail, most do not
assert q_online.max() > s_online.min(), (
    q_online,
    s_online,
)  # the online ranges overlap
assert abs(by_hand[0] - summary.iqm_interval.low) < 0.5, (by_hand, summary)
assert abs(by_hand[1] - summary.iqm_interval.high) < 0.5, (by_hand, summary)
assert widths[0] > 2 * widths[-1], widths
lines = comparison.splitlines()
online_line = next(line for line in lines if line.startswith("online"))
assert "B better" in online_line, online_line
assert pictures, "qgym plot drew nothing"
print("all checks passed")
