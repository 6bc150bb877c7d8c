"""The one interface every player implements, and the simplest players.

A policy maps a batch of observations, each in its own player's frame, to a batch of actions:
``act(obs: (B, 18) float32) -> (B, 4)``. Policies that keep per-game memory (planners,
oscillators) may also define ``reset(mask)``: the games where ``mask`` is True start anew, and
``len(mask)`` is the batch size of the following ``act`` calls.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from arena.hockey.basic_opponent import BasicOpponent
from arena.hockey.constants import ACTION_DIM


@runtime_checkable
class Policy(Protocol):
    """Anything that can play: a batched ``act``. ``reset(mask)`` is optional."""

    def act(self, obs: np.ndarray) -> np.ndarray: ...


class PolicyError(ValueError):
    """A policy failed or broke its contract; the message names the policy."""


def reset_policy(policy: Policy, mask: np.ndarray, who: str = "policy") -> None:
    """Call the policy's per-game reset hook if it has one."""
    hook = getattr(policy, "reset", None)
    if hook is not None:
        try:
            hook(mask=np.asarray(mask, dtype=bool))
        except Exception as error:
            raise PolicyError(f"{who} ({policy!r}) failed in reset: {type(error).__name__}: {error}") from error


def policy_actions(policy: Policy, obs: np.ndarray, action_dim: int, who: str = "policy") -> np.ndarray:
    """The policy's actions for a batch of observations, checked: shape exactly (B, action_dim), finite.

    Raises:
        PolicyError: naming the policy, when ``act`` raises or returns anything else.
    """
    try:
        actions = np.asarray(policy.act(obs))
    except Exception as error:
        raise PolicyError(f"{who} ({policy!r}) failed in act: {type(error).__name__}: {error}") from error
    expected = (obs.shape[0], action_dim)
    if actions.shape != expected:
        raise PolicyError(f"{who} ({policy!r}) returned actions of shape {actions.shape}, expected {expected} "
                          "(one row of actions per observation)")  # fmt: skip
    if not np.all(np.isfinite(actions)):
        raise PolicyError(f"{who} ({policy!r}) returned NaN or inf actions; actions must be finite numbers in [-1, 1]")
    return actions


class RandomPolicy:
    """Uniform random actions in [-1, 1]^4 (shoot included), from its own generator."""

    name = "random"

    def __init__(self, seed: int | None = None, action_dim: int = ACTION_DIM):
        self.rng = np.random.default_rng(seed)
        self.action_dim = action_dim

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(len(obs), self.action_dim)).astype(np.float32)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return "RandomPolicy()"


class IdlePolicy:
    """Does nothing: all-zero actions."""

    name = "idle"

    def __init__(self, action_dim: int = ACTION_DIM):
        self.action_dim = action_dim

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros((len(obs), self.action_dim), dtype=np.float32)

    def __repr__(self) -> str:
        return "IdlePolicy()"


SCRIPTED_POLICIES = {
    "weak": lambda seed: BasicOpponent(weak=True, seed=seed),
    "strong": lambda seed: BasicOpponent(weak=False, seed=seed),
    "random": lambda seed: RandomPolicy(seed=seed),
    "idle": lambda seed: IdlePolicy(),
}
_ALIASES = {"basic-weak": "weak", "basic-strong": "strong", "zero": "idle"}


def make_policy(name: str, seed: int | None = None) -> Policy:
    """Build a scripted policy by name: weak, strong, random or idle (also basic-weak, basic-strong)."""
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in SCRIPTED_POLICIES:
        valid = ", ".join(list(SCRIPTED_POLICIES) + list(_ALIASES))
        raise ValueError(f"unknown opponent {name!r}; expected one of: {valid}, or a policy object with act(obs)")
    return SCRIPTED_POLICIES[key](seed)


def as_policy(policy: Policy | str, seed: int | None = None, what: str = "policy") -> Policy:
    """Accept a policy object or a scripted policy's name."""
    if isinstance(policy, str):
        return make_policy(policy, seed)
    if not callable(getattr(policy, "act", None)):
        raise TypeError(f"{what} must be a name or an object with act(obs) -> actions, got {type(policy).__name__}")
    return policy
