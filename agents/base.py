"""The agent interface: what every learning agent offers on top of the arena's Policy.

A policy only needs a batched ``act(obs (B, obs_dim)) -> (B, action_dim)``. A learning agent is
built from an ``AgentSpec`` (the spaces, never an environment) and a frozen config dataclass,
and adds ``act(obs, explore=...)``, ``update(batch) -> dict[str, float]``, the weights
(``state_dict``/``load_state_dict``) and what resuming its training needs
(``training_state``/``load_training_state``: optimizers, counters). Anchors: TD-MPC2's
``act()/update() -> info``, Acme's ``EnvironmentSpec``, SB3's ``PolicyPredictor``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from arena.hockey.constants import ACTION_DIM

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

    def update(self, batch) -> dict[str, float]:
        """One learning step on a batch from the replay buffer; returns metrics by name."""

    def state_dict(self) -> dict:
        """The weights a frozen policy needs (name -> tensor)."""

    def load_state_dict(self, state_dict: dict) -> None: ...

    def training_state(self) -> dict:
        """What resuming needs beyond the weights: optimizer states, counters (torch-loadable data)."""

    def load_training_state(self, state: dict) -> None: ...


class FrozenPolicy:
    """A trained agent as an opponent: deterministic ``act``, no gradients, never updated."""

    def __init__(self, agent, label: str | None = None):
        self.agent = agent
        self.name = label or agent.name

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.agent.act(obs, explore=False)

    def reset(self, mask) -> None:
        hook = getattr(self.agent, "reset", None)
        if hook is not None:
            hook(mask)

    def __repr__(self) -> str:
        return f"FrozenPolicy({self.name})"


# ---------------------------------------------------------------------------- configs
class ConfigError(TypeError, ValueError):
    """A config value of the wrong type or an unknown field: bad input, named with where it came from.

    A ``ValueError`` so that entry points report it in one line; a ``TypeError`` for callers that
    check types."""


def config_from_dict(cls, data: dict, where: str = "config"):
    """Build a (frozen) config dataclass from plain data, refusing unknown fields and wrong types.

    Args:
        cls: the dataclass.
        data: field name -> value (lists are accepted for tuple fields).
        where: named in error messages (e.g. "sac config in runs/x/policy.pt").
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of field names to values, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown} for {cls.__name__}; valid fields: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(value, hints[name], f"{where}: field {name!r}")
    return cls(**values)


def _coerce(value, hint, where: str):
    """Check ``value`` against a simple type hint (int, float, bool, str, tuples, unions, Literal)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(value, option, where)
            except (TypeError, ValueError):
                continue
        raise ConfigError(f"{where} must be {_describe(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {list(args)}, got {value!r}")
        return value
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"{where} must be None, got {value!r}")
        return None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else typing.Any
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table of key = value pairs, got {value!r}")
        return dict(value)
    return value


def _describe(hint) -> str:
    args = typing.get_args(hint)
    return " or ".join(getattr(a, "__name__", str(a)) for a in args) if args else str(hint)


def config_to_dict(config) -> dict:
    """A config dataclass as plain data (tuples become lists so the data survives JSON/TOML)."""

    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def parse_overrides(pairs, cls, base=None, where: str = "override"):
    """Apply ``key=value`` strings (values parsed as Python literals, else kept as strings) to a config.

    Example: ``parse_overrides(["hidden=(512, 512)", "gamma=0.98"], SACConfig)``.
    """
    import ast

    data = config_to_dict(base if base is not None else cls())
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{where}: expected key=value, got {pair!r}")
        key, text = pair.split("=", 1)
        key = key.strip()
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        data[key] = value
    return config_from_dict(cls, data, where=where)
