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
# # 2. Alpha and gamma
#
# The update rule has two numbers a learner chooses:
#
# ```
# Q(s, a) <- Q(s, a) + alpha * [ r + gamma * max_a' Q(s', a') - Q(s, a) ]
# ```
#
# - **alpha**, the learning rate: how far one experience moves the estimate. Large, and the table
#   follows the latest samples (fast, but noisy: each update half-forgets the previous ones); small,
#   and it averages many samples (precise, but slow).
# - **gamma**, the discount factor: how much a reward one step later counts compared with one now.
#   gamma 0 sees only the next reward; gamma close to 1 plans far ahead.
#
# Both are shown here on `qgym/Trading-Chain-v0` (a price on 21 levels that reverts to the middle;
# hold, buy or sell one unit; each trade costs 0.5), where a table learns in seconds and
# `qgym.planning` gives the exact optimum to measure against. Every curve is the **exact** expected
# return of the greedy policy, over three seeds. About 20 seconds.

# %%
import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

import qgym
from qgym import planning, training

ENV_ID = "qgym/Trading-Chain-v0"
env = gym.make(ENV_ID)
model = planning.model_of(env)  # the exact transition model: 63 states x 3 actions
horizon = env.spec.max_episode_steps
optimum = planning.expected_return(
    model, planning.backward_induction(model, horizon).values
)
print(
    f"{ENV_ID}: {model.n_states} states, {model.n_actions} actions, season of {horizon} steps"
)
print(f"exact optimum (best expected return over the season): {optimum:.4f}")
assert np.isclose(optimum, qgym.envs.KNOWN_OPTIMA[ENV_ID], atol=1e-4)

# %% [markdown]
# A helper trains Q-learning and, every 6,400 steps, measures two things exactly: the greedy
# policy's expected season return as a share of the optimum (`planning.policy_return` of the
# table's argmax), and how far the table's values are from the exact Q* of the same discounted
# problem (`planning.value_iteration` at the learner's gamma), as a root-mean-square error. It uses
# 64 copies of the env side by side (qgym's native vector env), as the presets do.

# %%
SEEDS = (0, 1, 2)
STEPS = 128_000
EVERY = 6_400  # a multiple of the 64 envs


class ExactProgress(BaseCallback):
    """Every ``every`` steps: (steps, share of the optimum, RMS error of Q against Q*)."""

    def __init__(self, every, q_star):
        super().__init__()
        self.every, self.q_star, self.history = every, q_star, []

    def _on_step(self):
        if self.num_timesteps % self.every == 0:
            q = self.model.q_table
            share = (
                planning.policy_return(model, q.argmax(axis=1), horizon=horizon)
                / optimum
            )
            error = np.sqrt(np.mean((q - self.q_star) ** 2))
            self.history.append((self.num_timesteps, share, error))
        return True


def learn(learning_rate, gamma, seed):
    """One training run's history: an array of (steps, share, RMS error) rows."""
    block = {
        "n_envs": 64,
        "learning_rate": learning_rate,
        "gamma": gamma,
        "exploration_fraction": 0.1,
        "exploration_final_eps": 0.05,
    }
    agent = training.make_model("qlearning", ENV_ID, block, seed=seed)
    # silent: no files, no output
    agent.set_logger(Logger(folder=None, output_formats=[]))
    progress = ExactProgress(EVERY, planning.value_iteration(model, gamma=gamma).q)
    agent.learn(STEPS, callback=progress)
    return np.array(progress.history)


def plot_runs(ax, runs_by_label, column, scale=1.0):
    """Mean over seeds of one column, with a band of +-1 standard error, one line per setting."""
    for label, runs in runs_by_label.items():
        values = scale * np.array([run[:, column] for run in runs])
        mean, stderr = (
            values.mean(axis=0),
            values.std(axis=0, ddof=1) / np.sqrt(len(runs)),
        )
        steps = runs[0][:, 0]
        (line,) = ax.plot(steps, mean, label=label, marker="o", markersize=3)
        ax.fill_between(
            steps, mean - stderr, mean + stderr, color=line.get_color(), alpha=0.2
        )
    ax.set_xlabel("environment steps")
    ax.grid(alpha=0.3)


