"""The GPU check: does every agent compute the same on CUDA as on the CPU, and how fast is it there?

    python benchmarks/gpu.py                                 # on a lent GPU machine: the whole check, < 8 minutes
    python benchmarks/gpu.py --out $OUT                      # the report where the machine hands files back
    python benchmarks/gpu.py --device cpu --quick --out X    # CI's smoke run of this script (well under a minute)

On a bare lent GPU machine, the project's dependencies that its image lacks travel as wheels:
``bash benchmarks/gpu_wheels.sh`` fetches them into ``.whl/`` beforehand (its header gives the
command that installs them there and runs this script).

It writes ``gpu-report.json`` and ``gpu-report.md`` (a Markdown table) to ``--out`` (default
``runs/gpu-<date>-<time>``), prints every figure the moment it is measured, and rewrites both files
after every figure, so a run cut short still leaves a report. The header names the date, torch,
CUDA, the GPU, the CPU and Python. It installs nothing: the project's dependencies must be importable
(the checkout itself is put on the import path, so the project need not be pip-installed).

Correctness (CUDA only; without a GPU every such figure reads "no GPU"). SAC, TD-MPC2 (the ``5M``
and the ``cpu`` model sizes) and MuZero are built with one seed on the CPU and on CUDA, with the
CPU agent's weights (its initial weights plus N(0, 0.02^2) noise, so that no output is trivially
zero) loaded into the CUDA agent. Both act deterministically (``explore=False``) on the same 8
observations and then make one update on the same batch (SAC's CPU update writes its gradients
by hand and the CUDA one uses autograd, so this also checks the two against each other). Random
draws made with a CUDA generator are made on the CPU from a generator of the same seed and moved
to the GPU, so both devices use the same noise (CPU and CUDA generators give different streams for
one seed). Actions and update metrics must agree elementwise within the float32 tolerance

    |cuda - cpu| <= ATOL + RTOL * |cpu|,   ATOL = 1e-4, RTOL = 1e-3,

with TF32 off for these checks. TD-MPC2's planned actions pick elites by rank and draw one, so a
near-tie that float rounding breaks differently changes a game's action outright; the report
counts the games that differ. Then policy checkpoints saved from a CUDA agent load on the CPU
(``load_policy``) and the reverse (``load_agent``), with equal weights and actions. Then, before
the speed parts (the ones that compile and can overrun), a one-minute league with SAC, TD-MPC2 and
MuZero learners on CUDA: the ledger must hold games and no skipped records, and leaderboard.md must
exist.

Speed (side by side, in one process). SAC updates/s (batch 256, 256x256) eager, with its losses
as CUDA graphs (the config switches ``compile`` and ``compile_mode="reduce-overhead"``), with the
whole update as one CUDA graph (``graph_update``, also with ``compile``; CUDA only) and with
``torch.compile``; TD-MPC2 ``5M`` updates/s and milliseconds per planned ``act``
for 1, 16, 64 and 256 games at the official population (512 samples, 64 elites, 24 from the
policy, 6 iterations) with horizon 3 and with horizon 9, and the ratio 64 games / 1 game; TD-MPC2
with its whole update as one CUDA graph (``graph_update``; CUDA only): its metrics against the eager
update's on the same device, that a NaN observation leaves every weight as it was and raises when
the metrics are read, its updates/s without and with ``compile_update``, and the training loop's
steps/s with both; MuZero's 50-simulation search per ``act`` for 1, 64 and 256 games and the
ratio 256 / 1; the training loop's (``agents.train.Trainer``) environment steps per second for
each agent; last, TD-MPC2's updates/s and ms per plan at horizon 3 with the update's losses and
the planner compiled with CUDA graphs (``compile_update``, ``compile``,
``compile_mode="reduce-overhead"``; CUDA only). CUDA work is synchronised around every timing, and
every timing follows warm-up calls. ``--quick`` keeps every field with tiny sizes and one or two
repetitions.

The clock starts before torch is imported. Every part has a time budget and leaves the later
parts their minimum (a part that would not fit otherwise may use a later speed part's minimum,
never a later GPU check's); after DEADLINE_S no part starts ("skipped: out of time"), and an alarm
stops a part that overruns its budget. A part that raises is recorded as "error: <message>" and
the next part runs. The exit status is 0 when the script ran through, whatever the parts found
(the last line lists the failed parts); it is non-zero only when the script itself could not run
(e.g. ``--device cuda`` without a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import gc
import itertools
import json
import math
import os
import platform
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STARTED = time.monotonic()  # before torch's import, which takes seconds on a bare machine: the 8 minutes start here

import numpy as np  # noqa: E402
import torch  # noqa: E402

# Run from a checkout where the project is not pip-installed (a bare GPU machine): import it from here.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents.common.buffer import Batch, ReplayBuffer  # noqa: E402
from agents.common.runtime import resolve_device  # noqa: E402
from agents.registry import load_agent, load_policy, make_agent, save_policy  # noqa: E402
from agents.train import TrainConfig, build_trainer  # noqa: E402
from league.ledger import read_ledger  # noqa: E402
from league.manager import run_league  # noqa: E402
from plumbing.files import atomic_write  # noqa: E402

ATOL, RTOL = 1e-4, 1e-3
TOLERANCE = f"float32, elementwise |cuda - cpu| <= {ATOL:g} + {RTOL:g} * |cpu|, TF32 off"
DEADLINE_S = 410.0  # no part starts later than this after the start (the issue allows 8 minutes)
HARD_DEADLINE_S = 440.0  # the alarm stops a part that is still running by then
LEAGUE_STOP_GRACE_S = 30.0  # the league part's learners get this long to save their state when time is up
GRACE_S = 20.0  # how far a part may overrun its budget before the alarm stops it

NO_GPU = "no GPU"
OUT_OF_TIME = "skipped: out of time"
PENDING = "pending"
AGENT_NAMES = ("sac", "tdmpc2", "muzero")
OFFICIAL_POPULATION = {"num_samples": 512, "num_elites": 64, "num_pi_trajs": 24, "iterations": 6}
TDMPC2_GAMES = (1, 16, 64, 256)
TDMPC2_HORIZONS = (3, 9)
MUZERO_GAMES = (1, 64, 256)
SAC_BATCH = 256
COMPILE_MIN_S = 40.0  # a compiled SAC mode is only started with this much of the part's time left
TRAIN_UPDATES_PER_STEP = {"sac": 0.25, "tdmpc2": 1.0, "muzero": 0.25}


# ---------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    """How much each speed part measures: ``FULL`` on a GPU, ``QUICK`` for CI's smoke run."""

    quick: bool
    """Tiny sizes: a smoke run of the script (compiling is skipped on the CPU)."""
    sac_warmup: int
    """Untimed SAC updates before each timing (the compiled modes compile here)."""
    sac_updates: int
    """Timed SAC updates per mode, at most."""
    timing_seconds: float
    """Timed seconds per figure, at most (at least one timed call is always made)."""
    tdmpc2: dict
    """TD-MPC2 settings of the speed part (model size, planner population)."""
    tdmpc2_batch: int
    """Subsequences per TD-MPC2 update."""
    plan_repeats: int
    """Timed planning calls per number of games, at most."""
    update_repeats: int
    """Timed TD-MPC2 updates per horizon, at most."""
    muzero: dict
    """MuZero settings of the speed part."""
    search_repeats: int
    """Timed MuZero searches per number of games, at most."""
    train_n_envs: int
    """Games the training loop collects from at once."""
    train_learning_starts: int
    """Random steps before the training loop's first update."""
    train_steps: int
    """Timed training steps per agent, at most."""
    train_agents: dict
    """Agent settings of the training-speed part, per agent."""
    league_minutes: float
    """Wall time of the league check."""


