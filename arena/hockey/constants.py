"""Constants of the hockey game, in the original's units (see shared/specs/hockey.md, section 5.1).

Lengths given in pixels are divided by SCALE to get world units (wu); the rink is 10 x 8 wu.
"""

from __future__ import annotations

import enum
import math


class Mode(enum.IntEnum):
    """Game modes of the original: full games and two short training drills."""

    NORMAL = 0
    TRAIN_SHOOTING = 1
    TRAIN_DEFENSE = 2

    @classmethod
    def parse(cls, value: Mode | int | str) -> Mode:
        """Accept a Mode, its integer value, or its name in any case ("normal", "train_shooting")."""
        if isinstance(value, Mode):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_")
            aliases = {"SHOOTING": "TRAIN_SHOOTING", "DEFENSE": "TRAIN_DEFENSE"}
            key = aliases.get(key, key)
            if key in cls.__members__:
                return cls[key]
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        valid = ", ".join(f"{m.name.lower()} ({m.value})" for m in cls)
        raise ValueError(f"unknown mode {value!r}; expected one of {valid}")


FPS = 50
DT = 1.0 / FPS
SCALE = 60.0
VIEWPORT_W = 600
VIEWPORT_H = 480
W = VIEWPORT_W / SCALE
H = VIEWPORT_H / SCALE
CENTER_X = W / 2
CENTER_Y = H / 2
ZONE = W / 20
MAX_ANGLE = math.pi / 3
MAX_TIME_KEEP_PUCK = 15
GOAL_SIZE = 75
FORCE_MULTIPLIER = 6000.0
SHOOT_FORCE_MULTIPLIER = 60.0
TORQUE_MULTIPLIER = 400.0
MAX_PUCK_SPEED = 25.0
RACKET_FACTOR = 1.2
PLAYER_MAX_SPEED = 10.0

VELOCITY_ITERATIONS = 180
POSITION_ITERATIONS = 60

# Longest episode is max_timesteps + 1 steps: the time-out is checked before time is incremented.
MAX_TIMESTEPS = {Mode.NORMAL: 250, Mode.TRAIN_SHOOTING: 80, Mode.TRAIN_DEFENSE: 80}

# Racket polygon of player 1 in pixels before RACKET_FACTOR / SCALE; player 2 negates x.
RACKET_POLY_PX = [(5, -20), (5, 20), (-10, 20), (-18, 10), (-21, 0), (-18, -10), (-10, -20)]
RACKET_DENSITY = 200.0 / RACKET_FACTOR

PUCK_RADIUS = 13 / SCALE
PUCK_DENSITY = 7.0

OBS_DIM = 18
ACTION_DIM = 4
