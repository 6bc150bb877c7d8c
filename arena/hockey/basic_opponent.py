"""The course's scripted BasicOpponent: a PD controller that chases the puck (spec section 6).

The control law is a pure function of (observation, phase, weak), so it can be tested and
vectorised; ``BasicOpponent`` wraps it with its own seeded generator for the phase (the
original draws from the global numpy generator, which makes games irreproducible).
"""

from __future__ import annotations

import math

import numpy as np

from arena.hockey.constants import MAX_ANGLE

_KD = 0.5
_DRAW_BLOCK = 1024  # phase increments drawn at a time: one generator call per call is slow


def basic_opponent_action(obs, phase: float, weak: bool, keep_mode: bool = True) -> np.ndarray:
    """One decision of the BasicOpponent from its own point of view.

    Args:
        obs: the player's own observation (18 entries, or 16 without keep_mode).
        phase: the oscillator phase after this call's increment; the target angle is
            MAX_ANGLE * sin(phase).
        weak: the weak opponent's proportional gain is 0.5, the strong one's 10.
        keep_mode: whether to add the shoot entry (shoots while its hold timer is in 1..6).

    Returns:
        float64 array of 4 entries (x-force, y-force, torque, shoot), 3 without keep_mode.
    """
    return np.array(_control([float(v) for v in obs], phase, weak, keep_mode))


def _control(obs: list, phase: float, weak: bool, keep_mode: bool) -> list:
    """The control law on a list of Python floats (fast for one observation at a time)."""
    x, y, angle, vx, vy, omega = obs[:6]
    puck_x, puck_y, puck_vx, puck_vy = obs[12:16]
    kp = 0.5 if weak else 10.0  # gains (kp, kp/5, kp/2) for (x, y, angle)
    target_angle = MAX_ANGLE * math.sin(phase)

    if puck_vx < 0.5:
        dist = math.sqrt((x - puck_x) ** 2 + (y - puck_y) ** 2)
        if x < puck_x and abs(y - puck_y) < 0.5:
            # Behind the puck: aim a little past it, leading its vertical motion.
            target = (puck_x + 0.2, puck_y + puck_vy * dist * 0.1)
        else:
            target = (-3.5, puck_y)
    else:
        target = (-3.5, 0.0)

    # PD law per axis; brake when the estimated time to the target is short.
    error_x, error_y, error_a = target[0] - x, target[1] - y, target_angle - angle
    ax = kp * error_x - _KD * vx * (abs(error_x / (vx + 0.01)) < 0.1)
    ay = kp / 5 * error_y - _KD * vy * (abs(error_y / (vy + 0.01)) < 0.1)
    aa = kp / 2 * error_a - _KD * omega * (abs(error_a / (omega + 0.01)) < 1.0)
    action = [min(1.0, max(-1.0, ax)), min(1.0, max(-1.0, ay)), min(1.0, max(-1.0, aa))]
    if keep_mode:
        timer = obs[16]
        action.append(1.0 if 0 < timer < 7 else 0.0)
    return action


class BasicOpponent:
    """The course's scripted opponent as a batched policy with its own generator.

    Args:
        weak: weak (kp 0.5) or strong (kp 10) gains; the original's default is weak.
        seed: seed of the generator for the phase oscillator.
        keep_mode: whether the game has the keep-puck mechanic (adds the shoot entry).

    Each of the batch's games has its own phase, drawn U(0, pi) when the game starts and advanced
    by U(0, 0.2) on every call, as in the original.
    """

    def __init__(self, weak: bool = True, seed: int | None = None, keep_mode: bool = True):
        self.weak = bool(weak)
        self.keep_mode = bool(keep_mode)
        self.rng = np.random.default_rng(seed)
        self._phases: list[float] = []
        self._increments: list[float] = []
        self._next = 0
        self.name = "basic-weak" if self.weak else "basic-strong"

    def reset(self, mask=None) -> None:
        """Start new games where ``mask`` is True (a new phase each); ``len(mask)`` is the batch
        size of the following calls. Without a mask, every game starts anew at the next call."""
        if mask is None:
            self._phases = []
            return
        mask = np.asarray(mask, dtype=bool)
        if mask.shape[0] != len(self._phases):
            self._phases = self.rng.uniform(0.0, math.pi, size=mask.shape[0]).tolist()
        elif mask.any():
            for i, phase in zip(np.flatnonzero(mask), self.rng.uniform(0.0, math.pi, size=int(mask.sum()))):
                self._phases[i] = float(phase)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions for a batch (B, 18) of observations, each in its own player's frame."""
        obs = np.asarray(obs)
        if obs.ndim != 2:
            raise ValueError(f"{self.name}: act() expects a batch of shape (B, {obs.shape[-1]}), got {obs.shape}")
        rows = obs.tolist()
        if len(self._phases) != len(rows):
            self.reset(mask=np.ones(len(rows), dtype=bool))
        phases, weak, keep_mode = self._phases, self.weak, self.keep_mode
        out = []
        for i, row in enumerate(rows):
            if self._next >= len(self._increments):
                self._increments = self.rng.uniform(0.0, 0.2, size=_DRAW_BLOCK).tolist()
                self._next = 0
            phases[i] += self._increments[self._next]
            self._next += 1
            out.append(_control(row, phases[i], weak, keep_mode))
        return np.array(out, dtype=np.float32)

    def state_dict(self) -> dict:
        """Per-game phases and the generator state, as plain data (for exact training resumes)."""
        return {
            "phases": list(self._phases),
            "increments": list(self._increments),
            "next": self._next,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self._phases = [float(p) for p in state["phases"]]
        self._increments = [float(p) for p in state["increments"]]
        self._next = int(state["next"])
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return f"BasicOpponent(weak={self.weak})"
