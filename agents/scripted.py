"""The scripted players (BasicOpponent weak/strong, random, idle) as agents with a config.

They learn nothing, but they have a registry name and a config like every other agent, so a
league or a training run can treat "basic-strong" and a SAC snapshot the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import AgentSpec
from arena.policy import make_policy


@dataclass(frozen=True)
class ScriptedConfig:
    policy: str = "weak"
    """Which scripted player: weak, strong, random or idle."""


class ScriptedAgent:
    """A scripted policy behind the agent interface; ``update`` is refused (nothing to learn)."""

    sequence_length = 1

    def __init__(self, config: ScriptedConfig = ScriptedConfig(), spec: AgentSpec = AgentSpec(), seed: int = 0):
        self.config, self.spec = config, spec
        self.policy = make_policy(config.policy, seed=seed)
        self.name = getattr(self.policy, "name", config.policy)

    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        return self.policy.act(obs)

    def reset(self, mask) -> None:
        hook = getattr(self.policy, "reset", None)
        if hook is not None:
            hook(mask=mask)

    def update(self, batch) -> dict[str, float]:
        raise TypeError(f"{self.name} is a scripted player; it has nothing to learn")

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict:
            raise ValueError(f"{self.name} is a scripted player and has no weights, got {sorted(state_dict)}")

    def training_state(self) -> dict:
        state = getattr(self.policy, "state_dict", None)
        return {"policy": state()} if state is not None else {}

    def load_training_state(self, state: dict) -> None:
        if "policy" in state:
            self.policy.load_state_dict(state["policy"])

    def eval(self) -> ScriptedAgent:
        return self
