"""Discrete action sets for agents that choose among a few moves (DQN, MuZero).

``ORIGINAL_8`` is the original's discrete table (its ``Discrete(7)`` space could not reach the
shoot action; here all 8 are reachable). ``MOVES_25`` is the richer set used by the strongest
discrete hockey agents: 8 directions x {turn left, none, turn right}, plus shoot in place.
``MOVES_49`` adds a shooting twin of each of those 24 moves: the same move with the shoot entry
set, which releases a held puck at once and is the plain move otherwise. In ``MOVES_25`` the only
way to shoot is to stop and shoot in place, which is a bad move whenever the player has no puck;
a learner's policy then learns to avoid it and, with the keep-puck mechanic releasing every
held puck after 14 frames anyway, may never learn to time its shots.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

_ORIGINAL = [
    (0, 0, 0, 0),  # 0 no-op
    (-1, 0, 0, 0),  # 1 left
    (1, 0, 0, 0),  # 2 right
    (0, -1, 0, 0),  # 3 down
    (0, 1, 0, 0),  # 4 up
    (0, 0, -1, 0),  # 5 turn clockwise
    (0, 0, 1, 0),  # 6 turn counter-clockwise
    (0, 0, 0, 1),  # 7 shoot
]
_DIRECTIONS = [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)]
_MOVES = [(dx, dy, turn, 0) for dx, dy in _DIRECTIONS for turn in (-1, 0, 1)] + [(0, 0, 0, 1)]
_MOVES_AND_SHOTS = _MOVES[:-1] + [(dx, dy, turn, 1) for dx, dy, turn, _ in _MOVES[:-1]] + [(0, 0, 0, 1)]


class DiscreteActions:
    """A table of continuous actions indexed by integers.

    Args:
        table: rows of (x-force, y-force, torque, shoot) in [-1, 1].
        name: a short name for messages.
    """

    def __init__(self, table, name: str):
        self.table = np.asarray(table, dtype=np.float32)
        self.table.setflags(write=False)
        self.name = name

    def __len__(self) -> int:
        return len(self.table)

    def to_continuous(self, index) -> np.ndarray:
        """Map an index or an array of indices to actions of shape (..., 4)."""
        index = np.asarray(index)
        if not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"{self.name}: action indices must be integers, got dtype {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise ValueError(f"{self.name}: action index out of range [0, {len(self) - 1}]: {index.tolist()}")
        return self.table[index]


ORIGINAL_8 = DiscreteActions(_ORIGINAL, "original-8")
MOVES_25 = DiscreteActions(_MOVES, "moves-25")
MOVES_49 = DiscreteActions(_MOVES_AND_SHOTS, "moves-49")
ACTION_SETS = {"original-8": ORIGINAL_8, "moves-25": MOVES_25, "moves-49": MOVES_49}


def action_set(name: str) -> DiscreteActions:
    """Look up a discrete action set by name."""
    if name not in ACTION_SETS:
        raise ValueError(f"unknown action set {name!r}; expected one of {', '.join(ACTION_SETS)}")
    return ACTION_SETS[name]


class DiscreteActionWrapper(gym.ActionWrapper):
    """Gives a continuous hockey env (e.g. arena/Hockey-v0) a Discrete action space."""

    def __init__(self, env: gym.Env, actions: DiscreteActions | str = "original-8"):
        super().__init__(env)
        self.actions = action_set(actions) if isinstance(actions, str) else actions
        self.action_space = gym.spaces.Discrete(len(self.actions))

    def action(self, action) -> np.ndarray:
        return self.actions.to_continuous(int(action))


class DiscretePolicy:
    """Turns a chooser of indices (``choose(obs (B, 18)) -> (B,) ints``) into a Policy."""

    def __init__(self, choose, actions: DiscreteActions | str = "moves-25"):
        self.choose = choose
        self.actions = action_set(actions) if isinstance(actions, str) else actions

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.actions.to_continuous(np.asarray(self.choose(obs)))
