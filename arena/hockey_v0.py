"""PettingZoo parallel environment of the hockey game: ``hockey_v0.parallel_env()``.

Agents "player_0" (left, the original's player 1) and "player_1" (right). Each agent observes
the game from its own side and acts in its own frame, so a policy trained on one side plays the
other unchanged. Rewards and infos are the original's per-player values.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from arena.backends import make_backend
from arena.hockey.constants import FPS, Mode

AGENTS = ("player_0", "player_1")


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

    metadata = {"name": "hockey_v0", "render_modes": ["human", "rgb_array"], "render_fps": FPS, "is_parallelizable": True}

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

    @functools.lru_cache(maxsize=None)  # noqa: B019 (PettingZoo requires the same space object each call)
    def observation_space(self, agent: str) -> spaces.Box:
        self._check_agent(agent)
        return self._observation_space

    @functools.lru_cache(maxsize=None)  # noqa: B019
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
            warnings.warn(f"ignoring unknown reset options {sorted(options)}; known: 'one_starting', 'mode'", stacklevel=2)
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
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"step() needs an action for every agent; missing {missing}, got keys {sorted(actions)}")
        unknown = [a for a in actions if a not in self.possible_agents]
        if unknown:
            raise ValueError(f"unknown agents {unknown}; expected {self.possible_agents}")
        own = [self._checked_action(agent, actions[agent]) for agent in AGENTS]
        self.engine.step(own[0], own[1])

        views = self.engine.views()
        observations = {agent: np.array(view, dtype=np.float32) for agent, view in zip(AGENTS, views)}
        infos = {}
        rewards = {}
        for i, agent in enumerate(AGENTS):
            info = self.engine.info(i)
            infos[agent] = info
            rewards[agent] = self.engine.reward(i, info)
        terminated, truncated = self.engine.terminated, self.engine.truncated
        terminations = {agent: terminated for agent in AGENTS}
        truncations = {agent: truncated for agent in AGENTS}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _checked_action(self, agent: str, action) -> list:
        dim = self.engine.action_dim
        try:
            array = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"action of {agent} must be {dim} numbers, got {action!r}") from error
        if array.shape != (dim,):
            raise ValueError(f"action of {agent} has shape {array.shape}, expected ({dim},)")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"action of {agent} contains NaN or inf: {array.tolist()}; expected finite values in [-1, 1]")
        # The original clips to [-1, 1] and rounds to float32 before computing forces.
        return np.clip(array, -1.0, 1.0).astype(np.float32).tolist()

    def render(self):
        if self.render_mode is None:
            return None
        from arena.hockey.render import Window, render_frame

        frame = render_frame(self.engine.engine if hasattr(self.engine, "engine") else self.engine)
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
