"""SAC's hyperparameters. Defaults follow SB3/CleanRL (shared/design/agents.md, section 3)."""

from __future__ import annotations

from dataclasses import dataclass

from agents.common.features import FEATURES

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
GRADIENTS = ("auto", "autograd", "handwritten")


@dataclass(frozen=True)
class SACConfig:
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the actor and of each critic."""
    n_critics: int = 2
    """Q-functions in the fused critic ensemble; the target takes their minimum."""
    actor_lr: float = 3e-4
    """Adam step size of the policy."""
    critic_lr: float = 3e-4
    """Adam step size of the critics."""
    alpha_lr: float = 3e-4
    """Adam step size of log(alpha), the entropy temperature."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target critics (target += tau * (online - target) per update)."""
    batch_size: int = 256
    """Transitions per gradient update."""
    init_alpha: float = 0.2
    """Initial entropy temperature."""
    autotune_alpha: bool = True
    """Tune alpha so the policy's entropy tracks target_entropy; False keeps init_alpha fixed."""
    target_entropy: float | None = None
    """Entropy target; None means -action_dim (the usual choice)."""
    log_std_min: float = -5.0
    """Lower bound of the policy's log standard deviation (tanh-rescaled, as CleanRL)."""
    log_std_max: float = 2.0
    """Upper bound of the policy's log standard deviation."""
    compile: bool = False
    """torch.compile the loss computation (a one-off compile of about a minute; no gain on our CPUs,
    benchmarks/RESULTS.md). Off: plain eager PyTorch."""
    compile_mode: str = "default"
    """With compile: torch.compile's mode. "default", "reduce-overhead" (the loss's forward and
    backward replayed as CUDA graphs: CUDA only) or "max-autotune"."""
    graph_update: bool = False
    """Run the whole update (losses, backward, the Adam step, the target update) as one function
    that never waits for the device; on CUDA it is recorded as one CUDA graph after 3 eager updates
    and replayed from then on (the batch size must stay fixed; another size records anew). The
    noise is drawn before it from the agent's generator, and on the CPU it computes what the eager
    update computes, up to float rounding. Two things differ: ``update`` returns metrics that are read from the device
    on first use, and an update with a non-finite loss is still refused (no step is applied) but
    raises its FloatingPointError when those metrics are read. With compile the losses are also
    torch.compile'd, in "default" mode whatever compile_mode says (max-autotune: without CUDA
    graphs), since the graph is recorded here."""
    gradients: str = "auto"
    """How the update's gradients are computed: "autograd", or "handwritten" (agents/sac/handwritten.py:
    the same math written out, with its activations in tensors kept between updates, which keeps an
    update's memory in the CPU's cache; 1.1-1.27x autograd's speed on our CPUs, benchmarks/RESULTS.md).
    "auto": handwritten for the eager update on a CPU, autograd with compile, graph_update or CUDA
    ("handwritten" also runs on CUDA, where it is not measured to pay)."""
    flush_denormals: bool = True
    """Run the eager update on a CPU with denormal floats read and written as zero when torch runs
    on one thread (``denormals_flushed`` in agents/common/runtime.py): 1.02-1.17x faster updates
    from trained learners' states (benchmarks/bench_denormals.py). Values below 1.2e-38 become
    zero, which moves a step Adam takes by about 1e-30 at most. False, more threads or
    ``graph_update``: the CPU's IEEE default."""
    features: str = "raw"
    """What the networks see: raw (the 18 observation numbers) or distances (those plus the 9
    distances between the players, the puck and the goals; agents/common/features.py)."""
    device: str = "auto"
    """auto (cuda if available, else cpu), cpu, cuda or cuda:N."""

    def __post_init__(self):
        if self.features not in FEATURES:
            raise ValueError(f"sac config: features must be one of {', '.join(FEATURES)}, got {self.features!r}")
        if self.compile_mode not in COMPILE_MODES:
            modes = ", ".join(COMPILE_MODES)
            raise ValueError(f"sac config: compile_mode must be one of {modes}, got {self.compile_mode!r}")
        if self.gradients not in GRADIENTS:
            raise ValueError(f"sac config: gradients must be one of {', '.join(GRADIENTS)}, got {self.gradients!r}")
        if self.gradients == "handwritten" and (self.compile or self.graph_update):
            raise ValueError(
                "sac config: gradients='handwritten' is eager only; compile and graph_update need 'autograd'"
            )
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"sac config: hidden must be a non-empty list of positive sizes, got {self.hidden}")
        if self.n_critics < 1:
            raise ValueError(f"sac config: n_critics must be >= 1, got {self.n_critics}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"sac config: gamma must lie in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"sac config: tau must lie in (0, 1], got {self.tau}")
        if self.batch_size < 1:
            raise ValueError(f"sac config: batch_size must be positive, got {self.batch_size}")
        if self.init_alpha < 0:
            raise ValueError(f"sac config: init_alpha must be >= 0, got {self.init_alpha}")
        if self.autotune_alpha and self.init_alpha <= 0:
            raise ValueError("sac config: autotune_alpha needs init_alpha > 0 (it tunes log(alpha))")
        if not self.log_std_min < self.log_std_max:
            raise ValueError(
                f"sac config: log_std_min must be < log_std_max, got {self.log_std_min}, {self.log_std_max}"
            )
