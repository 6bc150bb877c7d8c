"""Observation features a network may take besides the 18 raw numbers.

``distances``: the 9 distances between the player, the opponent, the puck and the two goals (all
pairs but goal to goal, which never changes), computed from the observation in the player's own
frame, where its goal's centre is at (-4.25, 0) and the opponent's at (4.25, 0) (the goals stand
255 px from the rink's centre, ``arena.hockey.engine``). The course's 1st-placed WS24/25 team and
2nd-placed SS23 team both fed such distances to their networks (design notes, agents.md section 7).
Distances do not change under the top-bottom mirror, so mirrored batches stay consistent.
"""

from __future__ import annotations

import itertools

import torch

from arena.hockey.constants import SCALE

FEATURES = {"raw": 0, "distances": 9}
"""Feature set name -> how many numbers it adds to the observation."""

GOAL_X = 255 / SCALE
# The x column of the player, the opponent and the puck in an observation; y follows it (shared/specs/hockey.md).
_BODIES_X = (0, 6, 12)


def distance_features(obs: torch.Tensor) -> torch.Tensor:
    """The 9 distances (B, 9) of a batch of observations (B, 18), in world units."""
    # Slices and fills only: no copy from host memory, so a CUDA graph can record it (graph_update).
    zero = obs.new_zeros(len(obs), 1)
    goals = [torch.cat([zero - GOAL_X, zero], dim=-1), torch.cat([zero + GOAL_X, zero], dim=-1)]
    points = [obs[:, x : x + 2] for x in _BODIES_X] + goals
    pairs = [pair for pair in itertools.combinations(range(5), 2) if pair != (3, 4)]
    return torch.stack([torch.linalg.vector_norm(points[i] - points[j], dim=-1) for i, j in pairs], dim=-1)


def with_features(obs: torch.Tensor, features: str) -> torch.Tensor:
    """The observation with the named feature set appended (``raw``: unchanged)."""
    if features == "raw":
        return obs
    if features == "distances":
        return torch.cat([obs, distance_features(obs)], dim=-1)
    raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
