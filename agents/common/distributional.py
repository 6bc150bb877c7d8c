"""Scalars as distributions over fixed bins: symlog, two-hot encoding, and their inverses.

Model-based agents (TD-MPC2, MuZero) predict rewards and values as a categorical distribution
over bins and train it with a soft cross-entropy against a two-hot target, which is robust to
the scale of the returns (Hafner et al. 2023; Hansen et al. 2024). Bins are evenly spaced in
symlog space, so small and large returns are both resolved.
"""

from __future__ import annotations

import torch
from torch.nn import functional


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


def bin_centres(vmin: float, vmax: float, num_bins: int, device=None) -> torch.Tensor:
    return torch.linspace(vmin, vmax, num_bins, device=device)


def two_hot(x: torch.Tensor, vmin: float, vmax: float, num_bins: int) -> torch.Tensor:
    """(...,) real values -> (..., num_bins) probabilities on the two bins around symlog(x).

    Values outside [symexp(vmin), symexp(vmax)] go entirely to the end bin.
    """
    if num_bins < 2:
        raise ValueError(f"two_hot needs at least 2 bins, got {num_bins}")
    bin_size = (vmax - vmin) / (num_bins - 1)
    position = (symlog(x).clamp(vmin, vmax) - vmin) / bin_size
    lower = position.floor().clamp(max=num_bins - 2)
    upper_weight = position - lower
    out = torch.zeros(*x.shape, num_bins, device=x.device, dtype=x.dtype)
    index = lower.long().unsqueeze(-1)
    out.scatter_(-1, index, (1.0 - upper_weight).unsqueeze(-1))
    out.scatter_add_(-1, index + 1, upper_weight.unsqueeze(-1))
    return out


def two_hot_inv(logits: torch.Tensor, vmin: float, vmax: float) -> torch.Tensor:
    """(..., num_bins) logits -> (...,) the real value of the expected bin (decoded with symexp)."""
    centres = bin_centres(vmin, vmax, logits.shape[-1], device=logits.device).to(logits.dtype)
    return symexp((functional.softmax(logits, dim=-1) * centres).sum(-1))


def soft_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (..., bins) logits against (..., bins) target probabilities: shape (...)."""
    return -(target * functional.log_softmax(logits, dim=-1)).sum(-1)


# ---------------------------------------------------------------------------- MuZero's value transform
def value_transform(x: torch.Tensor, epsilon: float = 1e-3) -> torch.Tensor:
    """h(x) = sign(x)(sqrt(|x| + 1) - 1) + epsilon x (Pohlen et al. 2018), which MuZero applies
    before encoding values and rewards on an integer support."""
    return torch.sign(x) * (torch.sqrt(x.abs() + 1.0) - 1.0) + epsilon * x


def inverse_value_transform(y: torch.Tensor, epsilon: float = 1e-3) -> torch.Tensor:
    """The exact inverse of ``value_transform``."""
    root = (torch.sqrt(1.0 + 4.0 * epsilon * (y.abs() + 1.0 + epsilon)) - 1.0) / (2.0 * epsilon)
    return torch.sign(y) * (root.pow(2) - 1.0)


def scalar_to_support(x: torch.Tensor, support_size: int, step: float = 1.0) -> torch.Tensor:
    """(...,) values -> (..., 2 * support_size + 1) probabilities on the two of the points
    step * (-S..S) around h(x) (MuZero's support has step 1)."""
    y = (value_transform(x) / step).clamp(-support_size, support_size)
    lower = y.floor().clamp(max=support_size - 1)
    upper_weight = y - lower
    out = torch.zeros(*x.shape, 2 * support_size + 1, device=x.device, dtype=x.dtype)
    index = (lower + support_size).long().unsqueeze(-1)
    out.scatter_(-1, index, (1.0 - upper_weight).unsqueeze(-1))
    out.scatter_add_(-1, index + 1, upper_weight.unsqueeze(-1))
    return out


def support_to_scalar(logits: torch.Tensor, support_size: int, step: float = 1.0) -> torch.Tensor:
    """(..., 2 * support_size + 1) logits -> (...,) h^-1 of the expected support value."""
    support = torch.arange(-support_size, support_size + 1, device=logits.device, dtype=logits.dtype) * step
    return inverse_value_transform((functional.softmax(logits, dim=-1) * support).sum(-1))