FULL = Sizes(
    quick=False,
    sac_warmup=20,
    sac_updates=2000,
    timing_seconds=4.0,
    tdmpc2={"model_size": "5M", **OFFICIAL_POPULATION},
    tdmpc2_batch=256,
    plan_repeats=5,
    update_repeats=100,
    muzero={"num_simulations": 50},
    search_repeats=5,
    train_n_envs=16,
    train_learning_starts=500,
    train_steps=3000,
    train_agents={"sac": {}, "tdmpc2": {"model_size": "5M", **OFFICIAL_POPULATION}, "muzero": {}},
    league_minutes=1.0,
)
QUICK = Sizes(
    quick=True,
    sac_warmup=2,
    sac_updates=5,
    timing_seconds=1.0,
    tdmpc2={
        "enc_dim": 32,
        "mlp_dim": 32,
        "latent_dim": 16,
        "num_samples": 8,
        "num_elites": 2,
        "num_pi_trajs": 2,
        "iterations": 1,
    },
    tdmpc2_batch=16,
    plan_repeats=1,
    update_repeats=2,
    muzero={"num_simulations": 8, "latent_dim": 16, "hidden_dim": 32, "blocks": 1},
    search_repeats=1,
    train_n_envs=4,
    train_learning_starts=32,
    train_steps=32,
    train_agents={
        "sac": {"hidden": (32, 32), "batch_size": 32},
        "tdmpc2": {"num_samples": 16, "num_elites": 4, "num_pi_trajs": 2, "iterations": 2, "batch_size": 16},
        "muzero": {
            "latent_dim": 16,
            "hidden_dim": 16,
            "num_simulations": 4,
            "batch_size": 16,
            "unroll_steps": 2,
            "td_steps": 2,
        },
    },
    league_minutes=0.3,
)


# ---------------------------------------------------------------------------- the report
def format_value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.2e}" if 0 < abs(value) < 1e-2 else f"{value:,.4g}"
    return str(value)


def cell(value) -> str:
    """A value as a Markdown table cell."""
    return format_value(value).replace("|", "\\|")


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


class Report:
    """The report as plain data; every change is printed and both files are rewritten atomically."""

    def __init__(self, out_dir: Path, header: dict):
        self.out_dir = out_dir
        self.data: dict = {"header": header, "parts": {}, "summary": {}}

    def declare(self, name: str, fields: tuple[str, ...]) -> None:
        self.data["parts"][name] = {
            "status": PENDING,
            "seconds": None,
            "settings": "",
            "notes": [],
            "fields": dict.fromkeys(fields, PENDING),
        }

    def record(self, part: str, field: str, value) -> None:
        if isinstance(value, (np.floating, np.integer, np.bool_)):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)  # JSON has no NaN
        self.data["parts"][part]["fields"][field] = value
        print(f"  {part}.{field}: {format_value(value)}", flush=True)
        self.write()

    def settings(self, part: str, text: str) -> None:
        self.data["parts"][part]["settings"] = text
        print(f"  {part} settings: {text}", flush=True)

    def note(self, part: str, text: str) -> None:
        self.data["parts"][part]["notes"].append(text)
        print(f"  {part} note: {text}", flush=True)

    def finish(self, part: str, status: str, fill: str, seconds: float | None = None) -> None:
        """Close a part: its status, and ``fill`` for every figure it did not measure."""
        entry = self.data["parts"][part]
        pending = [name for name, value in entry["fields"].items() if value == PENDING]
        for name in pending:
            entry["fields"][name] = fill
        if status == "ok" and pending:
            status = f"ok ({len(pending)} figures {fill})"
        entry["status"] = status
        entry["seconds"] = None if seconds is None else round(seconds, 1)
        print(f"== {part}: {status}" + ("" if seconds is None else f" ({seconds:.1f} s)"), flush=True)
        self.write()

    def problems(self) -> dict[str, list[str]]:
        """Per part: its error, figures that are errors, and checks that failed."""
        out = {}
        for name, entry in self.data["parts"].items():
            found = [entry["status"]] if entry["status"].startswith("error") else []
            for field, value in entry["fields"].items():
                if isinstance(value, str) and value.startswith("error") and value != entry["status"]:
                    found.append(f"{field}: {value}")
                elif field.endswith("ok") and value is False:
                    found.append(f"{field} is false")
            if found:
                out[name] = found
        return out

    def summarise(self, seconds: float, finished: bool) -> str:
        problems = self.problems()
        skipped = [n for n, e in self.data["parts"].items() if e["status"].startswith(("skipped", "stopped"))]
        self.data["summary"] = {
            "seconds": round(seconds, 1),
            "finished": finished,
            "failed": problems,
            "skipped": skipped,
        }
        self.write()
        failed = "; ".join(f"{name} ({', '.join(items)})" for name, items in problems.items())
        return (
            f"summary: {len(self.data['parts'])} parts in {seconds:.0f} s; failed: {failed or 'none'}; "
            f"skipped or stopped: {', '.join(skipped) or 'none'}; report: {self.out_dir / 'gpu-report.md'}"
        )

    def markdown(self) -> str:
        lines = ["# GPU check", "", "| | |", "|---|---|"]
        lines += [f"| {key} | {cell(value)} |" for key, value in self.data["header"].items()]
        lines += ["", "| part | figure | value |", "|---|---|---|"]
        notes = []
        for name, entry in self.data["parts"].items():
            seconds = "" if entry["seconds"] is None else f" ({entry['seconds']} s)"
            lines.append(f"| {name} | status | {cell(entry['status'])}{seconds} |")
            lines += [f"| {name} | {field} | {cell(value)} |" for field, value in entry["fields"].items()]
            if entry["settings"]:
                notes.append(f"- {name}: {entry['settings']}")
            notes += [f"- {name}: {text}" for text in entry["notes"]]
        if notes:
            lines += ["", "## Settings and notes", "", *notes]
        summary = self.data["summary"]
        if summary:
            failed = "; ".join(f"{n}: {', '.join(items)}" for n, items in summary["failed"].items()) or "none"
            lines += [
                "",
                f"Ran {summary['seconds']} s (finished: {summary['finished']}). Failed: {failed}. "
                f"Skipped or stopped: {', '.join(summary['skipped']) or 'none'}.",
            ]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        text = json.dumps(self.data, indent=2) + "\n"
        atomic_write(self.out_dir / "gpu-report.json", lambda file: file.write(text.encode()))
        markdown = self.markdown()
        atomic_write(self.out_dir / "gpu-report.md", lambda file: file.write(markdown.encode()))


