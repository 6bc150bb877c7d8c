"""The game's top-bottom mirror: how observations and actions map when the rink is flipped in y.

The rink, the goals and the racket polygon are symmetric in y, and the start placement draws y
symmetrically about the centre line, so flipping a game in y gives another legal game. In a
player's own frame the flip negates every y position and y velocity, every angle and angular
velocity (a reflected rotation turns the other way), the y-force and the torque; x entries, hold
timers and the shoot entry stay. Checked on the engine (``tests/test_mirror.py``): a mirrored
start with mirrored actions reproduces the mirrored observations step for step to float32
rounding, and decides the same games the same way.
"""

from __future__ import annotations

import numpy as np

from arena.hockey.constants import ACTION_DIM, OBS_DIM

# own (x, y, angle, vx, vy, angular velocity), opponent's (the same six), puck (x, y, vx, vy), timers
OBS_SIGN = np.ones(OBS_DIM, dtype=np.float32)
OBS_SIGN[[1, 2, 4, 5, 7, 8, 10, 11, 13, 15]] = -1.0
# (x-force, y-force, torque, shoot)
ACTION_SIGN = np.ones(ACTION_DIM, dtype=np.float32)
ACTION_SIGN[[1, 2]] = -1.0


def mirror_observation(obs):
    """The flipped observation(s); works on NumPy arrays and torch tensors of shape (..., 18)."""
    return obs * _like(OBS_SIGN, obs)


def mirror_action(action):
    """The flipped action(s); works on NumPy arrays and torch tensors of shape (..., 4)."""
    return action * _like(ACTION_SIGN, action)


def _like(sign: np.ndarray, values):
    if hasattr(values, "new_tensor"):  # a torch tensor: same dtype and device (arena needs no torch)
        return values.new_tensor(sign)
    return sign.astype(np.asarray(values).dtype, copy=False)
