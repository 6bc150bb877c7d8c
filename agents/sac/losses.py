"""SAC's losses as pure functions of tensors (Haarnoja et al. 2018, "SAC Algorithms and
Applications", eqs. 5, 7 and 18), so they can be checked on hand-made numbers."""

from __future__ import annotations

import math

import torch

_LOG_2 = math.log(2.0)


def squashed_gaussian_sample(
    mean: torch.Tensor, log_std: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised sample tanh(mean + std * noise) and its log-probability (summed over the last axis).

    The tanh correction uses log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), which stays finite
    where 1 - tanh(u)^2 underflows.
    """
    std = log_std.exp()
    u = mean + std * noise
    log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_prob = log_prob - (2.0 * (_LOG_2 - u - torch.nn.functional.softplus(-2.0 * u))).sum(-1)
    return torch.tanh(u), log_prob


def soft_target(reward, terminated, next_q, next_log_prob, alpha, gamma: float) -> torch.Tensor:
    """r + gamma * (1 - terminated) * (min_i Q_i(s', a') - alpha * log pi(a'|s')); next_q is (E, B)."""
    return reward + gamma * (1.0 - terminated) * (next_q.min(dim=0).values - alpha * next_log_prob)


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the ensemble of each member's mean squared error to the (detached) target; q is (E, B)."""
    return (q - target.detach().unsqueeze(0)).pow(2).mean(dim=1).sum()


def actor_loss(q_pi: torch.Tensor, log_prob: torch.Tensor, alpha) -> torch.Tensor:
    """E[alpha * log pi(a|s) - min_i Q_i(s, a)] with a ~ pi; q_pi is (E, B)."""
    return (alpha * log_prob - q_pi.min(dim=0).values).mean()


def alpha_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """-log(alpha) * E[log pi + target_entropy] (SB3's form: gradient on log alpha, entropy detached)."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()
