"""The training loop one batch job runs for one agent: collect, update, evaluate, checkpoint, resume.

``train(TrainConfig(...))`` collects from ``n_envs`` games at once against a weighted mix of
opponents (scripted names or checkpoint files), performs ``updates_per_step`` gradient updates
per collected transition, evaluates against weak and strong every ``eval_every`` steps, writes
CSV (and TensorBoard) metrics, and saves:

- ``RUN_DIR/policy.pt``: the latest frozen policy (the checkpoint format of ``agents.checkpoint``),
  plus ``RUN_DIR/policies/step_XXXXXXXXX.pt`` at every evaluation;
- ``RUN_DIR/checkpoints/training.pt``: everything resuming needs (weights, optimizers, counters,
  every generator, the games in progress and, by default, the replay buffer).

On SIGINT (Ctrl-C), SIGTERM or SIGUSR1 it finishes the current step, saves the training
checkpoint and returns; ``resume=True`` continues bit for bit where it stopped. A checkpoint with
non-finite weights is never written, so the last good one survives a diverged run.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from agents.base import OPPONENT_ACTION, AgentSpec, FrozenPolicy
from agents.checkpoint import CheckpointError, load_checkpoint, read_payload
from agents.collect import Collector
from agents.common.buffer import Batch, ReplayBuffer, join_batches, mirror_rows
from agents.common.logger import make_logger
from agents.common.runtime import resolve_device, rng_states, seed_everything, set_rng_states
from agents.registry import entry, make_agent, make_config, make_policy, refuse_shape_changes, save_policy
from agents.training_checkpoint import (
    checkpoint_file,
    has_checkpoint,
    latest_checkpoint,
    previous_checkpoint,
    training_payload,
    write_training_checkpoint,
)
from arena.hockey.constants import Mode
from arena.hockey.rewards import reward_function
from arena.match import GameRecord
from plumbing.config import config_to_dict, parse_overrides
from plumbing.files import atomic_write
from plumbing.signals import stop_signals

MODES = ("normal", "train_shooting", "train_defense", "curriculum")


@dataclass(frozen=True)
class TrainConfig:
    """One agent's training run (``python scripts/train.py --help`` shows these)."""

    agent: str = "sac"
    """Registry name of the learning agent (sac, ...)."""
    opponents: str = "weak,strong"
    """Comma-separated opponents, each a scripted name (weak, strong, random, idle) or a checkpoint
    path, optionally with a sampling weight: 'weak:1,strong:3,runs/a/policy.pt:2'."""
    steps: int = 1_500_000
    """Environment transitions to collect in total (a resumed run continues up to this number)."""
    cpu_hours: float = 0.0
    """Stop once the run has spent this much CPU time over all its segments (0: no limit): a
    budget in compute rather than steps, for comparisons at equal compute."""
    run_dir: str = "runs/train"
    """Directory for checkpoints, policies and metrics."""
    seed: int = 0
    """Seeds everything: weights, exploration, opponents, games."""
    device: str = "auto"
    """auto (cuda if available, else cpu), cpu, cuda or cuda:N."""
    mode: str = "normal"
    """normal, train_shooting, train_defense, or curriculum (shooting for the first
    curriculum_fraction/2 of the steps, then defense, then normal games)."""
    reward: str = "game"
    """The learner's reward: game (the course environment's: +-10 for a goal plus the
    closeness-to-puck shaping), sparse (+-10 for a goal only) or shaped (game plus 1 per catch of
    the puck plus 3 x the puck's speed towards the opponent's goal); see arena/hockey/rewards.py."""
    curriculum_fraction: float = 0.2
    """Share of the steps spent in the shooting and defense modes when mode=curriculum."""
    defense_share: float = 0.0
    """With mode=normal: the share of games that start in train_defense instead (the puck kicked at
    the learner's goal from the far half, 80 steps): goalkeeping practice against shots like the
    opening shot that costs most losses against the strong bot."""
    n_envs: int = 16
    """Games collected from at once."""
    learning_starts: int = 10_000
    """Transitions with uniformly random actions before the first update."""
    updates_per_step: float = 0.25
    """Gradient updates per collected transition (the update-to-data ratio)."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions."""
    eval_every: int = 50_000
    """Steps between evaluations against weak and strong (0: only at the end)."""
    eval_games: int = 200
    """Games per evaluation opponent, half from each side."""
    checkpoint_every: int = 50_000
    """Steps between training checkpoints (also saved at the end and on a stop signal)."""
    log_every: int = 5_000
    """Steps between rows of train.csv."""
    save_replay: bool = True
    """Store the replay buffer in the training checkpoint (needed for an exact resume)."""
    resume: bool = False
    """Continue from RUN_DIR/checkpoints/training.pt if it exists (start fresh otherwise)."""
    init: str = ""
    """A policy checkpoint to start from: its weights, and its config as the base of --set. The
    warm-up then plays the policy (exploring) instead of random actions. Empty: from scratch."""
    set: tuple[str, ...] = ()
    """Agent config overrides as key=value, e.g. --set hidden=[512,512] gamma=0.98."""
    mirror: float = 0.0
    """Share of every sampled batch flipped top-bottom (arena/hockey/mirror.py): free extra data
    from the game's symmetry. 0: off. Not for MuZero, whose stored search policies would need
    their discrete moves permuted."""
    frame_hold: int = 1
    """Frames each of the learner's training actions is held for: it decides every frame_hold
    frames and stores one transition per decision, rewards summed over the held frames (the
    course's 1st-placed WS24/25 team trained with 2). Evaluation and rating games act every frame."""
    kept_opponents: str = ""
    """Comma-separated opponents (names as in --opponents, without weights) whose games also go into
    a second replay buffer that turns over only with their own games; in a league, "externals" names
    its external members. Empty: no second buffer."""
    kept_share: float = 0.0
    """Share of every sampled batch drawn from the kept opponents' buffer (once it holds transitions):
    what was learnt against them stays in the batches after the main buffer has turned over, while
    they take only a small share of the games (a team of the course's WS25/26 tournament kept anchor
    games apart at 1/3 of each batch, shared/design/agents.md section 7). Single-transition agents
    (SAC) only."""
    kept_size: int = 200_000
    """Capacity of the kept opponents' buffer in transitions."""
    threads: int = 1
    """torch CPU threads (0: torch's default)."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        positive = ("steps", "n_envs", "buffer_size", "kept_size", "eval_games", "checkpoint_every", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.learning_starts < 0 or self.eval_every < 0 or self.threads < 0:
            raise ValueError("learning_starts, eval_every and threads must be >= 0")
        if not self.updates_per_step > 0:
            raise ValueError(f"updates_per_step must be positive, got {self.updates_per_step}")
        if not (self.cpu_hours >= 0 and math.isfinite(self.cpu_hours)):
            raise ValueError(f"cpu_hours must be a finite number >= 0 (0: no limit), got {self.cpu_hours}")
        if not 0 <= self.mirror <= 1:
            raise ValueError(f"mirror must lie in [0, 1] (the share of each batch flipped), got {self.mirror}")
        if not isinstance(self.frame_hold, int) or self.frame_hold < 1:
            raise ValueError(f"frame_hold must be a positive integer (frames per decision), got {self.frame_hold!r}")
        if not 0 <= self.defense_share < 1:
            raise ValueError(f"defense_share must lie in [0, 1) (a share of the games), got {self.defense_share}")
        if self.defense_share and self.mode != "normal":
            raise ValueError(
                f"defense_share mixes defense games into normal ones; it needs mode=normal, not {self.mode}"
            )
        if not 0 <= self.curriculum_fraction < 1:
            raise ValueError(f"curriculum_fraction must lie in [0, 1), got {self.curriculum_fraction}")
        if not 0 <= self.kept_share < 1:
            raise ValueError(f"kept_share must lie in [0, 1) (the share of each batch), got {self.kept_share}")
        if self.kept_share and not kept_names(self.kept_opponents):
            raise ValueError("kept_share needs kept_opponents: the opponents whose games the second buffer keeps")
        reward_function(self.reward)  # an unknown name fails here, before anything is built


KEPT_EXTERNALS = "externals"  # kept_opponents in a league: every external member


def kept_names(text: str) -> set[str]:
    """kept_opponents -> the set of names it lists ('strong, py:a.py:load' -> {'strong', 'py:a.py:load'})."""
    return {part.strip() for part in text.split(",") if part.strip()}


def parse_opponents(text: str) -> list[tuple[str, float]]:
    """'weak:1,strong:3,path.pt' -> [('weak', 1.0), ('strong', 3.0), ('path.pt', 1.0)]."""
    items = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, weight = part, 1.0
        head, sep, tail = part.rpartition(":")
        if sep:
            try:
                name, weight = head, float(tail)
            except ValueError:
                pass
        if not weight >= 0 or not math.isfinite(weight):
            raise ValueError(f"opponent weight must be a finite number >= 0, got {part!r}")
        items.append((name, weight))
    if not items:
        raise ValueError("--opponents names no opponent; e.g. --opponents weak,strong")
    return items


@dataclass
class Hooks:
    """What a league hangs onto a training run; every hook is optional."""

    on_episode: object = None  # called with the GameRecord of each finished training game
    on_policy_saved: object = None  # called with (path, step) after each policy snapshot
    extra_logs: dict = field(default_factory=dict)


@dataclass
class Resume:
    """A training checkpoint to continue from: its payload (``read_training_checkpoint``) and path."""

    payload: dict
    path: Path


def build_trainer(config: TrainConfig, evaluator=None, hooks: Hooks | None = None, resolve_opponent=None) -> Trainer:
    """The composition root of a training run: builds its parts and hands them to a ``Trainer``.

    The agent comes from the run's stored config on a resume (``--set`` changes only what it
    names), from the ``init`` policy's config and weights, or fresh; then the opponents, the
    collector and the replay buffer.

    Args:
        config: the run's settings.
        evaluator: ``(policy, step) -> metrics``, called at each snapshot.
        hooks: what a league hangs onto the run.
        resolve_opponent: member name -> policy, for a league whose opponent mix changes.
    """
    item = entry(config.agent)
    if not item.learns:
        raise ValueError(f"{config.agent!r} is a scripted player and cannot be trained")
    checkpoint_path = checkpoint_file(config.run_dir)
    resume, initial, base = None, None, make_config(config.agent)
    if config.resume and has_checkpoint(checkpoint_path):
        resume = Resume(*latest_checkpoint(checkpoint_path, config.agent))
        base = stored_agent_config(config.agent, resume.payload["agent_config"], resume.path)
    elif config.init:
        initial = load_checkpoint(config.init, algorithm=config.agent)
        base = stored_agent_config(config.agent, initial.config, Path(config.init))
    agent_config = parse_overrides(config.set, item.config, base=base, where=f"--set for {config.agent}")
    if "device" in config_to_dict(agent_config) and config.device != "auto":
        agent_config = make_config(config.agent, {**config_to_dict(agent_config), "device": config.device})
    resolve_device(agent_config.device)  # fail early on a missing GPU
    seed_everything(config.seed)
    spec = AgentSpec()
    agent = make_agent(config.agent, config=agent_config, spec=spec, seed=config.seed)
    parent = None
    if resume is not None:
        refuse_shape_changes(agent, resume.payload["state_dict"], base, f"{resume.path}")
    if initial is not None:
        refuse_shape_changes(agent, initial.state_dict, base, config.init)
        agent.load_state_dict(initial.state_dict)
        parent = initial.sha256  # lineage: the snapshots descend from it
    opponent_items = parse_opponents(config.opponents)
    opponents = [
        (name, make_policy(name, seed=config.seed + 1000 + i, device=config.device))
        for i, (name, _) in enumerate(opponent_items)
    ]
    collector = Collector(config.n_envs, opponents, [w for _, w in opponent_items], seed=config.seed,
                          reward=config.reward)  # fmt: skip
    if config.frame_hold > 1 and agent.buffer_extras:
        raise ValueError(
            f"frame_hold={config.frame_hold} does not fit {config.agent}, which stores "
            f"{', '.join(sorted(agent.buffer_extras))} with each frame; use frame_hold=1 (MuZero holds moves "
            "itself: --set action_repeat=N)"
        )
    unmirrorable = set(agent.buffer_extras or {}) - {OPPONENT_ACTION}
    if config.mirror and unmirrorable:
        raise ValueError(
            f"mirror={config.mirror} cannot flip what {config.agent} stores with each step "
            f"({', '.join(sorted(unmirrorable))}); use mirror=0 for this agent"
        )
    buffer = ReplayBuffer(
        config.buffer_size,
        config.n_envs,
        spec.obs_dim,
        spec.action_dim,
        device=agent.device,
        extras=agent.buffer_extras,  # e.g. MuZero's search policies
        prioritized=agent.prioritized,
    )
    kept = None
    if config.kept_opponents:
        if agent.sequence_length != 1 or agent.prioritized:
            raise ValueError(
                f"kept_opponents needs an agent that learns from single transitions (sac); {config.agent} "
                "samples sequences from its buffer's streams"
            )
        names = kept_names(config.kept_opponents)
        unknown = names - {name for name, _ in opponent_items}
        if unknown and resolve_opponent is None:  # a league's members come and go: it names them itself
            raise ValueError(
                f"kept_opponents names {', '.join(sorted(unknown))}, which --opponents does not list; "
                f"expected some of {', '.join(name for name, _ in opponent_items)}"
            )
        # one stream: the kept games' transitions arrive a few at a time, from any of the games
        kept = ReplayBuffer(config.kept_size, 1, spec.obs_dim, spec.action_dim, device=agent.device,
                            extras=agent.buffer_extras)  # fmt: skip
    return Trainer(config, agent, collector, buffer, evaluator=evaluator, hooks=hooks,
                   resolve_opponent=resolve_opponent, resume=resume, parent=parent, kept=kept)  # fmt: skip


def hold_actions(collector: Collector, actions: np.ndarray, frames: int, mode_for):
    """Play ``actions`` for ``frames`` frames of every game: one transition per game.

    A game's transition sums its rewards until the hold ends or the game does; frames after a game
    ended belong to the next game (started at once by the collector) and are not stored.

    Returns:
        next_obs, reward, terminated, truncated (as ``Collector.step``), the games that ended, and
        the slots whose game ended at any frame (their per-game memory must be reset).
    """
    next_obs, reward, terminated, truncated, ended = collector.step(actions, mode_for)
    restarted = terminated | truncated
    if frames == 1:
        return next_obs, reward, terminated, truncated, ended, restarted
    reward, ended = reward.copy(), list(ended)
    open_ = ~restarted
    for _ in range(frames - 1):
        obs, more, done_now, cut_now, finished = collector.step(actions, mode_for)
        reward[open_] += more[open_]
        next_obs[open_] = obs[open_]
        terminated |= done_now & open_
        truncated |= cut_now & open_
        ended += finished
        restarted |= done_now | cut_now
        open_ &= ~(done_now | cut_now)
    return next_obs, reward, terminated, truncated, ended, restarted


class Trainer:
    """The state of one training run; ``run()`` executes it. See the module docstring.

    It is handed its parts (``build_trainer`` builds them from a ``TrainConfig``): the agent, the
    collector of games, the replay buffer, and the checkpoint to resume from, if any.
    """

    def __init__(self, config: TrainConfig, agent, collector: Collector, buffer: ReplayBuffer, *, evaluator=None,
                 hooks: Hooks | None = None, resolve_opponent=None, resume: Resume | None = None,
                 parent: str | None = None, kept: ReplayBuffer | None = None):  # fmt: skip
        self.config = config
        self.resolve_opponent = resolve_opponent  # label -> policy; set by a league, whose mix changes
        self.evaluator = evaluator
        self.hooks = hooks or Hooks()
        self.run_dir = Path(config.run_dir)
        self.checkpoint_path = checkpoint_file(config.run_dir)
        self.previous_path = previous_checkpoint(self.checkpoint_path)  # the one before, kept as a fallback
        self._resume = resume
        self.resumed_from: Path | None = resume.path if resume is not None else None
        self.agent, self.collector, self.buffer = agent, collector, buffer
        self.kept = kept  # the kept opponents' transitions (kept_opponents), or None
        self.kept_labels = kept_names(config.kept_opponents)  # a league replaces "externals" by its members
        self.spec = agent.spec
        self.parent = parent
        self.sample_rng = np.random.default_rng([config.seed, 11])
        self.explore_rng = np.random.default_rng([config.seed, 13])
        self.mirror_rng = np.random.default_rng([config.seed, 17])
        self.mode_rng = np.random.default_rng([config.seed, 19])  # which games practise defense (defense_share)
        self.step = 0
        self.episodes = 0
        self.update_debt = 0.0
        self.wall_seconds = 0.0  # training time over all resumed segments
        self.cpu_seconds = 0.0  # this run's processes' CPU time over all segments (the compute spent)
        self.recent: dict[str, deque] = {}
        self.latest_eval: dict[str, float] = {}
        self._stop: str | None = None
        self._stores_opponent_actions = OPPONENT_ACTION in (self.agent.buffer_extras or {})
        self.timing = {"collect": 0.0, "hooks": 0.0, "update": 0.0}  # seconds in this process
        self.logger = None
        self._bar = None

    # ------------------------------------------------------------------ schedule
    def mode_for(self) -> Mode:
        config = self.config
        if config.defense_share:
            return Mode.TRAIN_DEFENSE if self.mode_rng.random() < config.defense_share else Mode.NORMAL
        if config.mode != "curriculum":
            return Mode.parse(config.mode)
        fraction = self.step / config.steps
        if fraction < config.curriculum_fraction / 2:
            return Mode.TRAIN_SHOOTING
        if fraction < config.curriculum_fraction:
            return Mode.TRAIN_DEFENSE
        return Mode.NORMAL

    # ------------------------------------------------------------------ main loop
    def run(self) -> dict:
        """Train until ``steps`` or a stop signal; returns a summary (also in RUN_DIR/summary.json)."""
        with stop_signals(self.request_stop):
            try:
                self.open()
                status = self.train(self.config.steps)
                if self._logged_step != self.step:  # a short run still leaves its row in train.csv
                    self._log_rates()
                done = status == "finished" or "CPU budget" in status  # the run's end: its final snapshot
                if done and (not self.latest_eval or self.latest_eval.get("step") != self.step):
                    self.snapshot_and_evaluate()
                self.save()
            finally:
                self.close()
        summary = {
            "status": status,
            "step": self.step,
            "episodes": self.episodes,
            "wall_seconds": round(self._wall_now(), 1),
            "cpu_seconds": round(self._cpu_now(), 1),
            "updates": int(self.agent.updates),
            "eval": self.latest_eval,
            "policy": str(self.run_dir / "policy.pt"),
        }
        self._write_json("summary.json", summary)
        return summary

    def open(self) -> None:
        """Start the run or, with ``resume``, load its training checkpoint; open logs and games."""
        config = self.config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.has_checkpoint():
            if not config.resume:
                raise FileExistsError(
                    f"{self.run_dir} already holds a training run; pass --resume to continue it "
                    "or choose another --run-dir"
                )
            if self._resume is None:
                raise FileExistsError(f"{self.run_dir} gained a training run after this one was set up; start again")
            self.load(self._resume.payload)
            self._resume = None
        else:
            self._write_json(
                "config.json", {"train": config_to_dict(config), "agent": config_to_dict(self.agent.config)}
            )
        self.logger = make_logger(self.run_dir)
        self.logger.truncate(self.step)
        self._logged_step = self.step
        if self.step < config.steps and -(-config.steps // config.n_envs) * config.n_envs < config.learning_starts:
            print(
                f"note: this run stops at step {config.steps:,}, before learning_starts {config.learning_starts:,} "
                "(the replay buffer fills until then): it makes no update, and policy.pt keeps the "
                "initial weights; raise --steps or lower --learning-starts",
                flush=True,
            )
        if not self.collector.started:
            self.collector.start(self.mode_for)
        self._bar = self._progress_bar()
        self._sums, self._count = {}, 0
        self._clock, self._clock_step = time.perf_counter(), self.step
        self._segment_start, self._wall_before = self._clock, self.wall_seconds
        self._segment_cpu, self._cpu_before = time.process_time(), self.cpu_seconds

    def train(self, until: int) -> str:
        """Collect and update until step ``until`` (at most ``steps``) or a stop request.

        Returns "finished" when ``until`` was reached, else "stopped by <signal or CPU budget>".
        """
        config = self.config
        until = min(until, config.steps)
        while self.step < until:
            if self._stop is not None:
                return f"stopped by {self._stop}"
            if config.cpu_hours and self._cpu_now() >= config.cpu_hours * 3600:
                return f"stopped by its CPU budget ({config.cpu_hours:g} CPU-hours)"
            metrics = self._iteration()
            self._count += len(metrics)
            for row in metrics:
                for key, value in row.items():
                    self._sums[key] = self._sums.get(key, 0.0) + value
            stride = config.n_envs * config.frame_hold  # steps per iteration: a multiple of each period is crossed once
            if self._bar is not None:
                self._bar.update(stride)
            if self.step % config.log_every < stride:
                self._log_rates()
            if config.eval_every and self.step % config.eval_every < stride:
                self.snapshot_and_evaluate()
            if self.step % config.checkpoint_every < stride:
                self.save()
        return "finished"

    def request_stop(self, reason: str) -> None:
        """Make ``train`` return after the current step (what the signal handlers call)."""
        self._stop = reason

    def close(self) -> None:
        if getattr(self, "_bar", None) is not None:
            self._bar.close()
            self._bar = None
        if getattr(self, "logger", None) is not None:
            self.logger.close()
            self.logger = None

    def _log_rates(self) -> None:
        now = time.perf_counter()
        rates = {
            "train/steps_per_second": (self.step - self._clock_step) / max(now - self._clock, 1e-9),
            "train/updates": float(self.agent.updates),
            "train/episodes": float(self.episodes),
            "train/cpu_hours": self._cpu_now() / 3600,
        }
        self._clock, self._clock_step = now, self.step
        self._logged_step = self.step
        means = {f"train/{k}": v / self._count for k, v in self._sums.items()}
        self.logger.write({**rates, **means, **self._recent_metrics()}, self.step)
        self._sums, self._count = {}, 0
        if self._bar is not None:
            self._bar.set_postfix(self._postfix(rates["train/steps_per_second"]), refresh=False)

    def _iteration(self) -> list[dict]:
        config = self.config
        started = time.perf_counter()
        obs = self.collector.obs.copy()
        if self.step < config.learning_starts and not config.init:
            actions = self.agent.random_act(config.n_envs, self.explore_rng)
        else:
            actions = self.agent.act(obs, explore=True)
        extras = self.agent.last_extras()
        kept_slots = () if self.kept is None else self._kept_slots()  # decided by whom each game plays now
        next_obs, reward, terminated, truncated, ended, restarted = hold_actions(
            self.collector, actions, config.frame_hold, self.mode_for
        )
        if self._stores_opponent_actions:
            extras = {**(extras or {}), OPPONENT_ACTION: self.collector.last_opponent_actions}
        if ended:  # planners keep per-game state: new games start clean
            self.agent.reset(restarted)
        self.buffer.add(obs, actions, reward, next_obs, terminated, truncated, extras=extras)
        for slot in kept_slots:
            rows = slice(slot, slot + 1)
            self.kept.add(obs[rows], actions[rows], reward[rows], next_obs[rows], terminated[rows],
                          truncated[rows], extras={k: v[rows] for k, v in (extras or {}).items()})  # fmt: skip
        self.step += config.n_envs * config.frame_hold
        collected = time.perf_counter()
        self.timing["collect"] += collected - started
        for episode in ended:
            self._record(episode)
        updating = time.perf_counter()
        self.timing["hooks"] += updating - collected
        metrics = []
        if self.step >= config.learning_starts:
            self.update_debt += config.n_envs * config.updates_per_step
            length = self.agent.sequence_length
            while self.update_debt >= 1.0:
                if length == 1:
                    batch = self.sample_transitions(self.agent.config.batch_size)
                else:
                    batch = self.buffer.sample_sequences(self.agent.config.batch_size, length, self.sample_rng,
                                                         **self.agent.sampling)  # fmt: skip
                if config.mirror:
                    batch = mirror_rows(batch, self.mirror_rng.random(batch.size) < config.mirror)
                metrics.append(self.agent.update(batch))
                priorities = self.agent.last_priorities
                if priorities is not None and batch.index is not None and self.buffer.priorities is not None:
                    self.buffer.update_priorities(batch.index, priorities)
                self.update_debt -= 1.0
        if metrics:
            self.timing["update"] += time.perf_counter() - updating
        return metrics

    def _kept_slots(self) -> np.ndarray:
        """The games whose opponent is one of the kept opponents."""
        labels = self.collector.labels
        return np.flatnonzero([labels[index] in self.kept_labels for index in self.collector.opponent])

    def sample_transitions(self, size: int) -> Batch:
        """A batch of single transitions: kept_share of it from the kept opponents' buffer once that
        holds any, the rest from the main buffer."""
        kept = round(size * self.config.kept_share) if self.kept is not None and len(self.kept) else 0
        batch = self.buffer.sample(size - kept, self.sample_rng)
        return join_batches(batch, self.kept.sample(kept, self.sample_rng)) if kept else batch

    def _record(self, episode: GameRecord) -> None:
        self.episodes += 1
        self.recent.setdefault(episode.opponent, deque(maxlen=100)).append(episode.outcome)
        self.recent.setdefault("_return", deque(maxlen=100)).append(episode.episode_return)
        if self.hooks.on_episode is not None:
            self.hooks.on_episode(episode)

    def _recent_metrics(self) -> dict:
        out = {}
        for label, values in self.recent.items():
            if label == "_return":
                out["train/episode_return"] = float(np.mean(values))
            else:
                out[f"train/{_slug(label)}/win_rate"] = float(np.mean(np.asarray(values) == 1))
        return out

    def _postfix(self, steps_per_second: float) -> dict:
        out = {"sps": f"{steps_per_second:.0f}", "upd": self.agent.updates}
        for label in ("weak", "strong"):
            key = f"eval/{label}/win_rate"
            if key in self.latest_eval:
                out[label] = f"{self.latest_eval[key]:.0%}"
        return out

    def _progress_bar(self):
        if not self.config.progress:
            return None
        from tqdm import tqdm

        return tqdm(
            total=self.config.steps,
            initial=self.step,
            unit="step",
            dynamic_ncols=True,
            desc=f"{self.config.agent} {self.run_dir.name}",
        )

    # ------------------------------------------------------------------ evaluation and saving
    def snapshot_and_evaluate(self) -> Path:
        """Save the current policy and, with an evaluator, play it against weak and strong.

        Returns the path of the step's policy snapshot."""
        path = self.run_dir / "policies" / f"step_{self.step:09d}.pt"
        self._check_finite()
        extra = {"wall_seconds": round(self._wall_now(), 1), "cpu_seconds": round(self._cpu_now(), 1),
                 "episodes": self.episodes, "train": self.config.opponents}  # fmt: skip
        digest = save_policy(path, self.agent, step=self.step, parent=self.parent, extra=extra)
        save_policy(self.run_dir / "policy.pt", self.agent, step=self.step, parent=self.parent, extra=extra)
        results: dict[str, float] = {"step": self.step}
        if self.evaluator is not None:
            results.update(self.evaluator(FrozenPolicy(self.agent), self.step))
            results["eval/cpu_hours"] = extra["cpu_seconds"] / 3600  # wins per CPU-hour, read along the run
            self.logger.write({k: v for k, v in results.items() if k != "step"}, self.step)
        self.latest_eval = results
        if self.hooks.on_policy_saved is not None:
            self.hooks.on_policy_saved(path, self.step)
        self.parent = digest
        return path

    def _wall_now(self) -> float:
        start = getattr(self, "_segment_start", None)
        return self.wall_seconds if start is None else self._wall_before + time.perf_counter() - start

    @property
    def cpu_spent(self) -> float:
        """CPU seconds this run has spent so far, over all its segments (what cpu_hours limits)."""
        return self._cpu_now()

    def _cpu_now(self) -> float:
        start = getattr(self, "_segment_cpu", None)
        return self.cpu_seconds if start is None else self._cpu_before + time.process_time() - start

    def _check_finite(self) -> None:
        bad = [
            name
            for name, tensor in self.agent.state_dict().items()
            if tensor.is_floating_point() and not torch.isfinite(tensor).all()
        ]
        if bad:
            raise FloatingPointError(
                f"{self.config.agent} weights {bad[:5]} are not finite at step {self.step}; "
                f"refusing to overwrite the last good checkpoint in {self.run_dir}"
            )

    def save(self) -> None:
        """Write the training checkpoint atomically (never with non-finite weights)."""
        self._check_finite()
        payload = training_payload(
            train_config=config_to_dict(self.config),
            agent=self.agent,
            spec=self.spec.to_dict(),
            counters={
                "step": self.step,
                "episodes": self.episodes,
                "update_debt": self.update_debt,
                "parent": self.parent,
                "wall_seconds": self._wall_now(),
                "cpu_seconds": self._cpu_now(),
            },
            recent={label: list(values) for label, values in self.recent.items()},
            latest_eval=self.latest_eval,
            collector=self.collector.state_dict(),
            rng={
                "global": rng_states(),
                "sample": self.sample_rng.bit_generator.state,
                "explore": self.explore_rng.bit_generator.state,
                "mirror": self.mirror_rng.bit_generator.state,
                "mode": self.mode_rng.bit_generator.state,
            },
            buffer=self.buffer.state_dict() if self.config.save_replay else None,
            kept=self.kept.state_dict() if self.kept is not None and self.config.save_replay else None,
        )
        write_training_checkpoint(self.checkpoint_path, payload, previous=self.previous_path)

    def has_checkpoint(self) -> bool:
        """Whether this run directory holds a training checkpoint (the latest or the one before)."""
        return has_checkpoint(self.checkpoint_path)

    def load(self, payload: dict) -> None:
        """Restore the run from a training checkpoint's payload (``read_training_checkpoint``)."""
        path = self.resumed_from or self.checkpoint_path
        saved = payload["train_config"]
        fixed = ("n_envs", "seed", "buffer_size", "kept_size", "updates_per_step", "reward")
        for key in fixed if self.resolve_opponent is not None else (*fixed, "opponents"):
            if saved.get(key, getattr(TrainConfig, key)) != getattr(self.config, key):  # keys added later: defaults
                raise CheckpointError(
                    f"{path} was made with {key}={saved.get(key)!r}, this run has {getattr(self.config, key)!r}; "
                    "resume with the original settings (--steps, reporting options and the agent's --set may change)"
                )
        self.agent.load_state_dict(payload["state_dict"])
        self.agent.load_training_state(payload["agent_training"])
        counters = payload["counters"]
        self.step, self.episodes = int(counters["step"]), int(counters["episodes"])
        self.update_debt, self.parent = float(counters["update_debt"]), counters["parent"]
        self.wall_seconds = float(counters["wall_seconds"])
        # checkpoints written before CPU time was counted: their wall time (one thread) stands in
        self.cpu_seconds = float(counters.get("cpu_seconds", counters["wall_seconds"]))
        self.recent = {label: deque(values, maxlen=100) for label, values in payload["recent"].items()}
        self.latest_eval = payload["latest_eval"]
        self.collector.load_state_dict(payload["collector"], resolve=self.resolve_opponent)
        set_rng_states(payload["rng"]["global"])
        self.sample_rng.bit_generator.state = payload["rng"]["sample"]
        self.explore_rng.bit_generator.state = payload["rng"]["explore"]
        if "mirror" in payload["rng"]:  # written since the mirror option exists
            self.mirror_rng.bit_generator.state = payload["rng"]["mirror"]
        if "mode" in payload["rng"]:  # written since defense_share exists
            self.mode_rng.bit_generator.state = payload["rng"]["mode"]
        if payload["buffer"] is not None:
            self.buffer.load_state_dict(payload["buffer"])
        elif self.step > 0:
            print(f"note: {path} holds no replay buffer; training continues from an empty one")
        if self.kept is not None and payload.get("kept") is not None:
            self.kept.load_state_dict(payload["kept"])
        elif self.kept is not None and self.step > 0:
            print(f"note: {path} holds no kept opponents' buffer; it fills from now on")
        self._record_agent_changes(payload["agent_config"])

    def _record_agent_changes(self, saved: dict) -> None:
        """Append the agent settings a resume changed (``--set``) to config_changes.jsonl.

        config.json keeps the settings the run started with; this append-only record says from
        which step each later setting applies, so no segment's settings are lost.
        """
        current = config_to_dict(self.agent.config)
        default = config_to_dict(type(self.agent.config)())  # settings added later: made with the default
        changed = {key: [saved.get(key, default[key]), value] for key, value in current.items()
                   if saved.get(key, default[key]) != value}  # fmt: skip
        if not changed:
            return
        line = json.dumps({"step": self.step, "agent": changed}) + "\n"
        with open(self.run_dir / "config_changes.jsonl", "a") as file:
            file.write(line)
        listed = ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changed.items())
        print(f"note: resumed at step {self.step} with changed agent settings: {listed}")

    def _write_json(self, name: str, data: dict) -> None:
        text = json.dumps(data, indent=2) + "\n"
        atomic_write(self.run_dir / name, lambda file: file.write(text.encode()))


