"""MPPI planning in TD-MPC2's latent space, for a whole batch of games at once.

Every game keeps a population of ``num_samples`` action sequences (``num_pi_trajs`` of them
proposed by the policy prior); each iteration rolls all B x num_samples sequences through the
latent model together, scores them by predicted return plus a terminal Q-value, keeps each
game's ``num_elites`` best and refits that game's sampling distribution to them, weighted by
exp(temperature * (value - best value)). The action is drawn from the elites in proportion to
their weights. A game's mean is warm-started from its previous plan shifted by one step unless
the game just started.

All randomness of one ``act`` for one game comes from that game's own generator (``draw_noise``),
so planning B games in one batch gives the same actions as planning each alone with the same
streams; the networks then run once per step of the rollout for the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.tdmpc2.config import TDMPC2Config
from agents.tdmpc2.networks import WorldModel


@dataclass
class PlanNoise:
    """One act's random draws, per game (leading dimension B)."""

    pi: torch.Tensor  # (B, num_pi, H, A) standard normal: policy-prior sequences
    samples: torch.Tensor  # (B, iterations, num_samples - num_pi, H, A) standard normal
    terminal: torch.Tensor  # (B, iterations, num_samples, A) standard normal: policy at the last latent
    q_pick: torch.Tensor  # (B, iterations, num_q) uniform: which two Q-functions to average
    choice: torch.Tensor  # (B, num_elites) uniform: Gumbel noise of the final draw among the elites
    explore: torch.Tensor  # (B, A) standard normal: exploration noise on the chosen action


def draw_noise(generators: list[torch.Generator], config: TDMPC2Config, action_dim: int, num_q: int,
               device: torch.device) -> PlanNoise:  # fmt: skip
    """Draw each game's noise from its own generator: two calls per game, whatever the sizes."""
    s, p, h, a, n = config.num_samples, config.num_pi_trajs, config.horizon, action_dim, config.iterations
    shapes_normal = [(p, h, a), (n, s - p, h, a), (n, s, a), (a,)]
    shapes_uniform = [(n, num_q), (config.num_elites,)]
    sizes_normal = [_numel(shape) for shape in shapes_normal]
    sizes_uniform = [_numel(shape) for shape in shapes_uniform]
    normal = torch.stack([torch.randn(sum(sizes_normal), generator=g, device=device) for g in generators])
    uniform = torch.stack([torch.rand(sum(sizes_uniform), generator=g, device=device) for g in generators])
    batch = len(generators)
    pi, samples, terminal, explore = (
        part.view(batch, *shape) for part, shape in zip(normal.split(sizes_normal, dim=1), shapes_normal)
    )
    q_pick, choice = (
        part.view(batch, *shape) for part, shape in zip(uniform.split(sizes_uniform, dim=1), shapes_uniform)
    )
    return PlanNoise(pi, samples, terminal, q_pick, choice, explore)


def _numel(shape: tuple[int, ...]) -> int:
    out = 1
    for size in shape:
        out *= size
    return out


def estimate_value(model: WorldModel, z: torch.Tensor, actions: torch.Tensor, terminal_noise: torch.Tensor,
                   q_pair: torch.Tensor, discount: float, episodic: bool) -> torch.Tensor:  # fmt: skip
    """Predicted discounted return of (N, H, A) action sequences from latents (N, L), plus the
    terminal value: the average of the two Q-functions ``q_pair`` (N, 2) at the policy's action.
    After a predicted episode end (termination probability above 1/2) nothing more is added."""
    total = torch.zeros(z.shape[0], device=z.device)
    weight = torch.ones_like(total)
    for t in range(actions.shape[1]):
        total = total + weight * model.reward_value(z, actions[:, t])
        z = model.next(z, actions[:, t])
        weight = weight * discount
        if episodic:
            weight = weight * (model.termination_logit(z) <= 0).to(weight.dtype)
    action, _ = model.sample_policy(z, terminal_noise)
    q = model.q_values(z, action)  # (num_q, N)
    return total + weight * q.gather(0, q_pair.T).mean(0)


@torch.no_grad()
def plan(model: WorldModel, z: torch.Tensor, noise: PlanNoise, previous_mean: torch.Tensor, fresh: torch.Tensor,
         config: TDMPC2Config, explore: bool) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Plan for B games at once.

    Args:
        z: (B, L) latent states.
        noise: the games' random draws (``draw_noise``).
        previous_mean: (B, H, A) each game's last plan.
        fresh: (B,) bool, games that just started (no warm start).
        explore: add exploration noise (std of the first step) to the chosen action.

    Returns:
        actions (B, A) in [-1, 1], and the new plans (B, H, A) to warm-start the next call.
    """
    batch, latent = z.shape
    samples, num_pi, horizon, elites = config.num_samples, config.num_pi_trajs, config.horizon, config.num_elites
    action_dim = previous_mean.shape[-1]
    actions = torch.empty(batch, samples, horizon, action_dim, device=z.device)
    if num_pi:
        zp = z.unsqueeze(1).expand(batch, num_pi, latent).reshape(batch * num_pi, latent)
        steps = []
        for t in range(horizon):
            action, _ = model.sample_policy(zp, noise.pi[:, :, t].reshape(batch * num_pi, action_dim))
            steps.append(action)
            if t < horizon - 1:
                zp = model.next(zp, action)
        actions[:, :num_pi] = torch.stack(steps, dim=1).view(batch, num_pi, horizon, action_dim)
    mean = torch.zeros(batch, horizon, action_dim, device=z.device)
    mean[:, :-1] = torch.where(fresh.view(batch, 1, 1), 0.0, previous_mean[:, 1:])
    std = torch.full_like(mean, config.max_std)
    zs = z.unsqueeze(1).expand(batch, samples, latent).reshape(batch * samples, latent)
    rows = torch.arange(batch, device=z.device)
    for i in range(config.iterations):
        actions[:, num_pi:] = (mean.unsqueeze(1) + std.unsqueeze(1) * noise.samples[:, i]).clamp(-1.0, 1.0)
        q_pair = noise.q_pick[:, i].argsort(dim=1)[:, :2]  # (B, 2): a random pair per game
        value = estimate_value(
            model,
            zs,
            actions.view(batch * samples, horizon, action_dim),
            noise.terminal[:, i].reshape(batch * samples, action_dim),
            q_pair.repeat_interleave(samples, dim=0),
            config.discount,
            config.episodic,
        ).view(batch, samples)
        elite_value, elite_index = torch.nan_to_num(value, nan=0.0).topk(elites, dim=1)
        elite_actions = actions[rows.unsqueeze(1), elite_index]  # (B, E, H, A)
        score = torch.exp(config.temperature * (elite_value - elite_value.max(dim=1, keepdim=True).values))
        score = score / score.sum(dim=1, keepdim=True)
        weights = score.view(batch, elites, 1, 1)
        mean = (weights * elite_actions).sum(dim=1)
        std = ((weights * (elite_actions - mean.unsqueeze(1)).pow(2)).sum(dim=1)).sqrt()
        std = std.clamp(config.min_std, config.max_std)
    gumbel = -torch.log(-torch.log(noise.choice.clamp(1e-20, 1.0 - 1e-7)))
    choice = (torch.log(score) + gumbel).argmax(dim=1)  # a draw in proportion to the elite weights
    action = elite_actions[rows, choice, 0]
    if explore:
        action = (action + std[:, 0] * noise.explore).clamp(-1.0, 1.0)
    return action, mean
