"""SAC's networks: a tanh-squashed Gaussian actor and a fused ensemble of Q-functions."""

from __future__ import annotations

import torch
from torch import nn

from agents.common.features import FEATURES, with_features
from agents.common.nets import EnsembleMLP, mlp


class Actor(nn.Module):
    """obs -> (mean, log_std) of a Gaussian whose samples are squashed by tanh."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], log_std_min: float, log_std_max: float,
                 features: str = "raw"):  # fmt: skip
        super().__init__()
        self.features = features
        self.net = mlp(obs_dim + FEATURES[features], hidden, 2 * action_dim)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.net(with_features(obs, self.features)))

    def head(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) from the network's output."""
        mean, raw = out.chunk(2, dim=-1)
        # Smoothly map to [log_std_min, log_std_max] (CleanRL's rescale): no dead gradients at a clip.
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (torch.tanh(raw) + 1.0)
        return mean, log_std


class Critic(nn.Module):
    """(obs, action) -> Q of each of the ensemble's members, shape (E, B)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], members: int, features: str = "raw"):
        super().__init__()
        self.features = features
        self.q = EnsembleMLP(members, obs_dim + FEATURES[features] + action_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor, detach_params: bool = False) -> torch.Tensor:
        inputs = torch.cat([with_features(obs, self.features), action], dim=-1)
        return self.q(inputs, detach_params=detach_params).squeeze(-1)