def stored_train_config(run_dir: str | Path) -> dict | None:
    """The training settings of the run in ``run_dir`` as its checkpoint stores them, or None.

    Reads only the checkpoint's small part (the tensors are memory-mapped, never read), so a
    command line can take them as the defaults of a resume."""
    path = checkpoint_file(run_dir)
    if not path.is_file():
        path = previous_checkpoint(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # torch raises several types for damaged files: let the full reader say which
        read_payload(path, what="training checkpoint")
        raise CheckpointError(f"training checkpoint {path} cannot be read") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("train_config"), dict):
        raise CheckpointError(f"{path} is not a hockey-league training checkpoint")
    return dict(payload["train_config"])


def stored_agent_config(agent: str, stored: dict, path: Path):
    """The agent config a run was saved with; a field added since then takes its default."""
    known = set(config_to_dict(make_config(agent)))
    return make_config(agent, {k: v for k, v in stored.items() if k in known}, where=f"agent config in {path}")


def _slug(label: str) -> str:
    return Path(label).stem if ("/" in label or label.endswith(".pt")) else label


def train(config: TrainConfig, evaluator=None, hooks: Hooks | None = None) -> dict:
    """Run (or resume) one training run; see ``Trainer``."""
    return build_trainer(config, evaluator=evaluator, hooks=hooks).run()
