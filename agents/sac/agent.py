"""The SAC agent: batched acting, one fused update step, weights and training state.

Speed (see benchmarks/RESULTS.md): the twin critics are one ensemble network (one batched
matmul per layer); the critic, actor and temperature losses are summed and back-propagated
once, the actor's pass through the critic uses detached critic weights (so no critic weight
gradients are computed and thrown away), one Adam with three parameter groups steps everything,
and the target critics move with one fused ``_foreach_lerp_``. On a CPU the eager update's
gradients are written out by hand instead (``gradients``, agents/sac/handwritten.py), and the
update runs with denormal floats flushed to zero (``flush_denormals``: a trained learner's Adam
moments hold thousands of them, each a slow CPU assist). With ``graph_update`` all of it is one
function that never waits for the device, recorded as one CUDA graph on a GPU
(``agents.common.graphs``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from agents.base import AgentSpec, Learner, non_finite_error
from agents.common.buffer import Batch
from agents.common.graphs import GRAPH_SAFE_COMPILE_MODES, DeferredMetrics, UpdateGraph, gated_lerp_, gated_step
from agents.common.runtime import denormals_flushed
from agents.sac import losses
from agents.sac.config import SACConfig
from agents.sac.handwritten import HandwrittenGradients
from agents.sac.networks import Actor, Critic

_METRICS = ("critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean")


class SACAgent(Learner):
    """Soft Actor-Critic for continuous actions in [action_low, action_high]^action_dim.

    Args:
        config: hyperparameters (SACConfig).
        spec: observation and action sizes and bounds.
        seed: seeds the weight initialisation and the agent's own noise generator.
    """

    name = "sac"

    def __init__(self, config: SACConfig = SACConfig(), spec: AgentSpec = AgentSpec(), seed: int = 0):
        self._start(config, spec, seed)
        with self._seeded():
            actor = Actor(spec.obs_dim, spec.action_dim, config.hidden, config.log_std_min, config.log_std_max,
                          config.features)  # fmt: skip
            critic = Critic(spec.obs_dim, spec.action_dim, config.hidden, config.n_critics, config.features)
        critic_target = Critic(spec.obs_dim, spec.action_dim, config.hidden, config.n_critics, config.features)
        critic_target.load_state_dict(critic.state_dict())
        critic_target.requires_grad_(False)
        self.nets = nn.ModuleDict({"actor": actor, "critic": critic, "critic_target": critic_target}).to(self.device)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(max(config.init_alpha, 1e-30)), device=self.device))
        self.target_entropy = float(-spec.action_dim) if config.target_entropy is None else float(config.target_entropy)
        by_rate: dict[float, list] = {}  # one parameter group per learning rate: fewer fused Adam calls
        by_rate.setdefault(config.actor_lr, []).extend(actor.parameters())
        by_rate.setdefault(config.critic_lr, []).extend(critic.parameters())
        if config.autotune_alpha:
            by_rate.setdefault(config.alpha_lr, []).append(self.log_alpha)
        # graph_update records the step in a CUDA graph, which needs Adam's step counts on the
        # device (capturable); the fused kernel computes the same either way.
        capturable = config.graph_update and self.device.type == "cuda"
        self.optimizer = torch.optim.Adam([{"params": p, "lr": lr} for lr, p in by_rate.items()], fused=True,
                                          capturable=capturable)  # fmt: skip
        self._online_params = list(critic.parameters())
        self._target_params = list(critic_target.parameters())
        self._loss_fn = self._losses
        if config.compile:
            if config.compile_mode == "reduce-overhead" and self.device.type != "cuda":
                raise ValueError(
                    f"sac: compile_mode='reduce-overhead' replays CUDA graphs and needs a CUDA device, not "
                    f"{self.device}; use compile_mode='default' there"
                )
            mode = GRAPH_SAFE_COMPILE_MODES[config.compile_mode] if config.graph_update else config.compile_mode
            self._loss_fn = torch.compile(self._losses, mode=mode)
        self._update_graph = UpdateGraph(self._whole_update, self.device) if config.graph_update else None
        eager_cpu = self.device.type == "cpu" and not (config.compile or config.graph_update)
        handwritten = config.gradients == "handwritten" or (config.gradients == "auto" and eager_cpu)
        self._handwritten = HandwrittenGradients(self) if handwritten else None
        self._scale = (spec.action_high - spec.action_low) / 2.0
        self._offset = (spec.action_high + spec.action_low) / 2.0
        self._unit_box = self._scale == 1.0 and self._offset == 0.0

    # ------------------------------------------------------------------ acting
    @property
    def actor(self) -> Actor:
        return self.nets["actor"]

    @property
    def critic(self) -> Critic:
        return self.nets["critic"]

    @property
    def critic_target(self) -> Critic:
        return self.nets["critic_target"]

    def _to_env(self, action: torch.Tensor) -> torch.Tensor:
        return action if self._unit_box else action * self._scale + self._offset

    def _from_env(self, action: torch.Tensor) -> torch.Tensor:
        return action if self._unit_box else (action - self._offset) / self._scale

    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        """Actions (B, action_dim) for observations (B, obs_dim): tanh(mean), or a sample if explore."""
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
            mean, log_std = self.actor(x)
            if explore:
                noise = torch.randn(mean.shape, generator=self.generator, device=self.device)
                mean = mean + log_std.exp() * noise
            return self._to_env(torch.tanh(mean)).cpu().numpy()

    # ------------------------------------------------------------------ learning
    def _losses(self, obs, action, reward, next_obs, terminated, noise):
        """The summed loss and the metrics vector; the one place a torch.compile'd graph covers."""
        config = self.config
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            mean, log_std = self.actor(next_obs)
            next_action, next_log_prob = losses.squashed_gaussian_sample(mean, log_std, noise[0])
            next_q = self.critic_target(next_obs, self._to_env(next_action))
            target = losses.soft_target(reward, terminated, next_q, next_log_prob, alpha, config.gamma)
        q = self.critic(obs, action)
        critic_loss = losses.critic_loss(q, target)
        mean, log_std = self.actor(obs)
        pi_action, log_prob = losses.squashed_gaussian_sample(mean, log_std, noise[1])
        q_pi = self.critic(obs, self._to_env(pi_action), detach_params=True)
        actor_loss = losses.actor_loss(q_pi, log_prob, alpha)
        if config.autotune_alpha:
            alpha_loss = losses.alpha_loss(self.log_alpha, log_prob, self.target_entropy)
        else:
            alpha_loss = torch.zeros((), device=obs.device)
        metrics = torch.stack([critic_loss, actor_loss, alpha_loss, alpha, -log_prob.mean(), q.mean()]).detach()
        return critic_loss + actor_loss + alpha_loss, metrics

    def update(self, batch: Batch) -> Mapping[str, float]:
        """One gradient step of critics, actor and temperature; returns their metrics.

        Raises:
            FloatingPointError: a loss is not finite; the step is not applied. With ``graph_update``
                the step is refused on the device and the error is raised when the returned
                metrics are first read.
        """
        noise = torch.randn((2, batch.size, self.spec.action_dim), generator=self.generator, device=self.device)
        if self._update_graph is not None:
            values = self._update_graph(batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, noise)
            self.updates += 1
            return DeferredMetrics(_METRICS, values, functools.partial(self._check_metrics, self.updates))
        with denormals_flushed(self.device, enabled=self.config.flush_denormals):
            if self._handwritten is not None:  # writes the gradients into .grad itself
                metrics = self._handwritten(
                    batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, noise
                )
            else:
                total, metrics = self._loss_fn(
                    batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, noise
                )
                self.optimizer.zero_grad(set_to_none=True)
                total.backward()
            values = dict(zip(_METRICS, metrics.tolist()))
            self.refuse_non_finite(**values)
            self.optimizer.step()
            with torch.no_grad():
                torch._foreach_lerp_(self._target_params, self._online_params, self.config.tau)
        self.updates += 1
        return values

    def _whole_update(self, obs, action, reward, next_obs, terminated, noise) -> torch.Tensor:
        """The update of ``update`` without a wait for the device (``graph_update``): the losses,
        backward, the Adam step and the target update; a non-finite metric refuses both on the
        device. Returns the metrics (``_METRICS`` order) as one tensor."""
        total, metrics = self._loss_fn(obs, action, reward, next_obs, terminated, noise)
        refused = ~torch.isfinite(metrics).all()
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        gated_step(self.optimizer, refused)
        gated_lerp_(self._target_params, self._online_params, self.config.tau, refused)
        return metrics

    def _check_metrics(self, update: int, metrics: dict[str, float]) -> None:
        error = non_finite_error(self.name, update, metrics)
        if error is not None:
            raise error

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = dict(self.nets.state_dict())
        state["log_alpha"] = self.log_alpha.detach()
        return state

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        state = dict(state_dict)
        log_alpha = state.pop("log_alpha")
        self.nets.load_state_dict(state)
        with torch.no_grad():
            self.log_alpha.copy_(log_alpha.to(self.device))

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def _networks(self) -> list[nn.Module]:
        return [self.nets]

    def load_training_state(self, state: dict) -> None:
        saved = state["optimizer"]
        current = self.optimizer.state_dict()["param_groups"]
        if len(saved["param_groups"]) != len(current):
            # Saved with another grouping of the same parameters (one group per network, as older
            # versions did): the per-parameter state is numbered in the same order, so keep it
            # and take the group layout from this optimizer.
            count = sum(len(group["params"]) for group in current)
            if sum(len(group["params"]) for group in saved["param_groups"]) != count:
                raise ValueError("saved optimizer state does not fit this agent's parameters")
            state = {**state, "optimizer": {"state": saved["state"], "param_groups": current}}
        super().load_training_state(state)
        if self._update_graph is not None:  # the optimizer's state tensors are new: record anew
            self._update_graph.reset()

    def eval(self) -> SACAgent:
        super().eval()
        self.log_alpha.requires_grad_(False)
        return self
