"""The MuZero agent: batched search for acting, K-step unrolled training, weights and state.

``act`` runs one batched search (``agents.muzero.mcts``) for every game and returns the
continuous hockey action of each chosen move; the search's policy and the move's index are kept
for the replay buffer (``buffer_extras`` / ``last_extras``). ``update`` takes sequences of
unroll_steps + td_steps transitions: value targets are n-step returns bootstrapped from a
target network's values, the dynamics are unrolled K steps with the actions taken (gradients
into the hidden state halved at each step, as in MuZero), and the losses on value, reward and
policy (plus an optional consistency loss) are weighted by prioritized replay's importance
weights; the new priorities are the root value errors.

With ``search="maxmin"`` the model is opponent-aware: the dynamics also take the opponent's
continuous action (stored by the trainer as the ``opponent_action`` extra; per decision, its mean
over the held frames), and moves are chosen by one-decision max-min (``agents.muzero.maxmin``).

With ``action_repeat`` k > 1 each game holds its move for k frames and searches only when the
hold runs out; the buffer marks those decision frames, and ``update`` folds each decision's k
frames into one step of the model (``losses.decision_steps``).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from agents.base import OPPONENT_ACTION, AgentSpec, Learner
from agents.common.buffer import Batch
from agents.common.distributional import support_to_scalar
from agents.muzero import losses
from agents.muzero.config import MuZeroConfig
from agents.muzero.maxmin import maxmin_search
from agents.muzero.mcts import search
from agents.muzero.networks import MuZeroNetwork
from arena.actions import action_set

_METRICS = ("loss", "value_loss", "reward_loss", "policy_loss", "entropy", "consistency_loss", "opponent_loss",
            "value_error", "grad_norm")  # fmt: skip


class MuZeroAgent(Learner):
    """MuZero over a discrete action set of the hockey game.

    Args:
        config: hyperparameters (MuZeroConfig).
        spec: observation and action sizes (actions are the 4 continuous controls the moves map to).
        seed: seeds the weights and the per-game search generators.
    """

    name = "muzero"

    def __init__(self, config: MuZeroConfig = MuZeroConfig(), spec: AgentSpec = AgentSpec(), seed: int = 0):
        self.actions = action_set(config.actions)
        if self.actions.table.shape[1] != spec.action_dim:
            raise ValueError(f"muzero: the {config.actions} moves have {self.actions.table.shape[1]} controls, "
                             f"the spec {spec.action_dim}")  # fmt: skip
        self._start(config, spec, seed, generator=False)  # its sampling draws from NumPy generators
        with self._seeded():
            self.opponent_aware = config.search == "maxmin"
            opponent_dim = spec.action_dim if self.opponent_aware else 0
            self.network = MuZeroNetwork(config, spec.obs_dim, opponent_dim).to(self.device)
            self.projection = None
            if config.consistency_coef > 0:  # SimSiam heads (EfficientZero): projector, then predictor
                latent = config.latent_dim
                projector = nn.Sequential(nn.Linear(latent, 256), nn.LayerNorm(256), nn.ReLU(), nn.Linear(256, 256))
                predictor = nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 256))
                self.projection = nn.ModuleDict({"projector": projector, "predictor": predictor}).to(self.device)
        self.target_network = copy.deepcopy(self.network).requires_grad_(False)
        parameters = list(self.network.parameters()) + (list(self.projection.parameters()) if self.projection else [])
        self._parameters = parameters
        fused = self.device.type in ("cpu", "cuda")  # one kernel for all parameters, as SAC and TD-MPC2
        self.optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
        self.update_rng = np.random.default_rng([seed, 23])
        self.last_priorities: np.ndarray | None = None
        self._streams: list[np.random.Generator] = []
        self._hold = np.zeros(0, dtype=np.int64)  # frames each game's move is still held for
        self._held_move = np.zeros(0, dtype=np.int64)
        self._held_policy = np.zeros((0, config.num_actions), dtype=np.float32)
        self._last: dict[str, np.ndarray] | None = None
        # max-min's candidate opponent actions: the same moves, each in the opponent's own view
        self._opponent_moves = torch.tensor(self.actions.table, device=self.device)

    # ------------------------------------------------------------------ what the trainer reads
    @property
    def sequence_length(self) -> int:
        """Frames per sampled sequence: K + n decisions, and room to reach the first decision."""
        repeat = self.config.action_repeat
        decisions = self.config.unroll_steps + self.config.td_steps
        return decisions if repeat == 1 else decisions * repeat + repeat - 1

    @property
    def buffer_extras(self) -> dict[str, tuple[int, ...]]:
        extras = {"policy": (self.config.num_actions,), "action_index": ()}
        if self.config.action_repeat > 1:
            extras["decision"] = ()  # 1.0 on the frames where a move was chosen
        if self.opponent_aware:
            extras[OPPONENT_ACTION] = (self.spec.action_dim,)  # filled by the trainer
        return extras

    @property
    def prioritized(self) -> bool:
        return self.config.prioritized

    @property
    def sampling(self) -> dict:
        if not self.config.prioritized:
            return {}
        return {"alpha": self.config.priority_alpha, "beta": self.config.priority_beta}

    def last_extras(self) -> dict[str, np.ndarray] | None:
        """The search policy and move index of each game's last action (for the replay buffer)."""
        return self._last

    # ------------------------------------------------------------------ acting
    def _stream(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 31, index])

    def _ensure_games(self, size: int) -> None:
        """Per-game generators and held moves for a batch of ``size`` games (all start anew on a resize)."""
        if len(self._streams) != size:
            self._streams = [self._stream(i) for i in range(size)]
        if self._hold.shape[0] != size:
            self._hold = np.zeros(size, dtype=np.int64)
            self._held_move = np.zeros(size, dtype=np.int64)
            self._held_policy = np.zeros((size, self.config.num_actions), dtype=np.float32)

    def reset(self, mask) -> None:
        """The games where ``mask`` is True start anew: they choose a move at their next frame."""
        mask = np.asarray(mask, dtype=bool)
        self._ensure_games(len(mask))
        self._hold[mask] = 0

    def _play(self, choose) -> np.ndarray:
        """Continuous actions of the held moves; ``choose(rows)`` gives (moves, policies) for the
        games whose hold ran out."""
        decide = self._hold == 0
        if decide.any():
            rows = np.flatnonzero(decide)
            self._held_move[rows], self._held_policy[rows] = choose(rows)
            self._hold[rows] = self.config.action_repeat
        self._hold -= 1
        self._last = {"policy": self._held_policy.copy(), "action_index": self._held_move.astype(np.float32)}
        if self.config.action_repeat > 1:
            self._last["decision"] = decide.astype(np.float32)
        return self.actions.to_continuous(self._held_move.copy())

    def random_act(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random moves (warm-up data), with a uniform policy as their search target."""
        self._ensure_games(n)
        uniform = np.full(self.config.num_actions, 1.0 / self.config.num_actions, dtype=np.float32)
        return self._play(lambda rows: (rng.integers(0, self.config.num_actions, size=rows.size), uniform))

    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        """Actions (B, 4) for observations (B, 18): one batched search for the games choosing a move."""
        obs = np.asarray(obs, dtype=np.float32)
        self._ensure_games(obs.shape[0])

        def choose(rows: np.ndarray):
            x = torch.as_tensor(obs[rows], device=self.device)
            was_training = self.network.training
            self.network.eval()
            try:
                streams = [self._streams[i] for i in rows]
                if self.opponent_aware:
                    result = maxmin_search(self.network, x, self._opponent_moves, streams, self.config, explore)
                else:
                    result = search(self.network, x, streams, self.config, explore)
            finally:
                self.network.train(was_training)
            return result.action, result.policy

        return self._play(choose)

    # ------------------------------------------------------------------ learning
    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step from (B, K + n) sequences; sets ``last_priorities``.

        Raises:
            FloatingPointError: the loss is not finite; no step is applied.
        """
        config, network = self.config, self.network
        steps = self._decisions(batch)
        positions = config.unroll_steps + 1  # the root and the K unrolled states
        support = (config.support_size, config.support_step)
        obs, moves = steps["obs"], steps["action_index"].long()
        policy_target = steps["policy"][:, :positions]
        if config.reanalyze_ratio > 0:
            policy_target = self._reanalyse(obs[:, :positions], policy_target)
        with torch.no_grad():
            bootstrap = self._bootstrap(steps, positions)
            value_target = losses.n_step_targets(steps["reward"], steps["done"], steps["terminated"], bootstrap,
                                                 config.decision_discount, config.td_steps, positions)  # fmt: skip
        mask = steps["mask"]
        if self.projection is not None:  # the consistency targets: the encodings of the real states 1..K
            with torch.no_grad():
                encoded = self.target_network.initial(obs[:, 1:positions].flatten(0, 1))[0]
                consistency_targets = self.projection["projector"](encoded).unflatten(0, (len(obs), positions - 1))
        state, policy_logits, value_logits = network.initial(obs[:, 0])
        root_value = support_to_scalar(value_logits.detach(), *support)
        value_loss = losses.support_loss(value_logits, value_target[:, 0], *support)
        policy_loss = losses.policy_loss(policy_logits, policy_target[:, 0])
        entropy = losses.entropy(policy_logits)
        reward_loss = torch.zeros_like(value_loss)
        consistency = torch.zeros_like(value_loss)
        opponent_loss = torch.zeros_like(value_loss)
        predicts_opponent = network.opponent_head is not None
        if predicts_opponent:
            opponent_moves = self._nearest_moves(steps[OPPONENT_ACTION])
            opponent_loss = mask[:, 0] * functional.cross_entropy(network.opponent_logits(state), opponent_moves[:, 0],
                                                                  reduction="none")  # fmt: skip
        for k in range(1, positions):
            state = 0.5 * state + 0.5 * state.detach()  # MuZero: halve the gradient flowing back in time
            opponent = steps[OPPONENT_ACTION][:, k - 1] if self.opponent_aware else None
            state, reward_logits, policy_logits, value_logits = network.recurrent(state, moves[:, k - 1], opponent)
            inside = mask[:, k]  # state k is a state of the sampled episode
            reward_loss = reward_loss + mask[:, k - 1] * losses.support_loss(reward_logits, steps["reward"][:, k - 1],
                                                                             *support)  # fmt: skip
            value_loss = value_loss + inside * losses.support_loss(value_logits, value_target[:, k], *support)
            policy_loss = policy_loss + inside * losses.policy_loss(policy_logits, policy_target[:, k])
            entropy = entropy + inside * losses.entropy(policy_logits)
            if predicts_opponent:  # the move the opponent plays at decision k
                opponent_loss = opponent_loss + inside * functional.cross_entropy(
                    network.opponent_logits(state), opponent_moves[:, k], reduction="none")  # fmt: skip
            if self.projection is not None:
                predicted = self.projection["predictor"](self.projection["projector"](state))
                consistency = consistency + inside * losses.consistency_loss(predicted, consistency_targets[:, k - 1])
        per_sample = (config.value_coef * value_loss + config.reward_coef * reward_loss
                      + config.policy_coef * policy_loss - config.entropy_coef * entropy
                      + config.consistency_coef * consistency
                      + config.opponent_coef * opponent_loss) / positions  # fmt: skip
        weights = batch.weights if batch.weights is not None else torch.ones_like(per_sample)
        loss = (weights * per_sample).mean()
        self.refuse_non_finite(loss=loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self._parameters, config.grad_clip_norm)
        self.optimizer.step()
        self.updates += 1
        if self.updates % config.target_update_every == 0:
            self.target_network.load_state_dict(network.state_dict())
        error = (root_value - value_target[:, 0]).abs()
        self.last_priorities = (error + 1e-6).cpu().numpy() if config.prioritized else None
        values = torch.stack([loss, value_loss.mean(), reward_loss.mean(), policy_loss.mean(), entropy.mean(),
                              consistency.mean(), opponent_loss.mean(), error.mean(), grad_norm]).detach()  # fmt: skip
        return dict(zip(_METRICS, values.tolist()))

    def _nearest_moves(self, actions: torch.Tensor) -> torch.Tensor:
        """(..., 4) continuous opponent actions -> (...) index of the nearest move (Euclidean)."""
        distances = ((actions[..., None, :] - self._opponent_moves.to(actions.dtype)) ** 2).sum(-1)
        return distances.argmin(-1)

    def _bootstrap(self, steps: dict[str, torch.Tensor], positions: int) -> torch.Tensor:
        """(B, L) target-network values of the states after the transitions that the n-step targets
        read (the n-th of each target, and time-outs inside the window); 0 elsewhere. Those are about
        half of the states, so the target network's pass costs about half of a pass over all."""
        done, terminated = steps["done"], steps["terminated"]
        needed = (done > 0) & (terminated == 0)
        last = self.config.td_steps - 1
        needed[:, last : last + positions] = True
        _, _, values = self.target_network.initial(steps["next_obs"][needed])
        bootstrap = torch.zeros_like(done)
        bootstrap[needed] = support_to_scalar(values, self.config.support_size, self.config.support_step)
        return bootstrap

    def _decisions(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The sampled sequences as (B, K + n) decisions: per frame when every move is played once,
        otherwise each decision's k held frames folded into one step (``losses.decision_steps``)."""
        repeat = self.config.action_repeat
        if repeat == 1:
            mask = batch.mask if batch.mask is not None else torch.ones_like(batch.reward)
            steps = {"obs": batch.obs, "next_obs": batch.next_obs, "reward": batch.reward, "done": batch.done,
                     "terminated": batch.terminated, "policy": batch.extras["policy"],
                     "action_index": batch.extras["action_index"], "mask": mask}  # fmt: skip
            if self.opponent_aware:
                steps[OPPONENT_ACTION] = batch.extras[OPPONENT_ACTION]
            return steps
        decisions = self.config.unroll_steps + self.config.td_steps
        steps = losses.decision_steps(batch.reward, batch.done, batch.terminated, batch.extras["decision"], repeat,
                                      self.config.discount, decisions)  # fmt: skip

        def at(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return x[torch.arange(x.shape[0], device=x.device)[:, None], index]

        decided = {
            "obs": at(batch.obs, steps["first"]),
            "next_obs": at(batch.next_obs, steps["last"]),
            "policy": at(batch.extras["policy"], steps["first"]),
            "action_index": at(batch.extras["action_index"], steps["first"]),
            **{name: steps[name] for name in ("reward", "done", "terminated", "mask")},
        }
        if self.opponent_aware:  # the opponent's mean action over the decision's frames (to the episode's end)
            held = steps["first"][..., None] + torch.arange(repeat, device=batch.reward.device)
            inside = (held <= steps["last"][..., None]).to(batch.reward.dtype)
            frames = at(batch.extras[OPPONENT_ACTION], held.clamp(max=batch.reward.shape[1] - 1).flatten(1))
            frames = frames.view(*held.shape, -1)
            decided[OPPONENT_ACTION] = (frames * inside[..., None]).sum(2) / inside.sum(2, keepdim=True)
        return decided

    def _reanalyse(self, obs: torch.Tensor, stored: torch.Tensor) -> torch.Tensor:
        """Replace the policy targets of a share of the batch by fresh searches with the current
        network (MuZero Reanalyse), at every unrolled position."""
        size, positions = obs.shape[:2]
        chosen = np.flatnonzero(self.update_rng.random(size) < self.config.reanalyze_ratio)
        if chosen.size == 0:
            return stored
        roots = obs[torch.as_tensor(chosen, device=obs.device)].reshape(chosen.size * positions, -1)
        streams = [np.random.default_rng(seed) for seed in self.update_rng.integers(0, 2**63, size=roots.shape[0])]
        self.network.eval()
        try:
            result = search(self.network, roots, streams, self.config, explore=True)
        finally:
            self.network.train()
        fresh = torch.as_tensor(result.policy, dtype=stored.dtype, device=stored.device)
        out = stored.clone()
        out[torch.as_tensor(chosen, device=stored.device)] = fresh.view(chosen.size, positions, -1)
        return out

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"network.{k}": v for k, v in self.network.state_dict().items()}
        state.update({f"target.{k}": v for k, v in self.target_network.state_dict().items()})
        if self.projection is not None:
            state.update({f"projection.{k}": v for k, v in self.projection.state_dict().items()})
        return state

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        parts: dict[str, dict] = {"network": {}, "target": {}, "projection": {}}
        for key, value in state_dict.items():
            head, _, rest = key.partition(".")
            if head not in parts:
                raise KeyError(f"unexpected muzero weight {key!r}")
            parts[head][rest] = value
        self.network.load_state_dict(parts["network"])
        self.target_network.load_state_dict(parts["target"])
        if self.projection is not None:
            self.projection.load_state_dict(parts["projection"])
        elif parts["projection"]:
            raise KeyError("checkpoint has consistency projection weights; this config has consistency_coef 0")

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def _networks(self) -> list[nn.Module]:
        return [self.network]

    def training_state(self) -> dict:
        return {
            **super().training_state(),
            "update_rng": self.update_rng.bit_generator.state,
            "streams": [g.bit_generator.state for g in self._streams],
            "held": {
                "hold": torch.from_numpy(self._hold.copy()),
                "move": torch.from_numpy(self._held_move.copy()),
                "policy": torch.from_numpy(self._held_policy.copy()),
            },  # fmt: skip
        }

    def load_training_state(self, state: dict) -> None:
        super().load_training_state(state)
        self.update_rng.bit_generator.state = state["update_rng"]
        self._streams = [self._stream(i) for i in range(len(state["streams"]))]
        for generator, saved in zip(self._streams, state["streams"]):
            generator.bit_generator.state = saved
        held = state.get("held")  # absent in checkpoints from before action_repeat: nothing was held
        if held is not None:
            self._hold, self._held_move = held["hold"].numpy().copy(), held["move"].numpy().copy()
            self._held_policy = held["policy"].numpy().copy()
