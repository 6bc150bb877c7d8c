"""How a policy uses the keep-puck mechanic: how often it holds the puck, and how its shots end.

With keep_mode a player that catches the puck holds it for at most 14 frames; it releases it
earlier by setting its shoot entry, or the game releases it at the last frame along the
player's angle (``shared/specs/hockey.md`` section 4.4). Win rates say how often a policy
scores; these counts say whether it times its own shots, which is where the discrete MuZero of
``models/muzero-hockey`` differed from SAC and TD-MPC2 (its model card).

Games are played one at a time, in fours: the policy on the left and on the right, each once
with and once without the first possession (who starts matters a lot: a policy that wins most
games it starts can draw most of the others). Observations are the policy's own view on either
side, so the hold timers are entries 16 (its own) and 17 (the opponent's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from arena.policy import Policy, as_policy, reset_policy
from arena.single import HockeySingleEnv

CATCH = 15  # the hold timer on the frame of a catch
LAST_HELD = 2  # the timer before the game releases the puck itself (a shot then counts as the game's)
FOLLOW_FRAMES = 40  # a shot "is caught" if the opponent catches the puck within this many frames


@dataclass
class ShotStats:
    """Per outcome (win, draw, loss): games, frames, frames holding the puck and the shots."""

    games: dict[str, int] = field(default_factory=lambda: {"win": 0, "draw": 0, "loss": 0})
    frames: dict[str, int] = field(default_factory=lambda: {"win": 0, "draw": 0, "loss": 0})
    holding: dict[str, int] = field(default_factory=lambda: {"win": 0, "draw": 0, "loss": 0})
    shots: dict[str, list[tuple[bool, bool, float]]] = field(
        default_factory=lambda: {"win": [], "draw": [], "loss": []}
    )  # (released by the timer, caught by the opponent, puck x at release) per shot

    def summary(self) -> dict[str, dict[str, float]]:
        """Per outcome: games, shots per game, the share of shots the game released (the policy
        did not shoot), the share caught by the opponent within 40 frames, the share of frames
        holding the puck and the mean puck x at release (0 is the centre line, + the opponent's half)."""
        out = {}
        for key, games in self.games.items():
            if games == 0:
                continue
            shots = np.array(self.shots[key], dtype=float).reshape(-1, 3)
            means = shots.mean(axis=0) if len(shots) else np.full(3, np.nan)
            out[key] = {
                "games": games,
                "shots_per_game": len(shots) / games,
                "released_by_timer": float(means[0]),
                "caught_by_opponent": float(means[1]),
                "holding": self.holding[key] / max(self.frames[key], 1),
                "release_x": float(means[2]),
            }
        return out


def shot_statistics(policy: Policy | str, opponent: Policy | str = "weak", games: int = 40, seed: int = 0) -> ShotStats:
    """Play ``games`` games of ``policy`` against ``opponent`` (sides and first possession
    balanced in fours) and count its shots."""
    if not isinstance(games, int) or games < 1:
        raise ValueError(f"games must be a positive integer, got {games!r}")
    policy = as_policy(policy, seed=seed, what="policy")
    env = HockeySingleEnv(opponent)
    stats = ShotStats()
    for game in range(games):
        side = "left" if game % 2 == 0 else "right"
        policy_starts = game % 4 < 2
        options = {"side": side, "one_starting": policy_starts == (side == "left")}
        obs, _ = env.reset(seed=seed + game, options=options)
        reset_policy(policy, np.ones(1, dtype=bool))
        frames, done, info = [obs], False, {}
        while not done:
            obs, _, terminated, truncated, info = env.step(np.asarray(policy.act(obs[None]))[0])
            frames.append(obs)
            done = terminated or truncated
        key = {1: "win", 0: "draw", -1: "loss"}[info["winner"]]
        trajectory = np.array(frames)
        own, theirs = trajectory[:, 16], trajectory[:, 17]
        stats.games[key] += 1
        stats.frames[key] += len(trajectory) - 1
        stats.holding[key] += int((own[:-1] > 0).sum())
        for t in np.flatnonzero((own[:-1] >= LAST_HELD) & (own[1:] == 0)) + 1:
            caught = bool((theirs[t : t + FOLLOW_FRAMES] == CATCH).any())
            stats.shots[key].append((bool(own[t - 1] == LAST_HELD), caught, float(trajectory[t, 12])))
    return stats
