"""A preallocated replay buffer for vectorised collection: single transitions and sequences.

Storage is time-major per environment stream, shape (steps, n_envs, ...), written one row of
``n_envs`` transitions per call, as a ring. Each stream is contiguous in time, so model-based
agents (TD-MPC2, MuZero) can sample sequences without episode bookkeeping: a sequence comes
with a mask that is True up to and including the step where its episode ended.

Every transition stores its own ``next_obs``, because at an episode's end the next row holds
the following episode's first observation, not the terminal one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from agents.base import OPPONENT_ACTION
from agents.common.sum_tree import SumTree
from arena.hockey.mirror import mirror_action, mirror_observation


@dataclass
class Batch:
    """Tensors of a sampled batch; single transitions are (B, ...), sequences (B, L, ...).

    ``terminated`` is 1.0 where the game ended by a goal (no bootstrap); a time-limit truncation
    is not termination. ``mask`` (sequences only) is 1.0 for the steps that belong to the
    sequence's first episode.
    """

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    mask: torch.Tensor | None = None
    done: torch.Tensor | None = None  # 1.0 where the episode ended (goal or time-out)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # agent-specific per-step data
    weights: torch.Tensor | None = None  # importance weights of prioritized sampling, (B,)
    index: tuple[np.ndarray, np.ndarray] | None = None  # (rows, envs) of the samples, for new priorities

    @property
    def size(self) -> int:
        return self.obs.shape[0]


def mirror_rows(batch: Batch, rows: np.ndarray) -> Batch:
    """The batch with the samples where ``rows`` is True flipped top-bottom (``arena.hockey.mirror``):
    observations, next observations, actions and the opponent's actions. Rewards, terminations
    and masks are mirror-invariant and stay. Works for transitions and for sequences."""
    if not rows.any():
        return batch
    flip = torch.from_numpy(rows).to(batch.obs.device)
    shape = (-1,) + (1,) * (batch.obs.dim() - 1)
    flip_obs, flip_action = flip.view(shape), flip.view((-1,) + (1,) * (batch.action.dim() - 1))
    extras = dict(batch.extras)
    for name in extras:
        if name != OPPONENT_ACTION:
            raise ValueError(f"cannot mirror the stored {name!r}; only observations and actions have a mirror")
        extras[name] = torch.where(flip_action, mirror_action(extras[name]), extras[name])
    return replace(
        batch,
        obs=torch.where(flip_obs, mirror_observation(batch.obs), batch.obs),
        next_obs=torch.where(flip_obs, mirror_observation(batch.next_obs), batch.next_obs),
        action=torch.where(flip_action, mirror_action(batch.action), batch.action),
        extras=extras,
    )


def join_batches(first: Batch, second: Batch) -> Batch:
    """Two batches of single transitions as one (first's rows, then second's)."""
    if first.mask is not None or second.mask is not None or first.weights is not None or second.weights is not None:
        raise ValueError("join_batches joins uniformly sampled single transitions, not sequences or weighted draws")
    return Batch(
        obs=torch.cat([first.obs, second.obs]),
        action=torch.cat([first.action, second.action]),
        reward=torch.cat([first.reward, second.reward]),
        next_obs=torch.cat([first.next_obs, second.next_obs]),
        terminated=torch.cat([first.terminated, second.terminated]),
        done=torch.cat([first.done, second.done]),
        extras={name: torch.cat([values, second.extras[name]]) for name, values in first.extras.items()},
    )


class ReplayBuffer:
    """Ring buffer of (obs, action, reward, next_obs, terminated, truncated) for ``n_envs`` streams.

    Args:
        capacity: total transitions kept (rounded up to a multiple of n_envs).
        n_envs: environments written per ``add`` call.
        obs_dim, action_dim: sizes of one observation and one action.
        device: where sampled batches are placed.
        extras: name -> per-step shape of agent-specific data stored with each transition (MuZero
            keeps its search policy and action index here).
        prioritized: keep a priority per transition for prioritized sequence sampling
            (Schaul et al. 2016): new transitions get the largest priority seen so far.
    """

    def __init__(
        self,
        capacity: int,
        n_envs: int,
        obs_dim: int,
        action_dim: int,
        device: str | torch.device = "cpu",
        extras: dict[str, tuple[int, ...]] | None = None,
        prioritized: bool = False,
    ):
        if capacity < n_envs or n_envs < 1:
            raise ValueError(f"replay buffer needs capacity >= n_envs >= 1, got capacity={capacity}, n_envs={n_envs}")
        self.n_envs, self.obs_dim, self.action_dim = n_envs, obs_dim, action_dim
        self.steps = -(-capacity // n_envs)  # rows in the ring
        self.device = torch.device(device)
        shape = (self.steps, n_envs)
        self.obs = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.action = np.zeros((*shape, action_dim), dtype=np.float32)
        self.reward = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=np.float32)
        self.done = np.zeros(shape, dtype=bool)  # terminated or truncated: the episode ended here
        self.extras = {
            name: np.zeros((*shape, *tuple(size)), dtype=np.float32) for name, size in (extras or {}).items()
        }
        self.priorities = np.zeros(shape, dtype=np.float64) if prioritized else None
        self.max_priority = 1.0
        self._tree: SumTree | None = None  # priority^alpha of every transition, built at the first prioritized draw
        self._tree_alpha: float | None = None
        self.position = 0  # next row to write
        self.rows = 0  # rows written so far, at most self.steps

    def __len__(self) -> int:
        return self.rows * self.n_envs

    @property
    def capacity(self) -> int:
        return self.steps * self.n_envs

    def add(self, obs, action, reward, next_obs, terminated, truncated, extras: dict | None = None) -> None:
        """Write one transition per environment (each argument has n_envs rows)."""
        row = self.position
        if set(extras or {}) != set(self.extras):
            raise ValueError(f"replay buffer stores extras {sorted(self.extras)}, got {sorted(extras or {})}")
        for name, values in (extras or {}).items():
            self.extras[name][row] = values
        if self.priorities is not None:
            self.priorities[row] = self.max_priority
            self._sync_tree(np.full(self.n_envs, row), np.arange(self.n_envs))
        self.obs[row] = obs
        self.action[row] = action
        self.reward[row] = reward
        self.next_obs[row] = next_obs
        terminated = np.asarray(terminated, dtype=bool)
        self.terminated[row] = terminated
        self.done[row] = terminated | np.asarray(truncated, dtype=bool)
        self.position = (row + 1) % self.steps
        self.rows = min(self.rows + 1, self.steps)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def _gather(self, rows: np.ndarray, envs: np.ndarray, mask: np.ndarray | None = None) -> Batch:
        """The stored entries at (rows, envs) (index arrays of one shape) as a Batch on the device."""
        return Batch(
            obs=self._tensor(self.obs[rows, envs]),
            action=self._tensor(self.action[rows, envs]),
            reward=self._tensor(self.reward[rows, envs]),
            next_obs=self._tensor(self.next_obs[rows, envs]),
            terminated=self._tensor(self.terminated[rows, envs]),
            mask=None if mask is None else self._tensor(mask),
            done=self._tensor(self.done[rows, envs].astype(np.float32)),
            extras={name: self._tensor(values[rows, envs]) for name, values in self.extras.items()},
        )

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Uniformly sampled single transitions."""
        if self.rows == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        rows = rng.integers(0, self.rows, size=batch_size)
        envs = rng.integers(0, self.n_envs, size=batch_size)
        return self._gather(rows, envs)

    def sample_sequences(
        self, batch_size: int, length: int, rng: np.random.Generator, alpha: float | None = None, beta: float = 0.4
    ) -> Batch:
        """Sequences of ``length`` consecutive steps of one stream, (B, L, ...), with an episode mask.

        Steps after the sequence's first episode end are masked out (mask 0); their values are
        whatever the stream holds there and must not be used as targets. With ``alpha`` (needs
        ``prioritized``), a sequence starts at a transition with probability proportional to its
        priority^alpha, and ``weights`` are the importance weights (N p)^-beta / max.
        """
        if length < 1 or length > self.rows:
            raise ValueError(f"cannot sample sequences of length {length} from {self.rows} stored steps per stream")
        span = self.rows - length + 1  # valid start offsets, counted from the oldest row
        oldest = self.position if self.rows == self.steps else 0
        weights = None
        if alpha is None:
            offsets = rng.integers(0, span, size=batch_size)
            envs = rng.integers(0, self.n_envs, size=batch_size)
        else:
            if self.priorities is None:
                raise ValueError("prioritized sampling needs a buffer made with prioritized=True")
            offsets, envs, weights = self._prioritized_starts(batch_size, span, oldest, alpha, beta, rng)
        starts = (oldest + offsets) % self.steps
        rows = (starts[:, None] + np.arange(length)[None, :]) % self.steps  # (B, L)
        cols = envs[:, None]
        done = self.done[rows, cols]
        # A step is in the first episode if no earlier step of the sequence ended an episode.
        ended_before = np.concatenate([np.zeros((batch_size, 1), dtype=bool), np.cumsum(done, axis=1)[:, :-1] > 0], 1)
        batch = self._gather(rows, cols, mask=(~ended_before).astype(np.float32))
        batch.index = (starts, envs)
        if weights is not None:
            batch.weights = self._tensor(weights.astype(np.float32))
        return batch

    def _prioritized_starts(self, batch_size: int, span: int, oldest: int, alpha: float, beta: float,
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Start offsets (from the oldest row) and streams drawn with probability priority^alpha among
        the ``span`` valid start rows, and their importance weights (N p)^-beta / max."""
        if self._tree is None or self._tree_alpha != alpha:
            self._tree, self._tree_alpha = SumTree(self.priorities.size), alpha
            self._tree.build(self.priorities**alpha)
        tree, n_envs = self._tree, self.n_envs
        # The newest rows cannot start a full sequence; their mass is drawn and redrawn (a few of every L rows).
        newest = (oldest + span + np.arange(self.rows - span)) % self.steps
        late = (newest[:, None] * n_envs + np.arange(n_envs)).ravel()
        valid_mass = tree.total - float(tree.get(late).sum())
        flat = np.zeros(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        while todo.size:
            drawn = tree.find(rng.random(todo.size) * tree.total)
            good = (((drawn // n_envs - oldest) % self.steps) < span) & (tree.get(drawn) > 0)
            flat[todo[good]] = drawn[good]
            todo = todo[~good]
        rows, envs = np.divmod(flat, n_envs)
        p = tree.get(flat) / valid_mass
        weights = (span * n_envs * p) ** -beta
        return (rows - oldest) % self.steps, envs, weights / weights.max()

    def _sync_tree(self, rows: np.ndarray, envs: np.ndarray) -> None:
        """Copy the priorities at (rows, envs) into the sum tree, if one was built."""
        if self._tree is not None:
            self._tree.set(rows * self.n_envs + envs, self.priorities[rows, envs] ** self._tree_alpha)

    def update_priorities(self, index: tuple[np.ndarray, np.ndarray], priorities: np.ndarray) -> None:
        """Set the priorities of sampled start transitions (``batch.index``); must be positive."""
        if self.priorities is None:
            raise ValueError("this replay buffer keeps no priorities (prioritized=False)")
        priorities = np.asarray(priorities, dtype=np.float64)
        if not np.all(np.isfinite(priorities)) or np.any(priorities <= 0):
            raise ValueError(f"priorities must be finite and positive, got min {priorities.min()}")
        rows, envs = index
        self.priorities[rows, envs] = priorities
        self._sync_tree(rows, envs)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        """The stored rows as tensors (for the optional replay part of a training checkpoint)."""
        return {
            "n_envs": self.n_envs,
            "steps": self.steps,
            "position": self.position,
            "rows": self.rows,
            "obs": torch.from_numpy(self.obs[: self.rows].copy()),
            "next_obs": torch.from_numpy(self.next_obs[: self.rows].copy()),
            "action": torch.from_numpy(self.action[: self.rows].copy()),
            "reward": torch.from_numpy(self.reward[: self.rows].copy()),
            "terminated": torch.from_numpy(self.terminated[: self.rows].copy()),
            "done": torch.from_numpy(self.done[: self.rows].copy()),
            "extras": {name: torch.from_numpy(values[: self.rows].copy()) for name, values in self.extras.items()},
            "priorities": None if self.priorities is None else torch.from_numpy(self.priorities[: self.rows].copy()),
            "max_priority": self.max_priority,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["n_envs"] != self.n_envs or state["steps"] != self.steps:
            raise ValueError(
                f"saved replay buffer has {state['steps']} rows x {state['n_envs']} envs, "
                f"this one {self.steps} x {self.n_envs}; resume with the same --n-envs and buffer size"
            )
        rows = int(state["rows"])
        for name in ("obs", "next_obs", "action", "reward", "terminated", "done"):
            getattr(self, name)[:rows] = state[name].numpy()
        for name, values in state.get("extras", {}).items():
            self.extras[name][:rows] = values.numpy()
        if self.priorities is not None and state.get("priorities") is not None:
            self.priorities[:rows] = state["priorities"].numpy()
            self.max_priority = float(state["max_priority"])
        self._tree = None  # rebuilt from the loaded priorities at the next draw
        self.rows, self.position = rows, int(state["position"])
