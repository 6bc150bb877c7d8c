"""TD-MPC2's hyperparameters, with presets for the official model sizes.

Defaults follow the official implementation (shared/design/agents.md, section 1), with the
hockey-specific values derived there: discount 0.98 (episodes of 250 steps), episodic mode
with a termination head (goals end episodes), rho 0.7 as in the official episodic wrappers.
Two defaults are lighter, to be usable on a CPU: the "cpu" model size (128-wide, 2 Q-functions;
the official sizes are presets: 1M, 5M, 19M, 48M, 317M) and the planner's population (128
sequences, 16 elites, 8 from the policy, 4 iterations; the official values are in each field's
docstring). ``model_size`` picks the network sizes; a size field set explicitly overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")

# enc_dim, mlp_dim, latent_dim, num_enc_layers, num_q (official common/__init__.py MODEL_SIZE, plus "cpu")
MODEL_SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "cpu": (128, 128, 64, 2, 2),
    "1M": (256, 384, 128, 2, 2),
    "5M": (256, 512, 512, 2, 5),
    "19M": (1024, 1024, 768, 3, 5),
    "48M": (1792, 1792, 768, 4, 5),
    "317M": (4096, 4096, 1376, 5, 8),
}


@dataclass(frozen=True)
class TDMPC2Config:
    model_size: str = "cpu"
    """Network size preset: cpu, 1M, 5M, 19M, 48M or 317M (the official sizes)."""
    enc_dim: int | None = None
    """Encoder hidden width (None: from model_size)."""
    mlp_dim: int | None = None
    """Hidden width of the dynamics, reward, termination, policy and Q networks (None: preset)."""
    latent_dim: int | None = None
    """Latent state size; must be a multiple of simnorm_dim (None: preset)."""
    num_enc_layers: int | None = None
    """Encoder layers (None: preset)."""
    num_q: int | None = None
    """Q-functions in the ensemble (None: preset); targets use the minimum of 2 drawn from them."""
    simnorm_dim: int = 8
    """Group size of the simplicial normalisation of the latent (softmax per group)."""
    dropout: float = 0.01
    """Dropout in the first layer of each Q-function."""
    num_bins: int = 101
    """Bins of the two-hot reward and value distributions."""
    vmin: float = -10.0
    """Lowest bin, in symlog space."""
    vmax: float = 10.0
    """Highest bin, in symlog space."""

    mpc: bool = True
    """Plan with MPPI when acting; False acts from the policy prior (fast collection/evaluation)."""
    horizon: int = 3
    """Planning horizon, also the length of the training subsequences."""
    iterations: int = 4
    """MPPI iterations per action (official: 6)."""
    num_samples: int = 128
    """Action sequences per game and iteration, the policy's num_pi_trajs included (official: 512)."""
    num_elites: int = 16
    """Best sequences the sampling distribution is refit to (official: 64)."""
    num_pi_trajs: int = 8
    """Of those, sequences proposed by rolling out the policy prior (official: 24)."""
    temperature: float = 0.5
    """MPPI temperature of the elite weights exp(temperature * (value - max value))."""
    min_std: float = 0.05
    """Smallest standard deviation of the sampling distribution."""
    max_std: float = 2.0
    """Initial standard deviation of the sampling distribution."""

    batch_size: int = 256
    """Subsequences (of horizon + 1 observations) per update."""
    lr: float = 3e-4
    """Adam step size."""
    enc_lr_scale: float = 0.3
    """The encoder's step size relative to lr."""
    grad_clip_norm: float = 20.0
    """Gradient norm clip of the world model."""
    rho: float = 0.7
    """Weight decay over the horizon of the per-step losses (rho^t)."""
    tau: float = 0.01
    """Polyak rate of the target Q-functions."""
    discount: float = 0.98
    """Discount factor ((250/5 - 1)/(250/5) for hockey's 250-step episodes)."""
    consistency_coef: float = 20.0
    """Weight of the latent consistency loss."""
    reward_coef: float = 0.1
    """Weight of the reward loss."""
    value_coef: float = 0.1
    """Weight of the value (Q) loss."""
    termination_coef: float = 1.0
    """Weight of the termination loss (episodic mode)."""
    entropy_coef: float = 1e-4
    """Weight of the policy's entropy bonus."""
    log_std_min: float = -10.0
    """Lower bound of the policy's log standard deviation."""
    log_std_max: float = 2.0
    """Upper bound of the policy's log standard deviation."""
    episodic: bool = True
    """Learn a termination head and stop value rollouts at predicted episode ends."""
    compile: bool = False
    """torch.compile the planner (the first call per number of games compiles for a minute or two)."""
    compile_update: bool = False
    """torch.compile the world-model losses of the update, forward and backward (the bulk of an
    update; the policy step and the optimizers stay eager)."""
    compile_mode: str = "default"
    """With compile or compile_update: torch.compile's mode. "default", "reduce-overhead" (CUDA
    graphs: CUDA only) or "max-autotune"."""
    graph_update: bool = False
    """Run the whole update (world-model losses, backward, gradient clipping, both Adam steps, the
    policy loss, the Q-scale average, the target update) as one function that never waits for the
    device; on CUDA it is recorded as one CUDA graph after 3 eager updates and replayed from then on
    (the batch size and horizon must stay fixed; another shape records anew). Random draws are made
    before it from the agent's generator, in the eager update's order, and on the CPU it computes
    what the eager update computes. Two things differ: ``update`` returns metrics that are read
    from the device on first use, and an update with a non-finite loss is still refused (no step
    is applied) but raises its FloatingPointError when those metrics are read. With
    compile_update its losses are also torch.compile'd, in "default" mode whatever compile_mode
    says (max-autotune: without CUDA graphs), since the graph is recorded here."""
    device: str = "auto"
    """auto (cuda if available, else cpu), cpu, cuda or cuda:N."""

    def _preset(self, index: int) -> int:
        return MODEL_SIZES[self.model_size][index]

    @property
    def sizes(self) -> tuple[int, int, int, int, int]:
        """(enc_dim, mlp_dim, latent_dim, num_enc_layers, num_q) after applying the preset."""
        given = (self.enc_dim, self.mlp_dim, self.latent_dim, self.num_enc_layers, self.num_q)
        return tuple(self._preset(i) if value is None else value for i, value in enumerate(given))

    def __post_init__(self):
        def fail(message: str) -> None:
            raise ValueError(f"tdmpc2 config: {message}")

        if self.compile_mode not in COMPILE_MODES:
            fail(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, got {self.compile_mode!r}")
        if self.model_size not in MODEL_SIZES:
            fail(f"model_size must be one of {', '.join(MODEL_SIZES)}, got {self.model_size!r}")
        enc_dim, mlp_dim, latent_dim, num_enc_layers, num_q = self.sizes
        if min(enc_dim, mlp_dim, latent_dim, num_enc_layers) < 1:
            fail(f"enc_dim, mlp_dim, latent_dim and num_enc_layers must be positive, got {self.sizes[:4]}")
        if self.simnorm_dim < 2 or latent_dim % self.simnorm_dim:
            fail(
                f"latent_dim ({latent_dim}) must be a multiple of simnorm_dim ({self.simnorm_dim}, at least 2): "
                "the latent is normalised in groups of simnorm_dim"
            )
        if num_q < 2:
            fail(f"num_q must be at least 2 (targets take the minimum of two), got {num_q}")
        if self.num_bins < 2 or not self.vmin < self.vmax:
            fail(f"need num_bins >= 2 and vmin < vmax, got {self.num_bins}, {self.vmin}, {self.vmax}")
        if self.horizon < 1 or self.iterations < 1:
            fail(f"horizon and iterations must be positive, got {self.horizon}, {self.iterations}")
        if self.num_samples < 1 or not 0 <= self.num_pi_trajs < self.num_samples:
            fail(f"need num_samples >= 1 and 0 <= num_pi_trajs < num_samples (the population of num_samples "
                 f"includes the policy's sequences), got {self.num_samples}, {self.num_pi_trajs}")  # fmt: skip
        if not 1 <= self.num_elites <= self.num_samples:
            fail(f"num_elites must lie in [1, num_samples], got {self.num_elites} with num_samples {self.num_samples}")
        if not 0 < self.min_std <= self.max_std:
            fail(f"need 0 < min_std <= max_std, got {self.min_std}, {self.max_std}")
        if self.temperature <= 0 or self.batch_size < 1 or self.lr <= 0:
            fail("temperature, batch_size and lr must be positive")
        if not 0 <= self.discount <= 1 or not 0 < self.tau <= 1 or not 0 < self.rho <= 1:
            fail(f"need discount in [0, 1], tau and rho in (0, 1], got {self.discount}, {self.tau}, {self.rho}")
        if not 0 <= self.dropout < 1:
            fail(f"dropout must lie in [0, 1), got {self.dropout}")
        if not self.log_std_min < self.log_std_max:
            fail(f"log_std_min must be < log_std_max, got {self.log_std_min}, {self.log_std_max}")
