"""DQN and QR-DQN at the speed of their env: Stable-Baselines3's algorithms on a faster loop.

``qgym.deep.DQN`` and ``qgym.deep.QRDQN`` are SB3's ``DQN`` and sb3-contrib's ``QRDQN`` (the same
constructor, policy, ``predict``, ``save``/``load`` and hyperparameters' meaning) whose ``learn``
collects and trains with fewer, larger operations: see :mod:`qgym.deep.loop`. ``qgym train --algo
dqn|qrdqn`` trains them; ``benchmarks/bench_dqn.py`` times them against SB3's own ``learn``.

>>> from qgym.deep import DQN  # doctest: +SKIP
>>> DQN("MlpPolicy", "CartPole-v1", seed=0).learn(20_000)  # doctest: +SKIP
"""

from qgym.deep.algorithms import DQN, QRDQN

__all__ = ["DQN", "QRDQN"]
