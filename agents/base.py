"""The agent interface: what every learning agent offers on top of the arena's Policy.

A policy only needs a batched ``act(obs (B, obs_dim)) -> (B, action_dim)``. A learning agent is
built from an ``AgentSpec`` (the spaces, never an environment) and a frozen config dataclass,
and adds ``act(obs, explore=...)``, ``update(batch) -> {name: float}``, the weights
(``state_dict``/``load_state_dict``) and what resuming its training needs
(``training_state``/``load_training_state``: optimizers, counters). Anchors: TD-MPC2's
``act()/update() -> info``, Acme's ``EnvironmentSpec``, SB3's ``PolicyPredictor``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from agents.common.runtime import load_optimizer_state, resolve_device
from arena.hockey.constants import ACTION_DIM
from arena.policy import reset_policy
from plumbing.config import ConfigError, config_from_dict, config_to_dict, parse_overrides  # noqa: F401 (re-exported)

OPPONENT_ACTION = "opponent_action"
"""The replay-buffer extra holding the opponent's continuous action of each frame (in the
opponent's own view): an agent that lists it in ``buffer_extras`` gets it filled by the trainer,
as opponent-aware models (MuZero with ``search="maxmin"``) learn from both players' actions."""


@dataclass(frozen=True)
class AgentSpec:
    """Observation and action spaces as plain data.

    Attributes:
        obs_dim: length of one observation vector (18 with the keep-puck mechanic, 16 without).
        action_dim: length of one continuous action (4: x force, y force, torque, shoot).
        action_low: lower bound of every action entry.
        action_high: upper bound of every action entry.
    """

    obs_dim: int = 18
    action_dim: int = ACTION_DIM
    action_low: float = -1.0
    action_high: float = 1.0

    def __post_init__(self):
        for name in ("obs_dim", "action_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AgentSpec.{name} must be a positive integer, got {value!r}")
        if not self.action_low < self.action_high:
            raise ValueError(f"AgentSpec needs action_low < action_high, got {self.action_low}, {self.action_high}")

    @classmethod
    def from_spaces(cls, observation_space, action_space) -> AgentSpec:
        """From Gymnasium Box spaces (what PettingZoo's ``observation_space(agent)`` returns)."""
        low, high = np.unique(action_space.low), np.unique(action_space.high)
        if len(low) != 1 or len(high) != 1:
            raise ValueError("AgentSpec supports action boxes with one common bound per side")
        return cls(
            obs_dim=int(np.prod(observation_space.shape)),
            action_dim=int(np.prod(action_space.shape)),
            action_low=float(low[0]),
            action_high=float(high[0]),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AgentSpec:
        return config_from_dict(cls, data, where="spec")


@runtime_checkable
class Agent(Protocol):
    """A learning agent. ``name`` is its registry key; ``config`` its frozen config dataclass."""

    name: str
    config: Any
    spec: AgentSpec

    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        """Actions (B, action_dim) for a batch of observations (B, obs_dim); explore=True samples."""

    def update(self, batch) -> Mapping[str, float]:
        """One learning step on a batch from the replay buffer; returns metrics by name (a dict, or,
        where the update runs without waiting for the device, a mapping read from it on first use)."""

    def state_dict(self) -> dict:
        """The weights a frozen policy needs (name -> tensor)."""

    def load_state_dict(self, state_dict: dict) -> None: ...

    def training_state(self) -> dict:
        """What resuming needs beyond the weights: optimizer states, counters (torch-loadable data)."""

    def load_training_state(self, state: dict) -> None: ...

    # What the training loop also asks of every agent; ``Learner`` gives each a default.
    updates: int
    sequence_length: int
    buffer_extras: dict[str, tuple[int, ...]] | None
    prioritized: bool
    sampling: dict
    last_priorities: np.ndarray | None

    def last_extras(self) -> dict[str, np.ndarray] | None: ...

    def random_act(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def reset(self, mask: np.ndarray) -> None: ...


class Learner:
    """The defaults of the optional part of the ``Agent`` contract; the learning agents derive from it.

    The training loop calls all of these on every agent, so an agent states what it needs by
    overriding one, and nothing is probed for.
    """

    name: str
    spec: AgentSpec
    updates: int = 0
    """Gradient updates made so far."""
    sequence_length: int = 1
    """Consecutive transitions per sampled item: 1 for single transitions, a model-based agent's horizon."""
    buffer_extras: dict[str, tuple[int, ...]] | None = None
    """Extra per-step arrays (name -> shape) the replay buffer stores for this agent (``last_extras``)."""
    prioritized: bool = False
    """Whether the replay buffer samples by priority (``last_priorities`` after each update)."""
    last_priorities: np.ndarray | None = None
    """The sampled items' new priorities after the last update (prioritized replay)."""
    generator: torch.Generator | None = None
    """What the agent's own sampling draws from (None: it draws from NumPy generators of its own)."""

    # ------------------------------------------------------------------ what every learner sets up
    def _start(self, config, spec: AgentSpec, seed: int, generator: bool = True) -> None:
        """Keep the config, spaces and seed; pick the device; count updates from zero; and, with
        ``generator``, make the torch generator that the agent's sampling draws from."""
        self.config, self.spec, self.seed = config, spec, seed
        self.device = resolve_device(config.device)
        self.updates = 0
        if generator:
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(seed)

    @contextlib.contextmanager
    def _seeded(self):
        """Initialise networks from the agent's seed without moving the process's torch generator."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            yield

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers, by the name their state is saved under."""
        return {}

    def _networks(self) -> list[torch.nn.Module]:
        """The networks that ``eval()`` freezes."""
        return []

    def training_state(self) -> dict:
        """Optimizer states, the update count and the sampling generator; agents add their own."""
        state: dict = {name: optimizer.state_dict() for name, optimizer in self._optimizers().items()}
        state["updates"] = self.updates
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_training_state(self, state: dict) -> None:
        for name, optimizer in self._optimizers().items():
            load_optimizer_state(optimizer, state[name])
        self.updates = int(state["updates"])
        if self.generator is not None:
            self.generator.set_state(state["generator"].to("cpu"))

    def eval(self):
        """Frozen for play: evaluation mode and no gradients (returns the agent)."""
        for network in self._networks():
            network.eval()
            network.requires_grad_(False)
        return self

    @property
    def sampling(self) -> dict:
        """Keyword arguments of the buffer's sequence sampling (e.g. prioritized replay's alpha and beta)."""
        return {}

    def last_extras(self) -> dict[str, np.ndarray] | None:
        """The ``buffer_extras`` of the step just acted (None: none)."""
        return None

    def random_act(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Warm-up actions for ``n`` games before learning starts: uniform over the action box."""
        return rng.uniform(self.spec.action_low, self.spec.action_high, size=(n, self.spec.action_dim)).astype(
            np.float32
        )

    def reset(self, mask: np.ndarray) -> None:
        """Forget per-game memory (a planner's warm start) of the games where ``mask`` is True."""

    def refuse_non_finite(self, **values) -> None:
        """Stop an update whose losses (floats or one-element tensors) are not finite, before its step.

        Raises:
            FloatingPointError: naming the agent, the update and the losses that are not finite.
        """
        error = non_finite_error(self.name, self.updates + 1, values)
        if error is not None:
            raise error


def non_finite_error(agent: str, update: int, values: Mapping[str, Any]) -> FloatingPointError | None:
    """The error that refuses update number ``update`` of ``agent`` when any of ``values`` (floats or
    one-element tensors) is not finite, else None. An update whose step was refused on the device
    (``agents.common.graphs``) raises it when its metrics are read."""
    numbers = {name: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for name, v in values.items()}
    bad = {name: value for name, value in numbers.items() if not math.isfinite(value)}
    if not bad:
        return None
    return FloatingPointError(
        f"{agent} update {update}: {', '.join(bad)} not finite ({bad}); the step was not applied. Lower the "
        "learning rates or check the rewards and observations."
    )


class FrozenPolicy:
    """A trained agent as an opponent: deterministic ``act``, no gradients, never updated."""

    def __init__(self, agent, label: str | None = None):
        self.agent = agent
        self.name = label or agent.name

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.agent.act(obs, explore=False)

    def reset(self, mask) -> None:
        reset_policy(self.agent, mask, self.name)

    def __repr__(self) -> str:
        return f"FrozenPolicy({self.name})"
