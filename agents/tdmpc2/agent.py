"""The TD-MPC2 agent: batched planning (or policy-prior acting), one update step, weights and state.

``act`` encodes a batch of observations and plans for all of its games at once
(``agents.tdmpc2.planner``), keeping per game the previous plan (warm start) and a generator;
``reset(mask)`` marks games that start anew. ``update`` takes a batch of subsequences of
``horizon`` transitions (``ReplayBuffer.sample_sequences``) and performs the official update:
world model (consistency, reward, value, termination losses; one optimiser, encoder at a lower
step size, gradient clipping), then the policy prior against the Q-functions (its own optimiser,
Q scaled by a running percentile range), then the Polyak update of the target Q-functions.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import AgentSpec, Learner
from agents.common.buffer import Batch
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
        self.model_optimizer = torch.optim.Adam(model_groups, lr=config.lr, fused=fused)
        self.policy_optimizer = torch.optim.Adam(model.policy.parameters(), lr=config.lr, eps=1e-5, fused=fused)
        self.q_scale = torch.ones((), device=self.device)  # running 5th-95th percentile range of Q
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
        self._graphed_plan = config.compile and config.compile_mode == "reduce-overhead"
        self._model_losses_fn = self._model_losses
        if config.compile_update:
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
    def update(self, batch: Batch) -> dict[str, float]:
        """One update from (B, H, ...) subsequences; returns the losses and diagnostics.

        Raises:
            FloatingPointError: a loss is not finite; no step is applied.
        """
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
            pi_action, scaled_entropy = model.sample_policy(latents, noise[1])
            q = model.q_values(latents, pi_action)[picks[1]].mean(dim=0)  # (H, B)
            self._update_scale(q.detach()[0])
            policy_loss = losses.policy_loss(q / self.q_scale, scaled_entropy, weights, config.entropy_coef)
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
                              grad_norm, self.q_scale, scaled_entropy.mean()]).detach()  # fmt: skip
        return dict(zip(_METRICS, values.tolist()))

    def _model_losses(self, obs, action, reward, next_obs, terminated, mask, weights, noise, pick):
        """The world model's losses on (H, B, ...) time-major subsequences, their weighted sum and
        the latents z_0..z_{H-1} the policy step reads; what ``compile_update`` compiles."""
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
        value_loss = losses.value_loss(model.q_logits(z_inputs, action), target, weights, config.vmin, config.vmax)
        if config.episodic:
            termination = losses.termination_loss(model.termination_logit(zs), terminated, mask)
        else:
            termination = torch.zeros((), device=self.device)
        model_loss = (config.consistency_coef * consistency + config.reward_coef * reward_loss
                      + config.value_coef * value_loss + config.termination_coef * termination)  # fmt: skip
        return consistency, reward_loss, value_loss, termination, model_loss, z_inputs

    def _update_scale(self, q: torch.Tensor) -> None:
        """EMA (rate tau) of the 5th-95th percentile range of Q over the batch, at least 1."""
        low, high = torch.quantile(q.float(), torch.tensor([0.05, 0.95], device=q.device))
        self.q_scale = torch.lerp(self.q_scale, (high - low).clamp(min=1.0), self.config.tau)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = dict(self.model.state_dict())
        state["q_scale"] = self.q_scale.detach()
        return state

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        state = dict(state_dict)
        q_scale = state.pop("q_scale")
        self.model.load_state_dict(state)
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
        self._plans = state["plans"].to(self.device)
        self._fresh = state["fresh"].to(self.device)
        self._streams = [self._stream(i) for i in range(len(state["streams"]))]
        for generator, saved in zip(self._streams, state["streams"]):
            generator.set_state(saved.to("cpu"))
