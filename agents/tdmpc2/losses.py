"""TD-MPC2's losses as pure functions over time-major tensors (horizon first).

Per-step terms are weighted by ``weights`` (H, B): rho^t times the episode mask (a subsequence
that crosses the end of its episode contributes nothing after it), summed over time and
averaged over the batch and the horizon, as the official implementation normalises them.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from agents.common.distributional import soft_ce, two_hot


def step_weights(mask: torch.Tensor, rho: float) -> torch.Tensor:
    """(H, B) episode mask -> rho^t * mask."""
    powers = rho ** torch.arange(mask.shape[0], device=mask.device, dtype=mask.dtype)
    return powers.unsqueeze(1) * mask


def _weighted(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    horizon, batch = weights.shape
    return (values * weights).sum() / (horizon * batch)


def td_target(reward: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor, discount: float) -> torch.Tensor:
    """r + discount * (1 - terminated) * Q(z', pi(z')), with next_q the minimum of two target Qs."""
    return reward + discount * (1.0 - terminated) * next_q


def consistency_loss(predicted: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Rolled-out latents (H, B, L) against the encoded next observations (H, B, L)."""
    return _weighted((predicted - target).pow(2).mean(-1), weights)


def reward_loss(logits: torch.Tensor, reward: torch.Tensor, weights: torch.Tensor, vmin, vmax) -> torch.Tensor:
    """Soft cross-entropy of (H, B, bins) reward logits against two-hot rewards (H, B)."""
    return _weighted(soft_ce(logits, two_hot(reward, vmin, vmax, logits.shape[-1])), weights)


def value_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, vmin, vmax) -> torch.Tensor:
    """Soft cross-entropy of (Q, H, B, bins) logits against two-hot TD targets (H, B), averaged over Q."""
    ce = soft_ce(logits, two_hot(target, vmin, vmax, logits.shape[-1]).unsqueeze(0))
    return _weighted(ce.mean(0), weights)


def termination_loss(logits: torch.Tensor, terminated: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of (H, B) termination logits, over the steps inside the episode."""
    bce = functional.binary_cross_entropy_with_logits(logits, terminated, reduction="none")
    return (bce * mask).sum() / mask.sum().clamp(min=1.0)


def policy_loss(q: torch.Tensor, scaled_entropy: torch.Tensor, weights: torch.Tensor, entropy_coef: float):
    """-(entropy_coef * entropy + Q / scale), with q (H, B) already divided by the running scale."""
    return -_weighted(entropy_coef * scaled_entropy + q, weights)


def quantiles(values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N,) values -> (P,) their quantiles at ``points`` (P,) in [0, 1], interpolated linearly.

    What ``torch.quantile(values, points)`` computes for finite values, without its checks that
    read the points on the host: an update recorded as a CUDA graph can use it. (A NaN among the
    values gives a NaN loss, and the update is refused anyway.)
    """
    ordered = values.sort().values
    ranks = points * (values.shape[0] - 1)
    below = ranks.long()
    above = ranks.ceil().long()
    return ordered[below].lerp(ordered[above], ranks - below)
