"""PettingZoo parallel environment of the hockey game: ``hockey_v0.parallel_env()``.

Agents "player_0" (left, the original's player 1) and "player_1" (right). Each agent observes
the game from its own side and acts in its own frame, so a policy trained on one side plays the
other unchanged. Rewards and infos are the original's per-player values.
"""

from __future__ import annotations

import functools
import math
import warnings
from array import array

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from arena.backends import make_backend
from arena.hockey.constants import FPS, Mode
from arena.hockey.engine import HockeyEngine

AGENTS = ("player_0", "player_1")


def checked_action(action, dim: int, what: str) -> list:
    """Validate one player's action and prepare it as the original does: clip to [-1, 1], then
    round to float32 (forces are computed from the rounded values). Plain Python: this runs on
    every step and numpy's per-call overhead would cost more than the physics."""
    if isinstance(action, np.ndarray):
        if action.shape != (dim,):
            raise ValueError(f"{what} has shape {action.shape}, expected ({dim},)")
        values = action.tolist()
    else:
        try:
            values = [float(v) for v in action]
        except (TypeError, ValueError) as error:
            raise ValueError(f"{what} must be {dim} numbers, got {action!r}") from error
        if len(values) != dim:
            raise ValueError(f"{what} has shape ({len(values)},), expected ({dim},)")
    for value in values:
        if not math.isfinite(value):
            raise ValueError(f"{what} contains NaN or inf: {values}; expected finite values in [-1, 1]")
    return array("f", [-1.0 if v < -1.0 else 1.0 if v > 1.0 else v for v in values]).tolist()


def parallel_env(mode: Mode | int | str = "normal", render_mode: str | None = None, **kwargs) -> HockeyParallelEnv:
    """Create the parallel hockey environment (see HockeyParallelEnv for the arguments)."""
    return HockeyParallelEnv(mode=mode, render_mode=render_mode, **kwargs)


class HockeyParallelEnv(ParallelEnv):
    """Two-player hockey with simultaneous moves.

    Args:
        mode: normal, train_shooting or train_defense.
        render_mode: None, "rgb_array" (480 x 600 x 3 frames) or "human" (a pygame window).
        keep_mode: the keep-puck mechanic (default True, as in the course).
        backend: "builtin" (our Box2D engine) or "official" (the original hockey package,
            where installed).
    """

    metadata = {
        "name": "hockey_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": FPS,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        mode: Mode | int | str = "normal",
        render_mode: str | None = None,
        keep_mode: bool = True,
        backend: str = "builtin",
    ):
        if render_mode not in (None, "human", "rgb_array"):
            raise ValueError(f"render_mode must be None, 'human' or 'rgb_array', got {render_mode!r}")
        self.engine = make_backend(backend, mode=mode, keep_mode=keep_mode)
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        obs_dim, action_dim = self.engine.obs_dim, self.engine.action_dim
        self._observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self._action_space = spaces.Box(-1.0, 1.0, shape=(action_dim,), dtype=np.float32)
        self._window = None

    @property
    def mode(self) -> Mode:
        return self.engine.mode

    @functools.cache  # noqa: B019 (PettingZoo requires the same space object each call)
    def observation_space(self, agent: str) -> spaces.Box:
        self._check_agent(agent)
        return self._observation_space

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Box:
        self._check_agent(agent)
        return self._action_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start a game. A seed reseeds the engine's generator; without one its stream continues.

        options: {"one_starting": bool} fixes which side starts with the puck (by default it
        alternates between resets, as in the original); {"mode": ...} switches the game mode.
        """
        options = dict(options or {})
        one_starting = options.pop("one_starting", None)
        mode = options.pop("mode", None)
        if options:
            # Other keys are ignored (PettingZoo's API test passes arbitrary ones), but said.
            warnings.warn(
                f"ignoring unknown reset options {sorted(options)}; known: 'one_starting', 'mode'", stacklevel=2
            )
        if seed is not None:
            self.engine.seed(seed)
        self.engine.reset(one_starting=one_starting, mode=mode)
        self.agents = list(self.possible_agents)
        views = self.engine.views()
        observations = {agent: np.array(view, dtype=np.float32) for agent, view in zip(AGENTS, views)}
        infos = {agent: self.engine.info(i) for i, agent in enumerate(AGENTS)}
        if self.render_mode == "human":
            self.render()
        return observations, infos

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("step() called after the game ended (env.agents is empty); call reset() first")
        try:
            action_0, action_1 = actions["player_0"], actions["player_1"]
        except KeyError:
            missing = [a for a in self.agents if a not in actions]
            raise ValueError(
                f"step() needs an action for every agent; missing {missing}, got {sorted(actions)}"
            ) from None
        if len(actions) != 2:
            unknown = sorted(a for a in actions if a not in self.possible_agents)
            raise ValueError(f"unknown agents {unknown}; expected {self.possible_agents}")
        dim = self.engine.action_dim
        engine = self.engine
        engine.step(
            checked_action(action_0, dim, "action of player_0"), checked_action(action_1, dim, "action of player_1")
        )

        view_0, view_1 = engine.views()
        info_0, info_1 = engine.info(0), engine.info(1)
        observations = {"player_0": np.array(view_0, dtype=np.float32), "player_1": np.array(view_1, dtype=np.float32)}
        rewards = {"player_0": engine.reward(0, info_0), "player_1": engine.reward(1, info_1)}
        terminated, truncated = engine.terminated, engine.truncated
        terminations = {"player_0": terminated, "player_1": terminated}
        truncations = {"player_0": truncated, "player_1": truncated}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, {"player_0": info_0, "player_1": info_1}

    def render(self):
        if self.render_mode is None:
            return None
        from arena.hockey.render import Window, render_frame

        if not isinstance(self.engine, HockeyEngine):
            raise NotImplementedError("rendering needs backend='builtin' (it draws our engine's Box2D world)")
        frame = render_frame(self.engine)
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            self._window = Window(fps=self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def close(self):
        if self._window is not None:
            self._window.close()
            self._window = None

    def state(self) -> np.ndarray:
        """The global state: the left player's view (it determines the right one)."""
        return np.array(self.engine.views()[0], dtype=np.float32)

    def _check_agent(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise ValueError(f"unknown agent {agent!r}; expected one of {self.possible_agents}")
