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
