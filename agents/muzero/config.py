"""MuZero's hyperparameters for vector observations and discrete hockey actions.

Defaults follow LightZero's MuZero (shared/design/agents.md, section 2a): 50 simulations, 5 TD
steps, 5 unroll steps, Dirichlet 0.3 / 0.25 at the root, pUCT constants 1.25 / 19652, value
loss weight 0.25, policy entropy 5e-3, a target network copied every 100 updates, prioritized
replay with alpha 0.6 / beta 0.4, replay ratio 0.25 (the trainer's updates_per_step). Hockey's
values: discount 0.99 per frame (the tournament winner used 0.975 per decision with every decision
held for 2 frames, about 0.987 per frame, and found 0.997 did not work), the 25-move action set,
a support of -15..15 after the value transform (values up to about +-250).
"""

from __future__ import annotations

from dataclasses import dataclass

from arena.actions import ACTION_SETS


@dataclass(frozen=True)
class MuZeroConfig:
    actions: str = "moves-25"
    """Discrete action set: moves-25 (8 directions x 3 turns + shoot in place), moves-49 (those
    24 moves, each also with the shoot entry set, + shoot in place) or original-8."""
    latent_dim: int = 128
    """Size of the hidden state."""
    hidden_dim: int = 256
    """Width of the residual blocks."""
    blocks: int = 2
    """Residual blocks in the representation and dynamics networks."""
    support_size: int = 15
    """Values and rewards are categorical over the points support_step * (-S..S) after the value
    transform h."""
    support_step: float = 1.0
    """Spacing of the support points in h-space. MuZero's 1 resolves values up to about +-250;
    hockey's values stay within about +-20 (h = +-3.6), so 0.25 covers them with 4 times finer bins."""

    search: str = "mcts"
    """How moves are chosen: "mcts" (MuZero's tree search over the agent's own moves; the model
    averages over what opponents do) or "maxmin" (the hockey tournament winners' planner: the
    dynamics also take the opponent's action, and each move is scored by its worst outcome over
    the opponent's moves one decision ahead, r + discount * V; shared/design/agents.md 2c, 4)."""
    opponent_reply: str = "worst"
    """With search="maxmin", how a move is scored from its values against the opponent's moves:
    "worst" (their minimum, the tournament winners' rule, sound in self-play) or "predicted"
    (their mean under a learned opponent policy: a head that predicts which of the moves,
    nearest to its actual action, the opponent plays; for fixed, non-adversarial opponents)."""
    opponent_coef: float = 1.0
    """Weight of the opponent-policy loss (opponent_reply="predicted")."""
    maxmin_epsilon: float = 0.2
    """With search="maxmin", the chance of a uniformly random move when exploring (the
    tournament winner's 0.2)."""
    num_simulations: int = 50
    """Simulations per search."""
    gumbel: bool = False
    """Gumbel MuZero root search (Danihelka et al. 2022): sequential halving over sampled actions,
    a policy improvement target; sound with few simulations."""
    max_considered_actions: int = 16
    """Actions sampled at the root with gumbel=True."""
    dirichlet_alpha: float = 0.3
    """Root noise concentration (pUCT search, when exploring)."""
    dirichlet_weight: float = 0.25
    """Share of root noise in the root prior."""
    pb_c_init: float = 1.25
    """pUCT exploration constant c1."""
    pb_c_base: float = 19652.0
    """pUCT exploration constant c2."""
    temperature: float = 1.0
    """Visit-count temperature when exploring (acting greedily otherwise)."""

    action_repeat: int = 1
    """Frames each move is held for (a decision every k frames, as the tournament winner's frame
    skip). The model and the search then step k frames at a time: rewards summed with discount,
    discount^k per decision. One frame of a different move barely changes a hockey state, so
    holding moves makes the values of moves differ by more than their noise."""
    discount: float = 0.99
    """Discount factor per frame (50 per second): 0.99 looks about 2 s ahead, the time a shot
    takes to cross the rink. At 0.975 per frame a goal 100 frames away is worth 8% of its reward
    and the closeness-to-puck shaping, paid every frame, weighs relatively more."""
    td_steps: int = 5
    """n of the n-step value targets, in decisions."""
    unroll_steps: int = 5
    """K: decisions the dynamics are unrolled in training."""
    batch_size: int = 256
    """Sequences per update."""
    lr: float = 3e-4
    """Adam step size."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    grad_clip_norm: float = 10.0
    """Gradient norm clip."""
    value_coef: float = 0.25
    """Weight of the value loss."""
    reward_coef: float = 1.0
    """Weight of the reward loss."""
    policy_coef: float = 1.0
    """Weight of the policy loss."""
    entropy_coef: float = 5e-3
    """Weight of the policy entropy bonus."""
    consistency_coef: float = 0.0
    """Weight of the self-supervised consistency loss (EfficientZero's SimSiam; 0: off)."""
    target_update_every: int = 100
    """Updates between copies of the network into the target network (used for value bootstraps)."""
    prioritized: bool = True
    """Prioritized replay of sequence starts by their value error."""
    priority_alpha: float = 0.6
    """Priority exponent."""
    priority_beta: float = 0.4
    """Importance-weight exponent."""
    reanalyze_ratio: float = 0.0
    """Share of each batch whose root policy targets are recomputed by searching with the
    current network (MuZero Reanalyse); 0 keeps the policies stored at collection."""
    device: str = "auto"
    """auto (cuda if available, else cpu), cpu, cuda or cuda:N."""

    @property
    def num_actions(self) -> int:
        return len(ACTION_SETS[self.actions])

    @property
    def decision_discount(self) -> float:
        """Discount from one decision to the next: discount per frame ** action_repeat."""
        return self.discount**self.action_repeat

    def __post_init__(self):
        def fail(message: str) -> None:
            raise ValueError(f"muzero config: {message}")

        if self.actions not in ACTION_SETS:
            fail(f"actions must be one of {', '.join(ACTION_SETS)}, got {self.actions!r}")
        if min(self.latent_dim, self.hidden_dim, self.support_size, self.num_simulations) < 1 or self.blocks < 0:
            fail("latent_dim, hidden_dim, support_size and num_simulations must be positive, blocks >= 0")
        if not self.support_step > 0:
            fail(f"support_step must be positive, got {self.support_step}")
        if self.gumbel and not 2 <= self.max_considered_actions <= self.num_actions:
            fail(f"max_considered_actions must lie in [2, {self.num_actions}], got {self.max_considered_actions}")
        if not 0 <= self.dirichlet_weight <= 1 or self.dirichlet_alpha <= 0:
            fail("need dirichlet_alpha > 0 and dirichlet_weight in [0, 1]")
        if not 0 <= self.discount <= 1 or self.td_steps < 1 or self.unroll_steps < 1 or self.action_repeat < 1:
            fail("need discount in [0, 1], td_steps >= 1, unroll_steps >= 1 and action_repeat >= 1")
        if self.temperature <= 0 or self.lr <= 0 or self.batch_size < 1 or self.target_update_every < 1:
            fail("temperature, lr, batch_size and target_update_every must be positive")
        if self.search not in ("mcts", "maxmin"):
            fail(f"search must be mcts or maxmin, got {self.search!r}")
        if self.search == "maxmin" and self.reanalyze_ratio > 0:
            fail("reanalyze_ratio re-runs the tree search; it needs search=mcts")
        if self.opponent_reply not in ("worst", "predicted"):
            fail(f"opponent_reply must be worst or predicted, got {self.opponent_reply!r}")
        if not 0 <= self.maxmin_epsilon <= 1:
            fail(f"maxmin_epsilon must lie in [0, 1], got {self.maxmin_epsilon}")
        if not 0 <= self.reanalyze_ratio <= 1:
            fail(f"reanalyze_ratio must lie in [0, 1], got {self.reanalyze_ratio}")
        if not 0 <= self.priority_alpha <= 1 or not 0 <= self.priority_beta <= 1:
            fail("priority_alpha and priority_beta must lie in [0, 1]")
