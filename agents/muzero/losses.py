"""MuZero's training targets and losses as pure functions over (B, L) sequences.

A sampled sequence holds L = unroll_steps + td_steps transitions. Position k (0..K) is the state
before transition k: the root (k = 0) comes from the representation network, the others from
unrolling the dynamics with the actions actually taken.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from agents.common.distributional import scalar_to_support


def n_step_targets(reward: torch.Tensor, done: torch.Tensor, terminated: torch.Tensor, bootstrap: torch.Tensor,
                   discount: float, td_steps: int, positions: int) -> torch.Tensor:  # fmt: skip
    """Value targets z_k = sum_{i<n} gamma^i r_{k+i} + gamma^n v(s_{k+n}) for k < positions.

    Args:
        reward, done, terminated: (B, L) per transition; ``done`` marks the end of an episode
            (goal or time-out), ``terminated`` a goal (nothing follows it).
        bootstrap: (B, L) the value of the state after each transition (from the target network).
        td_steps: n.
        positions: how many targets (K + 1).

    An episode that ends inside the window stops the sum there; after a time-out it bootstraps
    from the value of the last state, after a goal from nothing.
    """
    batch, length = reward.shape
    if positions + td_steps - 1 > length:
        raise ValueError(f"need {positions + td_steps - 1} transitions for {positions} targets of {td_steps} steps")
    targets = []
    for k in range(positions):
        total = torch.zeros(batch, device=reward.device, dtype=reward.dtype)
        alive = torch.ones_like(total)  # 1 while the episode has not ended within the window
        for i in range(td_steps):
            j = k + i
            total = total + alive * discount**i * reward[:, j]
            ends = alive * done[:, j]
            total = total + ends * discount ** (i + 1) * (1 - terminated[:, j]) * bootstrap[:, j]
            alive = alive * (1 - done[:, j])
        total = total + alive * discount**td_steps * bootstrap[:, k + td_steps - 1]
        targets.append(total)
    return torch.stack(targets, dim=1)


def decision_steps(reward: torch.Tensor, done: torch.Tensor, terminated: torch.Tensor, decision: torch.Tensor,
                   repeat: int, discount: float, steps: int) -> dict[str, torch.Tensor]:  # fmt: skip
    """Per-frame (B, L) sequences as ``steps`` decisions of ``repeat`` held frames each.

    Each row starts at its first decision frame (``decision`` is 1.0 where a move was chosen;
    one lies within the first ``repeat`` frames, as a move is held for at most that long), so
    L must be at least steps * repeat + repeat - 1.

    Returns (B, steps) tensors: ``first`` (frame index of each decision), ``last`` (the frame
    whose next observation follows the decision: its last held frame, or the frame where the
    episode ended), ``reward`` (sum of gamma^i r over the held frames, up to the episode's end),
    ``done``, ``terminated`` and ``mask`` (1.0 for the decisions of the first episode from the
    starting decision on). A time-out inside a decision bootstraps with discount^repeat, not
    discount^frames: a small bias on one decision out of a game's ~60.
    """
    batch, length = reward.shape
    if length < steps * repeat + repeat - 1:
        raise ValueError(f"need {steps * repeat + repeat - 1} frames for {steps} decisions of {repeat}, got {length}")
    offset = torch.argmax(decision[:, :repeat], dim=1)  # the first maximum: the first decision frame
    held = torch.arange(steps, device=reward.device)[:, None] * repeat + torch.arange(repeat, device=reward.device)
    frames = (offset[:, None, None] + held[None]).view(batch, steps * repeat)

    def per_decision(x: torch.Tensor) -> torch.Tensor:
        return x.gather(1, frames).view(batch, steps, repeat)

    frame_reward, frame_done, frame_terminated = per_decision(reward), per_decision(done), per_decision(terminated)
    ended_before = (frame_done.cumsum(2) - frame_done) > 0  # an earlier held frame ended the episode
    alive = (~ended_before).to(reward.dtype)
    discounts = discount ** torch.arange(repeat, device=reward.device, dtype=reward.dtype)
    step_done = frame_done.amax(2)
    step_end = torch.where(step_done > 0, frame_done.argmax(2), torch.full_like(offset[:, None], repeat - 1))
    first = frames.view(batch, steps, repeat)[:, :, 0]
    ended = torch.cat([torch.zeros_like(step_done[:, :1]), step_done.cumsum(1)[:, :-1]], dim=1) > 0
    return {
        "first": first,
        "last": first + step_end,
        "reward": (alive * frame_reward * discounts).sum(2),
        "done": step_done,
        "terminated": (alive * frame_terminated).amax(2),
        "mask": (~ended).to(reward.dtype),
    }


def support_loss(logits: torch.Tensor, target: torch.Tensor, support_size: int, step: float = 1.0) -> torch.Tensor:
    """Cross-entropy of (..., bins) logits against scalar targets (...) on the transformed support."""
    return -(scalar_to_support(target, support_size, step) * functional.log_softmax(logits, dim=-1)).sum(-1)


def policy_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (..., A) logits against (..., A) target distributions."""
    return -(target * functional.log_softmax(logits, dim=-1)).sum(-1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    log_p = functional.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def consistency_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative cosine similarity of (..., D) projections (EfficientZero's SimSiam loss)."""
    return -functional.cosine_similarity(predicted, target.detach(), dim=-1)
