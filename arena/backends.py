"""Game backends behind the PettingZoo and Gymnasium interfaces.

"builtin" is our Box2D engine (arena.hockey.engine). "official" runs the original ``hockey``
package where it is installed, with our deliberate differences applied around it (float32
observations, seeded resets, hold timers cleared at reset, time-out reported as truncation,
no stepping past the end), so the same code and tests can run on either.
"""

from __future__ import annotations

import numpy as np

from arena.hockey.constants import MAX_TIMESTEPS, Mode
from arena.hockey.engine import GameOutcome, HockeyEngine

BACKENDS = ("builtin", "official")


def official_available() -> bool:
    """Whether the original hockey package can be imported."""
    try:
        import hockey.hockey_env  # noqa: F401
    except ImportError:
        return False
    return True


def make_backend(name: str, mode: Mode | int | str = Mode.NORMAL, keep_mode: bool = True):
    """Build a backend by name: "builtin" or "official"."""
    if name == "builtin":
        return HockeyEngine(mode=mode, keep_mode=keep_mode)
    if name == "official":
        return OfficialBackend(mode=mode, keep_mode=keep_mode)
    raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")


class OfficialBackend(GameOutcome):
    """The original hockey package behind HockeyEngine's interface.

    Resets pass an explicit seed to the original (its reset without a seed reseeds from OS
    entropy): the first reset after ``seed(s)`` uses s itself, so it draws what HockeyEngine
    with seed s draws; later unseeded resets use seeds drawn from our own seeded generator.
    """

    def __init__(self, mode: Mode | int | str = Mode.NORMAL, keep_mode: bool = True):
        try:
            from hockey import hockey_env
        except ImportError as error:
            raise ImportError(
                "backend='official' needs the original hockey package (pip install "
                "git+https://github.com/martius-lab/hockey-env); use backend='builtin' otherwise"
            ) from error
        self._module = hockey_env
        self.mode = Mode.parse(mode)
        self.keep_mode = bool(keep_mode)
        self.env = hockey_env.HockeyEnv(keep_mode=self.keep_mode, mode=int(self.mode))
        self.obs_dim = 18 if self.keep_mode else 16
        self.action_dim = 4 if self.keep_mode else 3
        self.np_random = np.random.default_rng()
        self._next_seed: int | None = None
        self.done = False
        self.winner = 0
        self.time = 0

    @property
    def max_timesteps(self) -> int:
        return MAX_TIMESTEPS[self.mode]

    @property
    def timers(self) -> list[int]:
        return [int(self.env.player1_has_puck), int(self.env.player2_has_puck)]

    def seed(self, seed: int | None) -> None:
        self.np_random = np.random.default_rng(seed)
        self._next_seed = seed

    def reset(self, one_starting: bool | None = None, mode: Mode | int | str | None = None) -> None:
        if mode is not None:
            self.mode = Mode.parse(mode)
            self.env.mode = self._module.Mode(int(self.mode))
        seed = self._next_seed if self._next_seed is not None else int(self.np_random.integers(2**31 - 1))
        self._next_seed = None
        # Deliberate difference: hold timers do not survive a reset.
        self.env.player1_has_puck = 0
        self.env.player2_has_puck = 0
        self._obs, self._info = self.env.reset(one_starting=one_starting, seed=seed)
        self._reward = 0.0
        self.done, self.winner, self.time = False, 0, 0

    def step(self, action_1, action_2) -> None:
        if self.done:
            raise RuntimeError("step() called on an ended game; call reset() first")
        action = np.concatenate([np.asarray(action_1, dtype=np.float32), np.asarray(action_2, dtype=np.float32)])
        self._obs, self._reward, self.done, _, self._info = self.env.step(action)
        self.winner = int(self._info["winner"])
        self.time += 1

    def views(self) -> tuple[list, list]:
        return list(map(float, self._obs)), list(map(float, self.env.obs_agent_two()))

    def observation(self, player: int = 0) -> np.ndarray:
        return np.array(self.views()[player], dtype=np.float32)

    def info(self, player: int = 0) -> dict:
        return dict(self._info) if player == 0 else dict(self.env.get_info_agent_two())

    def reward(self, player: int = 0, info: dict | None = None) -> float:
        if player == 0:
            return float(self._reward)
        return float(self.env.get_reward_agent_two(info if info is not None else self.info(1)))