# %% [markdown]
# ## Alpha: speed against precision

# %%
ALPHAS = (0.01, 0.1, 0.5)
alpha_runs = {f"alpha {a}": [learn(a, 0.99, seed) for seed in SEEDS] for a in ALPHAS}

figure, (left, right) = plt.subplots(2, 1, figsize=(8, 7.5), layout="constrained")
plot_runs(left, alpha_runs, column=1, scale=100)
left.axhline(100, color="black", linestyle="--", linewidth=1, label="exact optimum")
left.set_ylabel("greedy policy, % of the exact optimum")
left.set_title("what the policy earns")
plot_runs(right, alpha_runs, column=2)
right.set_ylabel("RMS error of Q against the exact Q*")
right.set_title("how far the values are from Q* (gamma 0.99)")
for ax in (left, right):
    ax.legend(
        title=f"mean of {len(SEEDS)} seeds, band +-1 standard error",
        fontsize=8,
        title_fontsize=8,
    )
figure.suptitle(f"{ENV_ID}: Q-learning with three learning rates alpha (gamma 0.99)")
plt.show()
for label, runs in alpha_runs.items():
    first = np.mean([run[0, 1] for run in runs])
    last = [run[-1, 1] for run in runs]
    print(
        f"{label:>10}: greedy policy after {EVERY:,} steps {first:6.1%}, after {STEPS:,} steps "
        f"{np.mean(last):6.1%} (seeds: "
        + ", ".join(f"{value:.1%}" for value in last)
        + ")"
    )

# %% [markdown]
# With `alpha = 0.01` each update moves an estimate by 1% of its error: after 6,400 steps the
# values have barely left zero and the greedy policy is poor. `alpha = 0.5` moves the values
# fastest (the right panel: its error falls first), but each new price move pulls the table
# around, so its greedy policy keeps switching with the latest samples and ends well below the
# others. `alpha = 0.1` is the compromise here. Note the two panels: the greedy **policy** is
# nearly optimal long before the **values** are right. Acting well needs only the order of the
# actions in each state, not their exact worth. The presets go further than a constant alpha: a
# step size that shrinks with the visits of each (state, action) pair (`visit_decay`), large at
# first and small later, as the theory of stochastic approximation asks for.
#
# ## Gamma: how far ahead to look
#
# The same learner with three discount factors:

# %%
GAMMAS = (0.5, 0.9, 0.99)
gamma_runs = {
    f"gamma {g}": alpha_runs["alpha 0.1"]
    if g == 0.99
    else [learn(0.1, g, seed) for seed in SEEDS]
    for g in GAMMAS
}
figure, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
plot_runs(ax, gamma_runs, column=1, scale=100)
ax.axhline(100, color="black", linestyle="--", linewidth=1, label="exact optimum")
ax.set_ylabel("greedy policy, % of the exact optimum")
ax.set_title(f"{ENV_ID}: Q-learning with three discount factors gamma (alpha 0.1)")
ax.legend(
    title=f"mean of {len(SEEDS)} seeds, band +-1 standard error",
    fontsize=8,
    title_fontsize=8,
)
plt.show()
learned_final = {
    g: np.mean([run[-1, 1] for run in runs])
    for g, runs in zip(GAMMAS, gamma_runs.values(), strict=True)
}
print(
    "greedy policy after training, mean of the seeds:",
    {g: f"{value:.1%}" for g, value in learned_final.items()},
)

# %% [markdown]
# A trade pays its cost now and its profit as the price reverts, several steps later. With gamma
# 0.5 a profit ten steps away is worth 0.5^10 = 0.001 of its size: the values are tiny next to the
# noise of the samples, and the learner ends far below the others. Gamma 0.9 and 0.99 both come
# close; 0.9 is even a little ahead after 128,000 steps, because values that sum fewer future steps
# are learned faster. A learner cannot do better than its gamma allows, though: what it learns is at
# best the optimal policy of the **discounted** problem, which is not the best policy for
# the season. How much does that cost? No learning is needed to answer: `planning.value_iteration`
# gives the exact best stationary policy for each gamma, and `planning.evaluate_policy` its exact
# expected return over the real 100-step season, which `planning.backward_induction` maximises.


