"""The TD-MPC2 agent: batched planning (or policy-prior acting), one update step, weights and state.

``act`` encodes a batch of observations and plans for all of its games at once
(``agents.tdmpc2.planner``), keeping per game the previous plan (warm start) and a generator;
``reset(mask)`` marks games that start anew. ``update`` takes a batch of subsequences of
``horizon`` transitions (``ReplayBuffer.sample_sequences``) and performs the official update:
world model (consistency, reward, value, termination losses; one optimiser, encoder at a lower
step size, gradient clipping), then the policy prior against the Q-functions (its own optimiser,
Q scaled by a running percentile range), then the Polyak update of the target Q-functions. With
``graph_update`` the same update is one function that never waits for the device, recorded as one
CUDA graph on a GPU (``agents.common.graphs``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch

from agents.base import AgentSpec, Learner, non_finite_error
from agents.common.buffer import Batch
from agents.common.graphs import GRAPH_SAFE_COMPILE_MODES, DeferredMetrics, UpdateGraph, gated_lerp_, gated_step
from agents.tdmpc2 import losses
from agents.tdmpc2.config import TDMPC2Config
from agents.tdmpc2.networks import WorldModel
from agents.tdmpc2.planner import draw_noise, plan

_METRICS = ("consistency_loss", "reward_loss", "value_loss", "termination_loss", "model_loss", "policy_loss",
            "grad_norm", "q_scale", "entropy")  # fmt: skip


class TDMPC2Agent(Learner):
    """TD-MPC2 for continuous actions in [-1, 1]^action_dim (the hockey action box).

    Args:
        config: hyperparameters (TDMPC2Config).
        spec: observation and action sizes.
        seed: seeds the weights, the update noise and the per-game planning generators.
    """

    name = "tdmpc2"

    def __init__(self, config: TDMPC2Config = TDMPC2Config(), spec: AgentSpec = AgentSpec(), seed: int = 0):
        if spec.action_low != -1.0 or spec.action_high != 1.0:
            raise ValueError(f"tdmpc2 plans in [-1, 1]; got action bounds [{spec.action_low}, {spec.action_high}]")
        self._start(config, spec, seed)
        with self._seeded():
            self.model = WorldModel(config, spec.obs_dim, spec.action_dim).to(self.device)
        model = self.model
        model_groups = [
            {"params": list(model.encoder.parameters()), "lr": config.lr * config.enc_lr_scale},
            {"params": [p for name, p in model.named_parameters()
                        if not name.startswith(("encoder.", "policy.", "q_target."))], "lr": config.lr},
        ]  # fmt: skip
        fused = self.device.type in ("cpu", "cuda")
        if config.graph_update and not fused:
            raise ValueError(f"tdmpc2: graph_update runs on cpu or cuda (fused Adam), not {self.device}")
        # A step recorded in a CUDA graph keeps Adam's step counts on the device (capturable); the
        # fused kernel computes the same either way.
        capturable = config.graph_update and self.device.type == "cuda"
        self.model_optimizer = torch.optim.Adam(model_groups, lr=config.lr, fused=fused, capturable=capturable)
        self.policy_optimizer = torch.optim.Adam(model.policy.parameters(), lr=config.lr, eps=1e-5, fused=fused,
                                                 capturable=capturable)  # fmt: skip
        self.q_scale = torch.ones((), device=self.device)  # running 5th-95th percentile range of Q
        self._quantile_points = torch.tensor([0.05, 0.95], device=self.device)
        self.model.q.generator = self.generator
        self._model_params = [p for group in model_groups for p in group["params"]]
        self._q_params, self._q_target_params = list(model.q.parameters()), list(model.q_target.parameters())
        # per-game planning state, sized to the batch on first use
        self._plans = torch.zeros(0, config.horizon, spec.action_dim, device=self.device)
        self._fresh = torch.ones(0, dtype=torch.bool, device=self.device)
        self._streams: list[torch.Generator] = []
        if (config.compile or config.compile_update) and config.compile_mode == "reduce-overhead":
            if self.device.type != "cuda":
                raise ValueError(
                    f"tdmpc2: compile_mode='reduce-overhead' replays CUDA graphs and needs a CUDA device, not "
                    f"{self.device}; use compile_mode='default' there"
                )
        self._plan_fn = torch.compile(plan, mode=config.compile_mode) if config.compile else plan
        # Both modes replay the planner as CUDA graphs, whose output memory the next replay overwrites.
        self._graphed_plan = config.compile and config.compile_mode in ("reduce-overhead", "max-autotune")
        self._model_losses_fn = self._model_losses
        self._policy_loss_fn = self._policy_loss
        self._update_graph: UpdateGraph | None = None
        if config.graph_update:
            if config.compile_update:
                mode = GRAPH_SAFE_COMPILE_MODES[config.compile_mode]
                self._model_losses_fn = torch.compile(self._model_losses, mode=mode)
                self._policy_loss_fn = torch.compile(self._policy_loss, mode=mode)
            self._update_graph = UpdateGraph(self._whole_update, self.device)
        elif config.compile_update:
            self._model_losses_fn = torch.compile(self._model_losses, mode=config.compile_mode)

    @property
    def sequence_length(self) -> int:
        """Transitions per training subsequence (the trainer samples these)."""
        return self.config.horizon

    # ------------------------------------------------------------------ acting
    def _stream(self, index: int) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(np.random.SeedSequence([self.seed, 17, index]).generate_state(1)[0]))
        return generator

    def _ensure_batch(self, size: int) -> None:
        if self._plans.shape[0] != size:
            self._plans = torch.zeros(size, self.config.horizon, self.spec.action_dim, device=self.device)
            self._fresh = torch.ones(size, dtype=torch.bool, device=self.device)
            self._streams = [self._stream(i) for i in range(size)]

    def reset(self, mask) -> None:
        """Games where ``mask`` is True start anew: their next plan is not warm-started.
        ``len(mask)`` is the batch size of the following ``act`` calls."""
        mask = torch.as_tensor(np.asarray(mask, dtype=bool), device=self.device)
        self._ensure_batch(len(mask))
        self._fresh |= mask

    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        """Actions (B, 4) for observations (B, 18): planned with MPPI for every game at once, or
        from the policy prior when ``config.mpc`` is False (its mean unless ``explore``)."""
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
            was_training = self.model.training
            self.model.eval()
            try:
                z = self.model.encode(x)
                if not self.config.mpc:
                    if not explore:
                        return self.model.policy_mean(z).cpu().numpy()
                    noise = torch.randn(z.shape[0], self.spec.action_dim, generator=self.generator, device=self.device)
                    return self.model.sample_policy(z, noise)[0].cpu().numpy()
                self._ensure_batch(x.shape[0])
                noise = draw_noise(self._streams, self.config, self.spec.action_dim, self.model.num_q, self.device)
                action, plans = self._plan_fn(self.model, z, noise, self._plans, self._fresh, self.config, explore)
                # With CUDA graphs the outputs live in the graph's memory, which the next replay
                # overwrites; the plan is read again by that replay, so it is copied out first.
                self._plans = plans.clone() if self._graphed_plan else plans
                self._fresh = torch.zeros_like(self._fresh)
                return action.cpu().numpy()
            finally:
                self.model.train(was_training)

    # ------------------------------------------------------------------ learning
    def update(self, batch: Batch) -> Mapping[str, float]:
        """One update from (B, H, ...) subsequences; returns the losses and diagnostics.

        Raises:
            FloatingPointError: a loss is not finite; no step is applied. With ``graph_update`` the
                step is refused on the device and the error is raised when the returned metrics
                are first read.
        """
        if self._update_graph is not None:
            return self._graphed_update(batch)
        config, model = self.config, self.model
        obs = batch.obs.transpose(0, 1)  # (H, B, obs): time-major from here on
        action, reward = batch.action.transpose(0, 1), batch.reward.transpose(0, 1)
        next_obs, terminated = batch.next_obs.transpose(0, 1), batch.terminated.transpose(0, 1)
        mask = batch.mask.transpose(0, 1) if batch.mask is not None else torch.ones_like(reward)
        horizon, size = reward.shape
        weights = losses.step_weights(mask, config.rho)
        noise = torch.randn(2, horizon, size, self.spec.action_dim, generator=self.generator, device=self.device)
        picks = torch.rand(2, model.num_q, generator=self.generator, device=self.device).argsort(dim=1)[:, :2]

        consistency, reward_loss, value_loss, termination, model_loss, z_inputs = self._model_losses_fn(
            obs, action, reward, next_obs, terminated, mask, weights, noise[0], picks[0]
        )
        self.refuse_non_finite(consistency=consistency, reward_loss=reward_loss, value_loss=value_loss,
                           termination_loss=termination)  # fmt: skip
        self.model_optimizer.zero_grad(set_to_none=True)
        model_loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self._model_params, config.grad_clip_norm)
        self.model_optimizer.step()

        # policy prior: maximise Q (scaled by its running range) plus entropy, on detached latents;
        # the Q-functions only judge here, so they are frozen while the loss is built
        latents = z_inputs.detach()
        for p in self._q_params:
            p.requires_grad_(False)
        try:
            policy_loss, self.q_scale, entropy = self._policy_loss(latents, weights, noise[1], picks[1])
            self.refuse_non_finite(policy_loss=policy_loss)
            self.policy_optimizer.zero_grad(set_to_none=True)
            policy_loss.backward()
        finally:
            for p in self._q_params:
                p.requires_grad_(True)
        self.policy_optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(self._q_target_params, self._q_params, config.tau)
        self.updates += 1
        values = torch.stack([consistency, reward_loss, value_loss, termination, model_loss, policy_loss,
                              grad_norm, self.q_scale, entropy]).detach()  # fmt: skip
        return dict(zip(_METRICS, values.tolist()))

    def _graphed_update(self, batch: Batch) -> DeferredMetrics:
        """``update`` with ``graph_update``: the random draws here, in the eager update's order and
        shapes, then ``_whole_update`` (recorded as a CUDA graph on a GPU); nothing waits for the device."""
        model, generator, device = self.model, self.generator, self.device
        mask = batch.mask if batch.mask is not None else torch.ones_like(batch.reward)
        size, horizon = batch.reward.shape
        noise = torch.randn(2, horizon, size, self.spec.action_dim, generator=generator, device=device)
        pick_draws = torch.rand(2, model.num_q, generator=generator, device=device)
        dropout_shape = model.q.dropout_shape(horizon * size)
        dropout = []  # the Q-functions' dropout in the value loss, then in the policy loss
        if dropout_shape is not None:
            dropout = [torch.rand(dropout_shape, generator=generator, device=device) for _ in range(2)]
        values = self._update_graph(batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, mask,
                                    noise, pick_draws, *dropout)  # fmt: skip
        self.updates += 1
        return DeferredMetrics(_METRICS, values, functools.partial(self._check_metrics, self.updates))

    def _check_metrics(self, update: int, metrics: dict[str, float]) -> None:
        """Raise what the eager update raises for these metrics: the world model's losses first."""
        model_losses = {"consistency": metrics["consistency_loss"]}  # the names the eager update reports
        model_losses.update((name, metrics[name]) for name in ("reward_loss", "value_loss", "termination_loss"))
        for group in (model_losses, {"policy_loss": metrics["policy_loss"]}):
            error = non_finite_error(self.name, update, group)
            if error is not None:
                raise error

    def _whole_update(self, obs, action, reward, next_obs, terminated, mask, noise, pick_draws,
                      model_dropout=None, policy_dropout=None) -> torch.Tensor:  # fmt: skip
        """The update of ``update`` without a wait for the device, on (B, H, ...) batches and the
        draws of ``_graphed_update``; returns the metrics as one tensor (in ``_METRICS`` order).

        A non-finite loss refuses steps on the device as the eager update does: world-model losses
        refuse every step; the policy loss refuses the policy step and the target update (the world
        model's step and the Q scale have moved by then).
        """
        config = self.config
        obs, action, reward = obs.transpose(0, 1), action.transpose(0, 1), reward.transpose(0, 1)
        next_obs, terminated, mask = next_obs.transpose(0, 1), terminated.transpose(0, 1), mask.transpose(0, 1)
        weights = losses.step_weights(mask, config.rho)
        picks = pick_draws.argsort(dim=1)[:, :2]
        consistency, reward_loss, value_loss, termination, model_loss, z_inputs = self._model_losses_fn(
            obs, action, reward, next_obs, terminated, mask, weights, noise[0], picks[0], model_dropout
        )
        model_refused = ~torch.isfinite(torch.stack([consistency, reward_loss, value_loss, termination])).all()
        self.model_optimizer.zero_grad(set_to_none=True)
        model_loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self._model_params, config.grad_clip_norm)
        gated_step(self.model_optimizer, model_refused)

        latents = z_inputs.detach()
        for p in self._q_params:
            p.requires_grad_(False)
        try:
            policy_loss, q_scale, entropy = self._policy_loss_fn(latents, weights, noise[1], picks[1], policy_dropout)
            self.policy_optimizer.zero_grad(set_to_none=True)
            policy_loss.backward()
        finally:
            for p in self._q_params:
                p.requires_grad_(True)
        refused = model_refused | ~torch.isfinite(policy_loss)
        gated_step(self.policy_optimizer, refused)
        with torch.no_grad():
            self.q_scale.copy_(torch.where(model_refused, self.q_scale, q_scale))
        gated_lerp_(self._q_target_params, self._q_params, config.tau, refused)
        return torch.stack([consistency, reward_loss, value_loss, termination, model_loss, policy_loss, grad_norm,
                            self.q_scale, entropy]).detach()  # fmt: skip

    def _policy_loss(self, latents, weights, noise, pick, dropout=None):
        """The policy prior's loss on detached latents (H, B, L), to maximise Q (scaled by its
        running range) plus entropy while the Q-functions are frozen; the new Q scale it divides by
        (an average, rate tau, of the 5th-95th percentile range of Q over the batch, at least 1) and
        the mean scaled entropy. ``dropout``: the Q-functions' dropout draws (None: drawn here)."""
        config, model = self.config, self.model
        pi_action, scaled_entropy = model.sample_policy(latents, noise)
        q = model.q_values(latents, pi_action, uniform=dropout)[pick].mean(dim=0)  # (H, B)
        low, high = losses.quantiles(q.detach()[0].float(), self._quantile_points)
        q_scale = torch.lerp(self.q_scale, (high - low).clamp(min=1.0), config.tau)
        policy_loss = losses.policy_loss(q / q_scale, scaled_entropy, weights, config.entropy_coef)
        return policy_loss, q_scale, scaled_entropy.mean()

    def _model_losses(self, obs, action, reward, next_obs, terminated, mask, weights, noise, pick, dropout=None):
        """The world model's losses on (H, B, ...) time-major subsequences, their weighted sum and
        the latents z_0..z_{H-1} the policy step reads; what ``compile_update`` compiles.
        ``dropout``: the Q-functions' dropout draws (None: drawn from the agent's generator)."""
        config, model = self.config, self.model
        horizon = reward.shape[0]
        with torch.no_grad():
            next_z = model.encode(next_obs)  # (H, B, L)
            next_action, _ = model.sample_policy(next_z, noise)
            next_q = model.q_values(next_z, next_action, target=True)[pick].min(dim=0).values
            target = losses.td_target(reward, terminated, next_q, config.discount)

        z = model.encode(obs[0])
        starts = [z]  # z_0 .. z_{H-1}: where each step's reward and value are predicted
        rolled = []  # z_1 .. z_H
        for t in range(horizon):
            z = model.next(z, action[t])
            rolled.append(z)
            if t < horizon - 1:
                starts.append(z)
        zs, z_inputs = torch.stack(rolled), torch.stack(starts)
        consistency = losses.consistency_loss(zs, next_z, weights)
        reward_loss = losses.reward_loss(model.reward_logits(z_inputs, action), reward, weights, config.vmin,
                                         config.vmax)  # fmt: skip
        value_loss = losses.value_loss(model.q_logits(z_inputs, action, uniform=dropout), target, weights, config.vmin,
                                       config.vmax)  # fmt: skip
        if config.episodic:
            termination = losses.termination_loss(model.termination_logit(zs), terminated, mask)
        else:
            termination = torch.zeros((), device=self.device)
        model_loss = (config.consistency_coef * consistency + config.reward_coef * reward_loss
                      + config.value_coef * value_loss + config.termination_coef * termination)  # fmt: skip
        return consistency, reward_loss, value_loss, termination, model_loss, z_inputs

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = dict(self.model.state_dict())
        state["q_scale"] = self.q_scale.detach().clone()  # a copy: graph_update moves q_scale in place
        return state

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        state = dict(state_dict)
        q_scale = state.pop("q_scale")
        self.model.load_state_dict(state)  # in place: a recorded update graph stays valid
        if self._update_graph is not None:
            self.q_scale.copy_(q_scale)
        else:
            self.q_scale = q_scale.to(self.device).clone()

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model_optimizer": self.model_optimizer, "policy_optimizer": self.policy_optimizer}

    def _networks(self) -> list[torch.nn.Module]:
        return [self.model]

    def training_state(self) -> dict:
        return {
            **super().training_state(),
            "plans": self._plans.cpu(),
            "fresh": self._fresh.cpu(),
            "streams": [g.get_state() for g in self._streams],
        }

    def load_training_state(self, state: dict) -> None:
        super().load_training_state(state)
        if self._update_graph is not None:  # the optimizers' states are new tensors: record anew
            self._update_graph.reset()
        self._plans = state["plans"].to(self.device)
        self._fresh = state["fresh"].to(self.device)
        self._streams = [self._stream(i) for i in range(len(state["streams"]))]
        for generator, saved in zip(self._streams, state["streams"]):
            generator.set_state(saved.to("cpu"))
