"""One-decision max-min planning with an opponent-aware model, batched over games.

The hockey tournament winners (shared/design/agents.md, 2c and 4) did not search a tree of their
own moves: their dynamics took both players' actions, and each own move a was scored by its worst
outcome over the opponent's moves b one decision ahead,

    Q(a) = min_b  r(s, a, b) + discount * V(g(s, a, b)).

Here every game's A x M pairs (own moves x candidate opponent actions) go through the dynamics
in one network call. With ``opponent_reply="predicted"`` the minimum is replaced by the mean under the model's
prediction of the opponent's move (for fixed opponents, which do not play the worst reply).
The move played maximises Q; when exploring, a uniformly random move is
played instead with probability ``maxmin_epsilon`` (drawn from each game's own generator, so a
batch plays exactly as separate calls would). The policy target is softmax(logits + 5 q), with q
the min-max normalised Q of the moves: the prior sharpened towards the best worst case, with the
same scale as the Gumbel search's improvement (``mcts._sigma`` at about 8 visits).
"""

from __future__ import annotations

import numpy as np
import torch

from agents.muzero.config import MuZeroConfig
from agents.muzero.mcts import SearchResult, softmax, to_scalar

_IMPROVEMENT = 5.0


def joint_values(network, obs: torch.Tensor, opponent_moves: torch.Tensor,
                 config: MuZeroConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    """(B, A, M) values r + discount * V of every own move against every opponent action, the
    (B, A) policy logits at the roots and, for opponent_reply="predicted", the (B, M) predicted
    probabilities of the opponent's moves (else None)."""
    batch, actions, candidates = obs.shape[0], config.num_actions, opponent_moves.shape[0]
    with torch.no_grad():
        state, logits, _ = network.initial(obs)
        states = state.repeat_interleave(actions * candidates, dim=0)
        own = torch.arange(actions, device=state.device).repeat_interleave(candidates).repeat(batch)
        opponent = opponent_moves.to(state.device).repeat(batch * actions, 1)
        _, reward_logits, _, value_logits = network.recurrent(states, own, opponent)
        q = to_scalar(reward_logits, config) + config.decision_discount * to_scalar(value_logits, config)
        predicted = None
        if config.opponent_reply == "predicted":
            predicted = torch.softmax(network.opponent_logits(state), dim=-1).cpu().numpy().astype(np.float64)
    joint = q.view(batch, actions, candidates).cpu().numpy().astype(np.float64)
    return joint, logits.cpu().numpy().astype(np.float64), predicted


def maxmin_search(network, obs: torch.Tensor, opponent_moves: torch.Tensor, generators: list[np.random.Generator],
                  config: MuZeroConfig, explore: bool) -> SearchResult:  # fmt: skip
    """Moves of B games by one-decision max-min over ``opponent_moves`` (M, opponent_dim)."""
    joint, logits, predicted = joint_values(network, obs, opponent_moves, config)
    if predicted is None:
        q = joint.min(axis=2)  # (B, A): each move's worst case
    else:
        q = (joint * predicted[:, None, :]).sum(axis=2)  # each move's mean against the predicted opponent
    low, high = q.min(axis=1, keepdims=True), q.max(axis=1, keepdims=True)
    normalised = (q - low) / np.maximum(high - low, 1e-8)
    policy = softmax(logits + _IMPROVEMENT * normalised)
    action = np.argmax(q, axis=1)
    if explore:
        for game, generator in enumerate(generators):
            if generator.random() < config.maxmin_epsilon:
                action[game] = generator.integers(config.num_actions)
    return SearchResult(action, policy, q.max(axis=1), np.zeros_like(q))