@dataclass
class Context:
    """What a part function gets: where to record, the device, the sizes and its time."""

    report: Report
    part: str
    device: torch.device
    sizes: Sizes
    ends: float  # time.monotonic() at which the part's budget is spent

    def left(self) -> float:
        return self.ends - time.monotonic()

    def record(self, field: str, value) -> None:
        self.report.record(self.part, field, value)

    def settings(self, text: str) -> None:
        self.report.settings(self.part, text)

    def note(self, text: str) -> None:
        self.report.note(self.part, text)


# ---------------------------------------------------------------------------- shared helpers
def no_gpu_reason() -> str:
    """What a figure that needs CUDA reads when the run is on the CPU (what ``run_part`` writes)."""
    return NO_GPU if not torch.cuda.is_available() else "not run: --device cpu"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(call: Callable[[], object], device: torch.device, warmup: int, max_calls: int, seconds: float) -> float:
    """Seconds per call: ``warmup`` untimed calls, then timed calls until ``max_calls`` or ``seconds``
    (at least one)."""
    for _ in range(warmup):
        call()
    synchronize(device)
    start = time.perf_counter()
    calls = 0
    while calls < max(1, max_calls) and (calls == 0 or time.perf_counter() - start < seconds):
        call()
        calls += 1
    synchronize(device)
    return (time.perf_counter() - start) / calls


def update_call(agent, batches: list[Batch]) -> Callable[[], dict]:
    """A call that makes one update of ``agent`` on the next of ``batches`` (round and round)."""
    cycle = itertools.cycle(batches)
    return lambda: agent.update(next(cycle))


def random_obs(games: int, seed: int, obs_dim: int = 18) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(games, obs_dim)).astype(np.float32)


def filled_buffer(agent, device: torch.device | str, rows: int, n_envs: int, rng: np.random.Generator) -> ReplayBuffer:
    """A replay buffer of random transitions (with the agent's extras, e.g. MuZero's search policies)."""
    spec, extras = agent.spec, getattr(agent, "buffer_extras", None) or {}
    buffer = ReplayBuffer(
        rows * n_envs,
        n_envs,
        spec.obs_dim,
        spec.action_dim,
        device=device,
        extras=extras,
        prioritized=getattr(agent, "prioritized", False),
    )
    for _ in range(rows):
        values = {}
        for name, shape in extras.items():
            if name == "action_index":  # a move of the agent's discrete set
                values[name] = rng.integers(0, extras["policy"][0], size=n_envs).astype(np.float32)
            elif name == "policy":
                values[name] = rng.dirichlet(np.ones(shape[0]), size=n_envs).astype(np.float32)
            elif name == "decision":
                values[name] = np.ones(n_envs, dtype=np.float32)
            else:
                values[name] = rng.uniform(-1, 1, size=(n_envs, *shape)).astype(np.float32)
        buffer.add(
            rng.normal(size=(n_envs, spec.obs_dim)),
            rng.uniform(-1, 1, (n_envs, spec.action_dim)),
            rng.normal(size=n_envs),
            rng.normal(size=(n_envs, spec.obs_dim)),
            rng.random(n_envs) < 0.02,
            rng.random(n_envs) < 0.01,
            extras=values or None,
        )
    return buffer


def sample_batch(agent, buffer: ReplayBuffer, size: int, rng: np.random.Generator) -> Batch:
    """A batch as the trainer samples it for this agent (single transitions or sequences)."""
    length = getattr(agent, "sequence_length", 1)
    if length == 1:
        return buffer.sample(size, rng)
    return buffer.sample_sequences(size, length, rng, **(getattr(agent, "sampling", None) or {}))


def batch_to(batch: Batch, device: torch.device) -> Batch:
    """The same batch with every tensor on ``device``."""
    moved = {}
    for field in dataclasses.fields(batch):
        value = getattr(batch, field.name)
        if isinstance(value, torch.Tensor):
            moved[field.name] = value.to(device)
        elif isinstance(value, dict):
            moved[field.name] = {key: tensor.to(device) for key, tensor in value.items()}
    return dataclasses.replace(batch, **moved)


# ---------------------------------------------------------------------------- correctness helpers
@contextlib.contextmanager
def exact_float32():
    """TF32 off for matmuls and cuDNN while inside (PyTorch may use TF32, 10-bit mantissas, for float32)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextlib.contextmanager
def same_random_draws():
    """While inside, ``torch.randn``/``torch.rand`` with a non-CPU generator draw on the CPU, from a
    CPU generator seeded with that generator's seed, and move the result to the device. A CPU agent
    and a CUDA agent built with one seed then draw the same noise (the agents draw only through
    these two functions, with generators created and seeded at construction or per game)."""
    shadows: dict[int, tuple[torch.Generator, torch.Generator]] = {}
    originals = {"randn": torch.randn, "rand": torch.rand}

    def on_cpu(name: str):
        original = originals[name]

        def draw(*size, generator=None, device=None, **kwargs):
            if generator is None or generator.device.type == "cpu":
                return original(*size, generator=generator, device=device, **kwargs)
            if id(generator) not in shadows:  # keeps the generator alive, so its id is not reused
                shadows[id(generator)] = (generator, torch.Generator().manual_seed(generator.initial_seed()))
            values = original(*size, generator=shadows[id(generator)][1], **kwargs)
            return values.to(generator.device if device is None else device)

        return draw

    torch.randn, torch.rand = on_cpu("randn"), on_cpu("rand")
    try:
        yield
    finally:
        torch.randn, torch.rand = originals["randn"], originals["rand"]


def perturbed_state(agent, seed: int) -> dict[str, torch.Tensor]:
    """The agent's weights on the CPU plus N(0, 0.02^2) noise on every float tensor (TD-MPC2 starts
    its reward and Q outputs at exactly zero, where every plan would tie)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, tensor in agent.state_dict().items():
        tensor = tensor.detach().to("cpu").clone()
        if tensor.is_floating_point():
            tensor += 0.02 * torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
        state[name] = tensor
    return state


def agent_pair(name: str, overrides: dict, target: torch.device, seed: int = 0):
    """The same agent on the CPU and on ``target``: one seed, the CPU agent's (perturbed) weights in both."""
    reference = make_agent(name, overrides={**overrides, "device": "cpu"}, seed=seed)
    state = perturbed_state(reference, seed + 1)
    reference.load_state_dict(state)
    other = make_agent(name, overrides={**overrides, "device": str(target)}, seed=seed)
    other.load_state_dict(state)
    return reference, other


