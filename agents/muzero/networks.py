"""MuZero's three functions for vector observations (Schrittwieser et al. 2020).

- representation h: observation -> hidden state;
- dynamics g: (hidden state, action[, opponent's action]) -> next hidden state, reward logits;
- prediction f: hidden state -> policy logits, value logits.

Hidden states are min-max normalised to [0, 1] per sample (as in MuZero), which keeps the
unrolled states on the scale the encoder produces. Blocks are pre-norm residual MLPs
(LayerNorm, ReLU). Values and rewards are logits over the integer support -S..S.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from agents.muzero.config import MuZeroConfig


def normalise_hidden(x: torch.Tensor) -> torch.Tensor:
    low = x.min(dim=-1, keepdim=True).values
    high = x.max(dim=-1, keepdim=True).values
    return (x - low) / (high - low).clamp(min=1e-5)


class ResidualBlock(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(functional.relu(self.fc1(functional.relu(self.norm(x)))))


def _head(in_dim: int, hidden: int, out_dim: int, zero: bool = False) -> nn.Sequential:
    head = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    if zero:  # start at a uniform distribution (value and reward 0)
        nn.init.zeros_(head[-1].weight)
        nn.init.zeros_(head[-1].bias)
    return head


class MuZeroNetwork(nn.Module):
    """h, g and f for one agent."""

    def __init__(self, config: MuZeroConfig, obs_dim: int, opponent_dim: int = 0):
        super().__init__()
        latent, hidden, bins = config.latent_dim, config.hidden_dim, 2 * config.support_size + 1
        self.num_actions = config.num_actions
        self.opponent_dim = opponent_dim  # > 0: the dynamics also take the opponent's action
        self.represent = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, latent),
            *[ResidualBlock(latent, hidden) for _ in range(config.blocks)],
        )  # fmt: skip
        self.dynamics_in = nn.Linear(latent + self.num_actions + opponent_dim, latent)
        self.dynamics = nn.Sequential(*[ResidualBlock(latent, hidden) for _ in range(config.blocks)])
        self.reward_head = _head(latent, hidden // 4, bins, zero=True)
        self.policy_head = _head(latent, hidden // 4, self.num_actions, zero=True)
        self.value_head = _head(latent, hidden // 4, bins, zero=True)
        self.opponent_head = None  # the opponent's move, for opponent_reply="predicted"
        if opponent_dim and config.opponent_reply == "predicted":
            self.opponent_head = _head(latent, hidden // 4, self.num_actions, zero=True)

    def initial(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, obs) -> hidden state (B, L), policy logits (B, A), value logits (B, bins)."""
        state = normalise_hidden(self.represent(obs))
        return state, self.policy_head(state), self.value_head(state)

    def opponent_logits(self, state: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B, A) logits of the move the opponent plays next."""
        if self.opponent_head is None:
            raise ValueError("this network has no opponent head (it needs search=maxmin, opponent_reply=predicted)")
        return self.opponent_head(state)

    def recurrent(self, state: torch.Tensor, action: torch.Tensor, opponent: torch.Tensor | None = None):
        """(B, L), (B,) action indices [, (B, opponent_dim) opponent actions] -> next state,
        reward logits, policy logits, value logits."""
        one_hot = functional.one_hot(action.long(), self.num_actions).to(state.dtype)
        if (opponent is None) != (self.opponent_dim == 0):
            raise ValueError(f"this dynamics network takes {self.opponent_dim} opponent action entries; "
                             f"got {'none' if opponent is None else tuple(opponent.shape)}")  # fmt: skip
        inputs = [state, one_hot] if opponent is None else [state, one_hot, opponent.to(state.dtype)]
        x = self.dynamics_in(torch.cat(inputs, dim=-1))
        next_state = normalise_hidden(self.dynamics(x))
        return next_state, self.reward_head(next_state), self.policy_head(next_state), self.value_head(next_state)
