"""TD-MPC2's world model (Hansen, Su, Wang 2024): encoder, latent dynamics, reward, termination,
policy prior and an ensemble of Q-functions, all small MLPs over a SimNorm latent.

Blocks are Linear -> LayerNorm -> Mish (dropout after the first Linear of a Q-function); the
encoder and the dynamics end in SimNorm, which splits the latent into groups of ``simnorm_dim``
and applies a softmax to each, keeping latents bounded and sparse. Rewards and Q-values are
logits over two-hot bins. The Q ensemble keeps its members' weights stacked, so all of them run
in one batched matmul per layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

from agents.common.distributional import two_hot_inv
from agents.common.nets import Mish, mish
from agents.tdmpc2.config import TDMPC2Config


class SimNorm(nn.Module):
    """Softmax over consecutive groups of ``group`` features."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return functional.softmax(x.view(*shape[:-1], -1, self.group), dim=-1).view(shape)


def normed_linear(in_dim: int, out_dim: int, dropout: float = 0.0, last: nn.Module | None = None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.LayerNorm(out_dim), last if last is not None else Mish(inplace=True)]
    return nn.Sequential(*layers)


def mlp(in_dim: int, hidden: list[int], out_dim: int, last: nn.Module | None = None) -> nn.Sequential:
    """Normed hidden layers; the output layer is a plain Linear, or normed with ``last`` (SimNorm)."""
    dims = [in_dim, *hidden]
    layers = [normed_linear(a, b) for a, b in zip(dims[:-1], dims[1:])]
    layers.append(normed_linear(dims[-1], out_dim, last=last) if last is not None else nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*layers)


class QEnsemble(nn.Module):
    """``members`` Q-networks latent+action -> bins with stacked weights: (..., in) -> (members, ..., bins)."""

    def __init__(self, members: int, in_dim: int, hidden: int, out_dim: int, dropout: float):
        super().__init__()
        self.members, self.dropout = members, dropout
        self.generator: torch.Generator | None = None  # dropout's random stream (the agent's, for determinism)
        sizes = [in_dim, hidden, hidden, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.norm_weights = nn.ParameterList()
        self.norm_biases = nn.ParameterList()
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out)))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)))
            if i < len(sizes) - 2:
                self.norm_weights.append(nn.Parameter(torch.ones(members, 1, fan_out)))
                self.norm_biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)))

    def dropout_shape(self, rows: int) -> tuple[int, int, int] | None:
        """The shape of the uniform draws the dropout of a forward over ``rows`` inputs makes (None: none)."""
        return (self.members, rows, self.weights[0].shape[-1]) if self.dropout and self.training else None

    def forward(self, x: torch.Tensor, uniform: torch.Tensor | None = None) -> torch.Tensor:
        """``uniform``: the dropout's uniform draws (``dropout_shape``), drawn by the caller; None draws
        them here from ``generator`` (an update recorded as a CUDA graph passes them in)."""
        leading = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        h = flat.unsqueeze(0).expand(self.members, *flat.shape)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, weight)
            if i < last:
                if i == 0 and self.dropout and self.training:
                    if uniform is None:
                        uniform = torch.rand(h.shape, generator=self.generator, device=h.device)
                    keep = uniform >= self.dropout
                    h = h * keep / (1.0 - self.dropout)
                h = functional.layer_norm(h, h.shape[-1:]) * self.norm_weights[i] + self.norm_biases[i]
                h = mish(h)
        return h.view(self.members, *leading, h.shape[-1])


class WorldModel(nn.Module):
    """All of TD-MPC2's networks for one agent, plus the target Q ensemble."""

    def __init__(self, config: TDMPC2Config, obs_dim: int, action_dim: int):
        super().__init__()
        enc_dim, mlp_dim, latent_dim, num_enc_layers, num_q = config.sizes
        self.config, self.action_dim, self.num_q = config, action_dim, num_q
        self.encoder = mlp(obs_dim, [enc_dim] * (num_enc_layers - 1), latent_dim, last=SimNorm(config.simnorm_dim))
        self.dynamics = mlp(latent_dim + action_dim, [mlp_dim] * 2, latent_dim, last=SimNorm(config.simnorm_dim))
        self.reward = mlp(latent_dim + action_dim, [mlp_dim] * 2, config.num_bins)
        self.termination = mlp(latent_dim, [mlp_dim] * 2, 1) if config.episodic else None
        self.policy = mlp(latent_dim, [mlp_dim] * 2, 2 * action_dim)
        self.q = QEnsemble(num_q, latent_dim + action_dim, mlp_dim, config.num_bins, config.dropout)
        self.q_target = QEnsemble(num_q, latent_dim + action_dim, mlp_dim, config.num_bins, config.dropout)
        self.apply(_init)
        for weight in self.q.weights:
            nn.init.trunc_normal_(weight, std=0.02)
        with torch.no_grad():  # reward and Q outputs start at zero (official init)
            self.reward[-1].weight.zero_()
            self.q.weights[-1].zero_()
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        self.q_target.eval()
        self.log_std_min = config.log_std_min
        self.log_std_span = config.log_std_max - config.log_std_min

    def train(self, mode: bool = True) -> WorldModel:
        """Switch training mode everywhere but in the target Q-functions: their TD targets never use dropout."""
        super().train(mode)
        self.q_target.train(False)
        return self

    # ------------------------------------------------------------------ pieces
    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(obs)

    def next(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.dynamics(torch.cat([z, action], dim=-1))

    def reward_logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.reward(torch.cat([z, action], dim=-1))

    def reward_value(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return two_hot_inv(self.reward_logits(z, action), self.config.vmin, self.config.vmax)

    def termination_logit(self, z: torch.Tensor) -> torch.Tensor:
        return self.termination(z).squeeze(-1)

    def q_logits(self, z: torch.Tensor, action: torch.Tensor, target: bool = False, uniform=None) -> torch.Tensor:
        """(N, latent), (N, action) -> (num_q, N, bins); ``uniform``: the dropout's draws (QEnsemble.forward)."""
        return (self.q_target if target else self.q)(torch.cat([z, action], dim=-1), uniform)

    def q_values(self, z: torch.Tensor, action: torch.Tensor, target: bool = False, uniform=None) -> torch.Tensor:
        """(num_q, N) decoded Q-values."""
        return two_hot_inv(self.q_logits(z, action, target, uniform), self.config.vmin, self.config.vmax)

    def policy_distribution(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log standard deviation of the pre-squash Gaussian."""
        mean, raw = self.policy(z).chunk(2, dim=-1)
        log_std = self.log_std_min + 0.5 * self.log_std_span * (torch.tanh(raw) + 1)
        return mean, log_std

    def sample_policy(self, z: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A squashed action for the given standard-normal ``noise``, and the scaled entropy
        (-action_dim times the pre-squash Gaussian log-probability, as the official code)."""
        mean, log_std = self.policy_distribution(z)
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        action = torch.tanh(mean + noise * log_std.exp())
        return action, -log_prob * self.action_dim

    def policy_mean(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.policy_distribution(z)[0])


def _init(module: nn.Module) -> None:
    """Truncated-normal weights (std 0.02) and zero biases, as the official implementation."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