def compare(value, reference) -> tuple[float, np.ndarray]:
    """The largest absolute difference and the elementwise mask of values outside the tolerance."""
    value, reference = np.asarray(value, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    error = np.abs(value - reference)
    outside = ~(error <= ATOL + RTOL * np.abs(reference))  # NaN is outside
    return (float(error.max()) if error.size else 0.0), outside


def record_comparison(ctx: Context, label: str, value, reference, per_game: bool = False) -> np.ndarray:
    largest, outside = compare(value, reference)
    ctx.record(f"{label}_max_abs_diff", largest)
    if per_game:
        ctx.record(f"{label}_games_differing", int(outside.reshape(len(outside), -1).any(axis=1).sum()))
    ctx.record(f"{label}_ok", not outside.any())
    return outside


# ---------------------------------------------------------------------------- correctness parts
ACT_VARIANTS = {
    "sac": {"act": {}},
    "tdmpc2": {"prior_act": {"mpc": False}, "plan_act": {"mpc": True}},
    "muzero": {"act": {}},
}


def correctness_fields(name: str) -> tuple[str, ...]:
    fields = [
        f"{variant}_{suffix}" for variant in ACT_VARIANTS[name] for suffix in ("max_abs_diff", "games_differing", "ok")
    ]
    return (*fields, "update_max_abs_diff", "update_ok")


def check_agent(ctx: Context, name: str, overrides: dict, games: int = 8, batch_size: int = 64) -> None:
    """CPU against ``ctx.device``: deterministic actions for ``games`` observations (each act variant),
    then the metrics of one update on the same batch."""
    ctx.settings(
        f"{name} {overrides or 'defaults'}; weights: seed 0 plus N(0, 0.02^2); {games} games; "
        f"one update on {batch_size} samples; tolerance: {TOLERANCE}"
    )
    target = ctx.device
    with exact_float32(), same_random_draws():
        for variant, settings in ACT_VARIANTS[name].items():
            reference, other = agent_pair(name, {**overrides, **settings}, target)
            obs = random_obs(games, seed=2, obs_dim=reference.spec.obs_dim)
            record_comparison(
                ctx, variant, other.act(obs, explore=False), reference.act(obs, explore=False), per_game=True
            )
        # A fresh pair for the update: after an act, TD-MPC2's target Q-functions are left in training
        # mode, and their dropout then draws from each device's global generator, which differ.
        reference, other = agent_pair(name, overrides, target)
        rng = np.random.default_rng(3)
        batch = sample_batch(reference, filled_buffer(reference, "cpu", rows=64, n_envs=8, rng=rng), batch_size, rng)
        expected = reference.update(batch)
        got = other.update(batch_to(batch, target))
        names = sorted(expected)
        outside = record_comparison(ctx, "update", [got[k] for k in names], [expected[k] for k in names])
        for index in np.flatnonzero(outside):
            ctx.note(f"update metric {names[index]}: cuda {got[names[index]]!r}, cpu {expected[names[index]]!r}")


CHECKPOINT_AGENTS = {"sac": {}, "tdmpc2": {"mpc": False}, "muzero": {"num_simulations": 8}}
CHECKPOINT_FIELDS = tuple(f"{name}_{way}_ok" for name in CHECKPOINT_AGENTS for way in ("cuda_to_cpu", "cpu_to_cuda"))


def checkpoint_round_trip(
    name: str, overrides: dict, source: torch.device, destination: torch.device, directory: Path
) -> list[str]:
    """Save a policy from an agent on ``source`` and load it on ``destination``; the problems found."""
    agent = make_agent(name, overrides={**overrides, "device": str(source)}, seed=0)
    agent.load_state_dict(perturbed_state(agent, seed=1))
    path = directory / f"{name}-from-{source.type}.pt"
    save_policy(path, agent)
    if destination.type == "cpu":
        policy = load_policy(path, device="cpu")
        loaded, act = policy.agent, policy.act
    else:
        loaded = load_agent(path, device=str(destination))
        act = functools.partial(loaded.act, explore=False)
    problems = []
    if loaded.device.type != destination.type:
        problems.append(f"loaded on {loaded.device}, asked for {destination}")
    saved, restored = agent.state_dict(), loaded.state_dict()
    differing = sorted(k for k in saved if k not in restored or not torch.equal(saved[k].cpu(), restored[k].cpu()))
    if differing or set(saved) != set(restored):
        problems.append(f"weights differ: {differing[:3]}")
    obs = random_obs(8, seed=4, obs_dim=agent.spec.obs_dim)
    largest, outside = compare(act(obs), agent.act(obs, explore=False))
    if outside.any():
        problems.append(f"actions differ by up to {largest:.2e}")
    return problems


def check_checkpoints(ctx: Context) -> None:
    """Policy checkpoints from CUDA load on the CPU (``load_policy``) and from the CPU on CUDA (``load_agent``)."""
    ctx.settings(f"agents {CHECKPOINT_AGENTS}; weights and 8 deterministic actions compared; tolerance: {TOLERANCE}")
    target, cpu = ctx.device, torch.device("cpu")
    with exact_float32(), tempfile.TemporaryDirectory() as directory:
        for name, overrides in CHECKPOINT_AGENTS.items():
            for way, (source, destination) in {"cuda_to_cpu": (target, cpu), "cpu_to_cuda": (cpu, target)}.items():
                problems = checkpoint_round_trip(name, overrides, source, destination, Path(directory))
                for problem in problems:
                    ctx.note(f"{name} {source} -> {destination}: {problem}")
                ctx.record(f"{name}_{way}_ok", not problems)


LEAGUE_FIELDS = (
    "exit_code",
    "seconds",
    "games",
    "train_games",
    "rated_games",
    "snapshots",
    "promotions",
    "learners_with_games",
    "skipped_records",
    "duplicate_records",
    "leaderboard_md",
    "ok",
)
LEAGUE_TOML = """
[league]
round_steps = 400
report_every = 20
[promotion]
min_games = 8
anchor_games = 4
opponents = 2
threshold = 0.1
[evaluation]
pairs_per_round = 1
games_per_pair = 4
n_envs = 4
"""
LEAGUE_LEARNER = """
[[learners]]
name = "{agent}"
agent = "{agent}"
seed = {seed}
device = "{device}"
train = {{n_envs = 4, learning_starts = 100, buffer_size = 20000, updates_per_step = 0.25, log_every = 200}}
"""


def check_league(ctx: Context) -> None:
    """A short league of SAC, TD-MPC2 and MuZero learners on ``ctx.device``; then its ledger and leaderboard."""
    minutes = min(ctx.sizes.league_minutes, max(0.25, (ctx.left() - 40) / 60))
    ctx.settings(
        f"{minutes:.2f} minutes; learners {', '.join(AGENT_NAMES)} (registry defaults) on {ctx.device}, "
        "4 games each, rounds of 400 steps; anchors weak and strong"
    )
    text = LEAGUE_TOML + "".join(
        LEAGUE_LEARNER.format(agent=agent, seed=seed, device=ctx.device) for seed, agent in enumerate(AGENT_NAMES)
    )
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "league.toml"
        config.write_text(text)
        league_dir = Path(directory) / "league"
        started = time.perf_counter()
        code = run_league(
            league_dir,
            config,
            minutes=minutes,
            log=lambda line: print(f"  league: {line}", flush=True),
            stop_grace=LEAGUE_STOP_GRACE_S,
        )
        ctx.record("exit_code", code)
        ctx.record("seconds", time.perf_counter() - started)
        view = read_ledger(league_dir)
        train = [game for game in view.games if game["kind"] == "train"]
        ctx.record("games", len(view.games))
        ctx.record("train_games", len(train))
        ctx.record("rated_games", len(view.rated_games()))
        ctx.record("snapshots", len(view.snapshots))
        ctx.record("promotions", len(view.promotions))
        ctx.record("learners_with_games", f"{len({game['a'] for game in train})}/{len(AGENT_NAMES)}")
        ctx.record("skipped_records", len(view.skipped))
        ctx.record("duplicate_records", view.duplicates)
        for line in view.skipped[:5]:
            ctx.note(line)
        leaderboard = (league_dir / "leaderboard.md").is_file()
        ctx.record("leaderboard_md", leaderboard)
        ctx.record("ok", code == 0 and bool(view.games) and not view.skipped and leaderboard)


# ---------------------------------------------------------------------------- speed parts
SAC_MODES = {
    "eager": {},
    "cudagraphs": {"compile": True, "compile_mode": "reduce-overhead"},
    "graph": {"graph_update": True},
    "graph_compile": {"graph_update": True, "compile": True},
    "compile": {"compile": True},
}
"""Measured in this order: the whole update as one CUDA graph (``graph_update``, with and without
compiled losses) before the plain compiled mode, which matters least."""
SAC_GPU_ONLY = ("cudagraphs", "graph", "graph_compile")
SAC_FIELDS = (
    "eager_updates_per_s",
    *(f"{mode}_{what}" for mode in SAC_MODES if mode != "eager" for what in ("updates_per_s", "warmup_s")),
)


def sac_agent(device: torch.device, mode: str):
    """SAC with the config switches of ``mode``: eager, compiled, or compiled with CUDA graphs."""
    return make_agent("sac", overrides={"device": str(device), **SAC_MODES[mode]}, seed=0)


def speed_sac(ctx: Context) -> None:
    """SAC updates per second on the same batches: eager, the losses as CUDA graphs, the whole update
    as one CUDA graph (without and with compiled losses) and compiled."""
    sizes, device = ctx.sizes, ctx.device
    ctx.settings(
        f"SAC defaults (hidden 256x256), batch {SAC_BATCH}, on {device}; modes {SAC_MODES}; "
        f"{sizes.sac_warmup} warm-up updates (compilation and graph recording included in warmup_s), then up "
        f"to {sizes.sac_updates} updates or {sizes.timing_seconds:g} s; the graph modes' metrics are not read "
        "while timed (a trainer reads them once per batch of updates)"
    )
    probe = make_agent("sac", overrides={"device": "cpu"}, seed=0)
    rng = np.random.default_rng(5)
    buffer = filled_buffer(probe, device, rows=256, n_envs=16, rng=rng)
    batches = [buffer.sample(SAC_BATCH, rng) for _ in range(16)]
    for mode in SAC_MODES:
        if mode == "cudagraphs" and device.type != "cuda":
            reason = "not available: CUDA graphs need a CUDA device"
        elif mode in SAC_GPU_ONLY and device.type != "cuda":
            reason = no_gpu_reason()
        elif mode == "compile" and sizes.quick and device.type == "cpu":
            reason = "skipped: --quick on cpu (compiling takes a minute or more)"
        elif "compile" in SAC_MODES[mode] and ctx.left() < COMPILE_MIN_S:
            reason = OUT_OF_TIME
        else:
            reason = None
        if reason is not None:
            ctx.record(f"{mode}_updates_per_s", reason)
            ctx.record(f"{mode}_warmup_s", reason)
            continue
        agent = None
        try:
            agent = sac_agent(device, mode)
            update = update_call(agent, batches)
            started = time.perf_counter()
            for _ in range(sizes.sac_warmup):
                dict(update())  # read: a graph_update mode's first reads also check its recording
            synchronize(device)
            if mode != "eager":
                ctx.record(f"{mode}_warmup_s", time.perf_counter() - started)
            per_update = time_calls(update, device, warmup=0, max_calls=sizes.sac_updates, seconds=sizes.timing_seconds)
            ctx.record(f"{mode}_updates_per_s", 1.0 / per_update)
        except Exception as error:  # one mode failing (e.g. no compiler) leaves the others to measure
            traceback.print_exc()
            for field in (f"{mode}_updates_per_s", f"{mode}_warmup_s"):
                if ctx.report.data["parts"][ctx.part]["fields"][field] == PENDING:
                    ctx.record(field, f"error: {one_line(error)}")
        del agent
        gc.collect()


TDMPC2_FIELDS = tuple(
    field
    for horizon in TDMPC2_HORIZONS
    for field in (
        f"updates_per_s_h{horizon}",
        *(f"plan_ms_h{horizon}_g{games}" for games in TDMPC2_GAMES),
        f"plan_ratio_g64_over_g1_h{horizon}",
    )
)


def speed_tdmpc2(ctx: Context) -> None:
    """TD-MPC2 updates per second and milliseconds per planned act, for each horizon and number of games."""
    sizes, device = ctx.sizes, ctx.device
    ctx.settings(
        f"TD-MPC2 {sizes.tdmpc2}, on {device}; updates on {sizes.tdmpc2_batch} subsequences of `horizon` "
        "steps; plans: deterministic act for all games in one call, after one warm-up call"
    )
    for index, horizon in enumerate(TDMPC2_HORIZONS):
        share_ends = time.monotonic() + ctx.left() / (len(TDMPC2_HORIZONS) - index)
        agent = make_agent("tdmpc2", overrides={**sizes.tdmpc2, "horizon": horizon, "device": str(device)}, seed=0)
        rng = np.random.default_rng(6)
        buffer = filled_buffer(agent, device, rows=64, n_envs=16, rng=rng)
        update = update_call(agent, [sample_batch(agent, buffer, sizes.tdmpc2_batch, rng) for _ in range(4)])
        per_update = time_calls(update, device, warmup=2, max_calls=sizes.update_repeats, seconds=sizes.timing_seconds)
        ctx.record(f"updates_per_s_h{horizon}", 1.0 / per_update)
        plan_ms = {}
        for games in TDMPC2_GAMES:
            if time.monotonic() > share_ends:
                break
            act = functools.partial(agent.act, random_obs(games, seed=7), explore=False)
            plan_ms[games] = 1000 * time_calls(
                act, device, warmup=1, max_calls=sizes.plan_repeats, seconds=sizes.timing_seconds / 2
            )
            ctx.record(f"plan_ms_h{horizon}_g{games}", plan_ms[games])
        if 1 in plan_ms and 64 in plan_ms:
            ctx.record(f"plan_ratio_g64_over_g1_h{horizon}", plan_ms[64] / plan_ms[1])
        agent = buffer = update = None
        gc.collect()


TDMPC2_GRAPH_FIELDS = (
    "graph_max_abs_diff",
    "graph_ok",
    "graph_refuses_non_finite_ok",
    "graph_warmup_s",
    "graph_updates_per_s_h3",
    "graph_compiled_warmup_s",
    "graph_compiled_updates_per_s_h3",
    "train_steps_per_s",
    "train_updates_per_s",
)
TDMPC2_GRAPH = {"graph_update": True}
TDMPC2_GRAPH_COMPILED = {"graph_update": True, "compile_update": True}
TDMPC2_GRAPH_UPDATES = 6  # 3 eager, the recording, 2 replays: every stage of an UpdateGraph


def graph_matches_eager(ctx: Context, overrides: dict, batches: list[Batch]) -> None:
    """TD-MPC2 with ``graph_update`` against the eager update on the same device, seed and batches:
    the metrics of every update within the tolerance (TF32 off)."""
    device, largest, bad = ctx.device, 0.0, []
    with exact_float32():
        eager = make_agent("tdmpc2", overrides={**overrides, "device": str(device)}, seed=0)
        graphed = make_agent("tdmpc2", overrides={**overrides, **TDMPC2_GRAPH, "device": str(device)}, seed=0)
        for index, batch in enumerate(batches):
            expected, got = eager.update(batch), dict(graphed.update(batch))
            names = sorted(expected)
            error, outside = compare([got[k] for k in names], [expected[k] for k in names])
            largest = max(largest, error)
            bad += [f"update {index + 1} {names[i]}: graph {got[names[i]]!r}, eager {expected[names[i]]!r}"
                    for i in np.flatnonzero(outside)]  # fmt: skip
        recorded = graphed._update_graph.recorded or device.type != "cuda"  # the CPU calls it eagerly
    ctx.record("graph_max_abs_diff", largest)
    for line in bad[:5]:
        ctx.note(line)
    if not recorded:
        ctx.note("the graph was not recorded")
    ctx.record("graph_ok", not bad and recorded)


def graph_refuses_non_finite(ctx: Context, overrides: dict, batches: list[Batch]) -> None:
    """A recorded update on a batch with a NaN observation changes no weight, and reading its
    metrics raises FloatingPointError; the next update is applied again."""
    agent = make_agent("tdmpc2", overrides={**overrides, **TDMPC2_GRAPH, "device": str(ctx.device)}, seed=0)
    for batch in batches[:4]:  # past the recording: the poisoned update is a replay
        dict(agent.update(batch))
    poisoned = dataclasses.replace(batches[4], obs=batches[4].obs.clone())
    poisoned.obs[0, 0] = float("nan")
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    metrics = agent.update(poisoned)
    unchanged = all(torch.equal(v, before[k]) for k, v in agent.state_dict().items())
    try:
        dict(metrics)
        raised = False
    except FloatingPointError as error:
        raised = True
        ctx.note(f"refused: {one_line(error)}")
    dict(agent.update(batches[5]))
    moved = any(not torch.equal(v, before[k]) for k, v in agent.state_dict().items())
    if not (unchanged and raised and moved):
        ctx.note(
            f"weights unchanged by the poisoned update: {unchanged}; raised on read: {raised}; next moved: {moved}"
        )
    ctx.record("graph_refuses_non_finite_ok", unchanged and raised and moved)


TDMPC2_GRAPH_TRAIN_S = 25.0  # the training loop's timed seconds at most
TDMPC2_GRAPH_TRAIN_WARMUP_S = 45.0  # what its warm-up may take: compilation and the recording


def speed_tdmpc2_graph(ctx: Context) -> None:
    """TD-MPC2 with its whole update as one CUDA graph (``graph_update``): first that it computes
    what the eager update does and refuses a non-finite loss, then its updates per second without
    and with compiled losses (``compile_update``), then the training loop's environment steps per
    second with both switches (the planner eager, as in ``speed_training``)."""
    sizes, device = ctx.sizes, ctx.device
    overrides = {**sizes.tdmpc2, "horizon": 3}
    ctx.settings(
        f"TD-MPC2 {sizes.tdmpc2}, horizon 3, batch {sizes.tdmpc2_batch}, on {device}; correctness over "
        f"{TDMPC2_GRAPH_UPDATES} updates (3 eager, the recording, replays), TF32 off, tolerance {TOLERANCE}; "
        f"speed with {TDMPC2_GRAPH} and {TDMPC2_GRAPH_COMPILED} (warmup_s: 3 eager updates, compilation and "
        f"the recording; metrics not read while timed); training as speed_training, with {TDMPC2_GRAPH_COMPILED}"
    )
    probe = make_agent("tdmpc2", overrides={**overrides, "device": "cpu"}, seed=0)
    rng = np.random.default_rng(6)
    buffer = filled_buffer(probe, device, rows=64, n_envs=16, rng=rng)
    batches = [sample_batch(probe, buffer, sizes.tdmpc2_batch, rng) for _ in range(TDMPC2_GRAPH_UPDATES)]
    graph_matches_eager(ctx, overrides, batches)
    graph_refuses_non_finite(ctx, overrides, batches)
    gc.collect()
    for label, switches in (("graph", TDMPC2_GRAPH), ("graph_compiled", TDMPC2_GRAPH_COMPILED)):
        try:  # one stage's failure (a compilation, say) leaves the others' figures
            agent = make_agent("tdmpc2", overrides={**overrides, **switches, "device": str(device)}, seed=0)
            update = update_call(agent, batches[:4])
            started = time.perf_counter()
            for _ in range(5):  # 3 eager updates (the first compiles), the recording, one replay
                dict(update())
            synchronize(device)
            ctx.record(f"{label}_warmup_s", time.perf_counter() - started)
            per_update = time_calls(
                update, device, warmup=0, max_calls=sizes.update_repeats, seconds=sizes.timing_seconds
            )
            ctx.record(f"{label}_updates_per_s_h3", 1.0 / per_update)
        except Exception as error:
            traceback.print_exc()
            for what in ("warmup_s", "updates_per_s_h3"):
                ctx.record(f"{label}_{what}", f"error: {one_line(error)}")
        agent = update = None
        gc.collect()
    # The loop's warm-up (a new agent: compilation and the recording again) comes on top of the timed seconds.
    seconds = min(TDMPC2_GRAPH_TRAIN_S, ctx.left() - TDMPC2_GRAPH_TRAIN_WARMUP_S)
    if seconds < 3.0:
        return  # run_part marks the figures left "skipped: out of time"
    with tempfile.TemporaryDirectory() as directory:
        settings = {**sizes.train_agents["tdmpc2"], **TDMPC2_GRAPH_COMPILED}
        steps, updates, elapsed = training_speed("tdmpc2", device, sizes, seconds, Path(directory), settings)
        ctx.record("train_steps_per_s", steps / elapsed)
        ctx.record("train_updates_per_s", updates / elapsed)


TDMPC2_COMPILED_GAMES = (1, 64)
TDMPC2_COMPILED_FIELDS = (
    "compiled_update_warmup_s",
    "compiled_updates_per_s_h3",
    "compiled_plan_warmup_s",
    *(f"compiled_plan_ms_h3_g{games}" for games in TDMPC2_COMPILED_GAMES),
)
TDMPC2_COMPILE = {"compile_update": True, "compile": True, "compile_mode": "reduce-overhead"}


def speed_tdmpc2_compiled(ctx: Context) -> None:
    """TD-MPC2 with its update and planner compiled with CUDA graphs (``compile_update``, ``compile``,
    ``compile_mode="reduce-overhead"``): updates per second and ms per plan at horizon 3, to set
    beside the eager figures of ``speed_tdmpc2``."""
    sizes, device = ctx.sizes, ctx.device
    ctx.settings(f"TD-MPC2 {sizes.tdmpc2}, horizon 3, {TDMPC2_COMPILE}, on {device}; warm-up calls compile")
    if device.type != "cuda" or sizes.quick:
        reason = (
            "not available: CUDA graphs need a CUDA device"
            if device.type != "cuda"
            else "skipped: --quick (compiling takes minutes)"
        )
        for field in TDMPC2_COMPILED_FIELDS:
            ctx.record(field, reason)
        return
    agent = make_agent("tdmpc2", overrides={**sizes.tdmpc2, **TDMPC2_COMPILE, "horizon": 3, "device": str(device)})
    rng = np.random.default_rng(6)
    buffer = filled_buffer(agent, device, rows=64, n_envs=16, rng=rng)
    update = update_call(agent, [sample_batch(agent, buffer, sizes.tdmpc2_batch, rng) for _ in range(4)])
    if ctx.left() < COMPILE_MIN_S:  # the update's compilation took 22 s on an H200
        return  # run_part marks the figures left "skipped: out of time"
    started = time.perf_counter()
    for _ in range(3):  # compiles, then records the CUDA graphs
        update()
    synchronize(device)
    ctx.record("compiled_update_warmup_s", time.perf_counter() - started)
    per_update = time_calls(update, device, warmup=0, max_calls=sizes.update_repeats, seconds=sizes.timing_seconds)
    ctx.record("compiled_updates_per_s_h3", 1.0 / per_update)
    for index, games in enumerate(TDMPC2_COMPILED_GAMES):
        if ctx.left() < COMPILE_MIN_S:  # each number of games compiles and records the planner anew
            return
        act = functools.partial(agent.act, random_obs(games, seed=7), explore=False)
        started = time.perf_counter()
        for _ in range(3):
            act()
        synchronize(device)
        if index == 0:
            ctx.record("compiled_plan_warmup_s", time.perf_counter() - started)
        ms = 1000 * time_calls(act, device, warmup=0, max_calls=sizes.plan_repeats, seconds=sizes.timing_seconds / 2)
        ctx.record(f"compiled_plan_ms_h3_g{games}", ms)


MUZERO_FIELDS = (*(f"search_ms_g{games}" for games in MUZERO_GAMES), "search_ratio_g256_over_g1")


def speed_muzero(ctx: Context) -> None:
    """MuZero milliseconds per act (one batched search for all games)."""
    sizes, device = ctx.sizes, ctx.device
    ctx.settings(
        f"MuZero {sizes.muzero}, on {device}; act(explore=True) for all games in one call, after one warm-up call"
    )
    agent = make_agent("muzero", overrides={**sizes.muzero, "device": str(device)}, seed=0)
    search_ms = {}
    for games in MUZERO_GAMES:
        if ctx.left() < 2:
            break
        act = functools.partial(agent.act, random_obs(games, seed=8), explore=True)
        search_ms[games] = 1000 * time_calls(
            act, device, warmup=1, max_calls=sizes.search_repeats, seconds=sizes.timing_seconds / 2
        )
        ctx.record(f"search_ms_g{games}", search_ms[games])
    if 1 in search_ms and 256 in search_ms:
        ctx.record("search_ratio_g256_over_g1", search_ms[256] / search_ms[1])


TRAINING_FIELDS = tuple(
    f"{name}_{what}" for name in AGENT_NAMES for what in ("steps_per_s", "updates_per_s", "timed_steps")
)


def training_speed(
    name: str, device: torch.device, sizes: Sizes, seconds: float, run_dir: Path, agent_settings: dict | None = None
) -> tuple:
    """(steps, updates, seconds) of the training loop after its random phase and two steps with updates
    (``agent_settings``: the agent's config values, by default the sizes' ``train_agents``)."""
    agent_settings = sizes.train_agents[name] if agent_settings is None else agent_settings
    n_envs = sizes.train_n_envs
    warm_steps = sizes.train_learning_starts + 2 * n_envs
    config = TrainConfig(
        agent=name,
        opponents="weak,strong",
        steps=warm_steps + sizes.train_steps,
        run_dir=str(run_dir),
        device=str(device),
        n_envs=n_envs,
        learning_starts=sizes.train_learning_starts,
        updates_per_step=TRAIN_UPDATES_PER_STEP[name],
        buffer_size=max(100 * n_envs, 4 * (warm_steps + sizes.train_steps)),
        eval_every=0,
        checkpoint_every=10**9,
        log_every=10**9,
        threads=0,  # keep torch's thread count as it is for the parts that follow
        progress=False,
        set=tuple(f"{key}={value!r}" for key, value in agent_settings.items()),
    )
    trainer = build_trainer(config)
    trainer.open()
    try:
        trainer.train(warm_steps)
        synchronize(device)
        steps, updates, started = trainer.step, trainer.agent.updates, time.perf_counter()
        while trainer.step < config.steps and time.perf_counter() - started < seconds:
            trainer.train(trainer.step + n_envs)
        synchronize(device)
        return trainer.step - steps, trainer.agent.updates - updates, time.perf_counter() - started
    finally:
        trainer.close()


def speed_training(ctx: Context) -> None:
    """Environment steps per second of the training loop (collection, acting and updates) per agent."""
    sizes = ctx.sizes
    ctx.settings(
        f"agents.train.Trainer on {ctx.device}: {sizes.train_n_envs} games against weak and strong, "
        f"learning_starts {sizes.train_learning_starts}, updates per step {TRAIN_UPDATES_PER_STEP}, "
        f"agent settings {sizes.train_agents}; timed after the random phase and two steps with updates, "
        f"up to {sizes.train_steps} steps per agent or its share of the time"
    )
    with tempfile.TemporaryDirectory() as directory:
        for index, name in enumerate(AGENT_NAMES):
            seconds = max(1.0, ctx.left() / (len(AGENT_NAMES) - index) - 5.0)
            steps, updates, elapsed = training_speed(name, ctx.device, sizes, seconds, Path(directory) / name)
            ctx.record(f"{name}_steps_per_s", steps / elapsed)
            ctx.record(f"{name}_updates_per_s", updates / elapsed)
            ctx.record(f"{name}_timed_steps", steps)
            gc.collect()


# ---------------------------------------------------------------------------- parts and main
@dataclass(frozen=True)
class Part:
    name: str
    run: Callable[[Context], None]
    fields: tuple[str, ...]
    budget: float
    """Seconds the part may take at most."""
    minimum: float = 5.0
    """Seconds the part needs at least: it is skipped with less, and earlier parts leave it this much."""
    needs_gpu: bool = False


PARTS = (
    Part(
        "correctness_sac",
        functools.partial(check_agent, name="sac", overrides={}),
        correctness_fields("sac"),
        budget=20,
        needs_gpu=True,
    ),
    Part(
        "correctness_tdmpc2_5M",
        functools.partial(check_agent, name="tdmpc2", overrides={"model_size": "5M"}),
        correctness_fields("tdmpc2"),
        budget=30,
        needs_gpu=True,
    ),
    Part(
        "correctness_tdmpc2_cpu",
        functools.partial(check_agent, name="tdmpc2", overrides={"model_size": "cpu"}),
        correctness_fields("tdmpc2"),
        budget=20,
        needs_gpu=True,
    ),
    Part(
        "correctness_muzero",
        functools.partial(check_agent, name="muzero", overrides={}),
        correctness_fields("muzero"),
        budget=25,
        needs_gpu=True,
    ),
    Part("checkpoints", check_checkpoints, CHECKPOINT_FIELDS, budget=25, needs_gpu=True),
    # The league, the one end-to-end check on CUDA, runs before the speed parts that compile and can overrun.
    Part("league", check_league, LEAGUE_FIELDS, budget=110, minimum=80, needs_gpu=True),
    Part("speed_sac", speed_sac, SAC_FIELDS, budget=110, minimum=10),
    Part("speed_tdmpc2", speed_tdmpc2, TDMPC2_FIELDS, budget=60, minimum=15),
    Part("speed_tdmpc2_graph", speed_tdmpc2_graph, TDMPC2_GRAPH_FIELDS, budget=100, minimum=20, needs_gpu=True),
    Part("speed_muzero", speed_muzero, MUZERO_FIELDS, budget=25, minimum=8),
    Part("speed_training", speed_training, TRAINING_FIELDS, budget=75, minimum=15),
    Part("speed_tdmpc2_compiled", speed_tdmpc2_compiled, TDMPC2_COMPILED_FIELDS, budget=60, minimum=5),
)


class PartTimeLimit(BaseException):
    """Raised by the alarm in a part that overran; a BaseException, so no ``except Exception`` swallows it."""


@contextlib.contextmanager
def hard_stop(seconds: float):
    """Raise ``PartTimeLimit`` in the main thread after ``seconds`` (where signals allow it)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise PartTimeLimit

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_part(
    part: Part, later: tuple[Part, ...], report: Report, device: torch.device, sizes: Sizes, started: float
) -> None:
    """Run one part within its time, recording an exception as its status."""
    if part.needs_gpu and device.type != "cuda":
        reason = no_gpu_reason()
        report.finish(part.name, reason, fill=reason)
        return
    elapsed = time.monotonic() - started
    reserve = sum(p.minimum for p in later if device.type == "cuda" or not p.needs_gpu)
    limit = min(part.budget, DEADLINE_S - elapsed - reserve)
    if limit < part.minimum:  # take what the later speed parts would leave unused, never a GPU check's minimum
        kept = sum(p.minimum for p in later if p.needs_gpu and device.type == "cuda")
        limit = min(part.budget, DEADLINE_S - elapsed - kept)
    if limit < part.minimum:
        report.finish(part.name, OUT_OF_TIME, fill=OUT_OF_TIME)
        return
    print(f"== {part.name} (up to {limit:.0f} s)", flush=True)
    report.data["parts"][part.name]["status"] = "running"
    ctx = Context(report, part.name, device, sizes, ends=time.monotonic() + limit)
    stop_after = min(limit + GRACE_S, HARD_DEADLINE_S - elapsed)
    clock = time.perf_counter()
    try:
        with hard_stop(stop_after):
            part.run(ctx)
        status, fill = "ok", OUT_OF_TIME
    except PartTimeLimit:
        status, fill = f"stopped: out of time after {stop_after:.0f} s", OUT_OF_TIME
    except Exception as error:
        traceback.print_exc()
        status = fill = f"error: {one_line(error)}"
    gc.collect()
    if device.type == "cuda":
        try:  # raises after a sticky CUDA error; the part's own status says more
            torch.cuda.empty_cache()
        except Exception as error:
            status = fill = f"error: {one_line(error)}"
    report.finish(part.name, status, fill=fill, seconds=time.perf_counter() - clock)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(device: torch.device, quick: bool) -> dict:
    cuda = torch.cuda.is_available()
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "none (a CPU build of torch)",
        "cudnn": str(torch.backends.cudnn.version()) if cuda else NO_GPU,
        "device_name": torch.cuda.get_device_name(0) if cuda else NO_GPU,
        "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if cuda else NO_GPU,
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "sizes": "quick" if quick else "full",
        "tf32_matmul_in_speed_parts": torch.backends.cuda.matmul.allow_tf32,
        "tolerance": TOLERANCE,
        "command": " ".join(sys.argv),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default="auto",
        help="where the speed parts run and what the CPU is compared with (auto: cuda if available)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and one or two repetitions: a smoke run of the script itself"
    )
    parser.add_argument("--out", default=None, help="report folder (default runs/gpu-<date>-<time>)")
    args = parser.parse_args(argv)
    started = STARTED if argv is None else time.monotonic()
    try:
        device = resolve_device(args.device)
    except RuntimeError as error:
        print(f"gpu.py: {error}", file=sys.stderr)
        return 2
    out_dir = Path(args.out or f"runs/gpu-{datetime.now():%Y%m%d-%H%M%S}")
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL
    if args.quick and device.type == "cpu":
        # One thread: on a small shared CI machine, torch's threads wait on each other when the cores are busy
        # (a TD-MPC2 training step took 16 times longer with 2 threads than with 1 on a loaded 2-core machine).
        torch.set_num_threads(1)
    report = Report(out_dir, header(device, args.quick))
    for part in PARTS:
        report.declare(part.name, part.fields)
    report.write()
    for key, value in report.data["header"].items():
        print(f"{key}: {value}", flush=True)
    finished = False
    try:
        for index, part in enumerate(PARTS):
            try:
                run_part(part, PARTS[index + 1 :], report, device, sizes, started)
            except Exception as error:  # outside the part's own handling (e.g. the report's write): go on
                traceback.print_exc()
                report.finish(part.name, f"error: {one_line(error)}", fill=f"error: {one_line(error)}")
        finished = True
    except KeyboardInterrupt:
        for name, entry in report.data["parts"].items():
            if entry["status"] in (PENDING, "running"):
                report.finish(name, "skipped: interrupted", fill="skipped: interrupted")
    print(report.summarise(time.monotonic() - started, finished), flush=True)
    return 0 if finished else 130


if __name__ == "__main__":
    sys.exit(main())