# %%
def gamma_share(env_id, gamma):
    """Exact season return of the best gamma-discounted stationary policy, as a share of the optimum."""
    mdp = planning.model_of(gym.make(env_id))
    steps = gym.spec(env_id).max_episode_steps
    best = planning.expected_return(mdp, planning.backward_induction(mdp, steps).values)
    policy = planning.value_iteration(mdp, gamma=gamma).policy
    season = planning.expected_return(
        mdp, planning.evaluate_policy(mdp, policy, horizon=steps)
    )
    return season / best


EXACT_GAMMAS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999)
EXACT_ENVS = (
    ENV_ID,
    "qgym/Trading-ChainCostly-v0",
    "qgym/GridFarm-1x1-v0",
    "qgym/GridFarm-1x2-v0",
)
exact_shares = {
    env_id: [gamma_share(env_id, g) for g in EXACT_GAMMAS] for env_id in EXACT_ENVS
}

figure, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
positions = np.arange(len(EXACT_GAMMAS))
for env_id, shares in exact_shares.items():
    ax.plot(
        positions,
        100 * np.array(shares),
        marker="o",
        label=env_id.removeprefix("qgym/"),
    )
ax.axhline(100, color="black", linestyle="--", linewidth=1, label="season optimum")
ax.set_xticks(positions, [str(g) for g in EXACT_GAMMAS])
ax.set_xlabel("gamma of the stationary policy (value iteration)")
ax.set_ylabel("exact season return, % of the optimum")
ax.set_title("The best policy for each gamma, valued exactly over the season")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()
print(
    f"{'gamma':>6} "
    + " ".join(f"{env_id.removeprefix('qgym/'):>22}" for env_id in EXACT_ENVS)
)
for i, g in enumerate(EXACT_GAMMAS):
    print(
        f"{g:>6} "
        + " ".join(f"{exact_shares[env_id][i]:>22.1%}" for env_id in EXACT_ENVS)
    )

# %% [markdown]
# Exact figures, no sampling. A small gamma is short-sighted: it never pays a cost for a later
# gain, so on the farm (plant now, harvest in twenty days) it does not farm at all, and on the chain it
# trades less than it should. As gamma approaches 1 the stationary policy approaches the season
# optimum, but not all the way: the optimal season policy depends on the **day** (planting on day
# 95 is a waste; a trade just before the end cannot pay back its cost), which no table indexed by
# the state alone can express. [Tutorial 4](04_model_free_vs_model_based.ipynb) comes back to this:
# it is the Markov property, and the day is part of the true state. The DQN presets use gamma
# 0.95-0.97 on the farms because their best stationary policies still reach 93-99% of the season
# optimum while shorter horizons are easier to learn ([tutorial 5](05_dqn.ipynb)).
#
# ## What this notebook checked

# %%
final = {
    a: np.mean([run[-1, 1] for run in runs])
    for a, runs in zip(ALPHAS, alpha_runs.values(), strict=True)
}
first = {
    a: np.mean([run[0, 1] for run in runs])
    for a, runs in zip(ALPHAS, alpha_runs.values(), strict=True)
}
# Q-learning with alpha 0.1 comes within 10% of the optimum
assert final[0.1] >= 0.90, final
assert first[0.01] < first[0.1] - 0.2, first  # a small alpha is slow
assert final[0.5] < final[0.1] - 0.1, final  # a large alpha ends noisier
# short-sighted learning loses
assert learned_final[0.5] < learned_final[0.99] - 0.1, learned_final
chain = dict(zip(EXACT_GAMMAS, exact_shares[ENV_ID], strict=True))
farm = dict(zip(EXACT_GAMMAS, exact_shares["qgym/GridFarm-1x1-v0"], strict=True))
# the best gamma-0.99 policy is nearly the season optimum
assert chain[0.99] >= 0.99, chain
assert chain[0.5] < chain[0.99] - 0.05, chain  # a short-sighted one is not
assert farm[0.5] < 0.1, farm  # gamma 0.5 does not farm at all
# gamma 0.99 nearly, but no stationary policy fully
assert 0.95 <= farm[0.99] < 1.0, farm
print("all checks passed")
