"""Gymnasium environment: one learner against a fixed opponent (``arena/Hockey-v0``).

The learner observes and acts in its own frame on whichever side it plays, so the same policy
works from both sides; the opponent is any policy (``act(obs (B, 18)) -> (B, 4)``) or a
scripted name.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from arena.hockey.constants import FPS, Mode
from arena.hockey_v0 import HockeyParallelEnv
from arena.policy import Policy, as_policy, reset_policy

SIDES = ("left", "right", "alternate", "random")


class HockeySingleEnv(gym.Env):
    """The hockey game against one opponent.

    Args:
        opponent: "weak", "strong", "random", "idle" or a policy object.
        mode: normal, train_shooting or train_defense.
        side: where the learner plays: "left", "right", "alternate" (switch every reset) or
            "random" (drawn at each reset from the env's generator).
        keep_mode: the keep-puck mechanic.
        render_mode: None, "rgb_array" or "human".
        backend: "builtin" or "official".

    The info dict adds "side" and "opponent_action" to the original's info values.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": FPS}

    def __init__(
        self,
        opponent: Policy | str = "weak",
        mode: Mode | int | str = "normal",
        side: str = "left",
        keep_mode: bool = True,
        render_mode: str | None = None,
        backend: str = "builtin",
    ):
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
        self.game = HockeyParallelEnv(mode=mode, render_mode=render_mode, keep_mode=keep_mode, backend=backend)
        self._opponent_spec = opponent
        self.opponent = as_policy(opponent, seed=None, what="opponent")
        self.side_option = side
        self.side = "right" if side == "alternate" else "left"  # flipped before the first game
        self.render_mode = render_mode
        self.observation_space = self.game.observation_space("player_0")
        self.action_space = self.game.action_space("player_0")
        self._me, self._them = "player_0", "player_1"
        self._opponent_obs: np.ndarray | None = None

    def reset(self, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None and self.side_option == "alternate":
            self.side = "right"  # a seeded reset restarts the alternation, like the starting side
        if seed is not None and isinstance(self._opponent_spec, str):
            # A named opponent is rebuilt with a seed from ours, so seeded runs repeat exactly.
            self.opponent = as_policy(self._opponent_spec, seed=int(self.np_random.integers(2**31)), what="opponent")
        options = dict(options or {})
        side = options.pop("side", None)
        if side is not None and side not in ("left", "right"):
            raise ValueError(f"options['side'] must be 'left' or 'right', got {side!r}")
        if side is None:
            if self.side_option == "alternate":
                side = "left" if self.side == "right" else "right"
            elif self.side_option == "random":
                side = "left" if self.np_random.random() < 0.5 else "right"
            else:
                side = self.side_option
        self.side = side
        self._me, self._them = ("player_0", "player_1") if side == "left" else ("player_1", "player_0")
        observations, infos = self.game.reset(seed=seed, options=options)
        reset_policy(self.opponent, np.ones(1, dtype=bool))
        self._opponent_obs = observations[self._them]
        return observations[self._me], {**infos[self._me], "side": self.side}

    def step(self, action):
        if not self.game.agents:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        opponent_action = np.asarray(self.opponent.act(self._opponent_obs[None]))
        if opponent_action.shape != (1, self.action_space.shape[0]):
            raise ValueError(
                f"opponent {self.opponent!r} returned shape {opponent_action.shape}, "
                f"expected (1, {self.action_space.shape[0]})"
            )
        actions = {self._me: action, self._them: opponent_action[0]}
        observations, rewards, terminations, truncations, infos = self.game.step(actions)
        self._opponent_obs = observations[self._them]
        info = {**infos[self._me], "side": self.side, "opponent_action": opponent_action[0]}
        return observations[self._me], rewards[self._me], terminations[self._me], truncations[self._me], info

    def render(self):
        return self.game.render()

    def close(self):
        self.game.close()
