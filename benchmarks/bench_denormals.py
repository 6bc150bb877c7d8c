"""Denormal floats in a trained SAC learner's update: the update with ``flush_denormals`` off
(the CPU's IEEE default) next to the same update with it on, two copies of one training
checkpoint trained on the same batches in alternating blocks, in one process.

    python benchmarks/bench_denormals.py RUN_DIR/checkpoints/training.pt [--blocks 20]

A fresh network has no denormals, so ``bench_agents.py`` cannot show this: it needs the state of
a run that has trained a while (``scripts/train.py`` or a league learner, saved with its replay
buffer, which the batches are drawn from). torch runs on one thread, as our learners do (with
more, the switch does nothing: ``agents.common.runtime.denormals_flushed``). Times are wall
milliseconds per update, the two copies taking turns to go first; the count of denormal Adam
moments at the end shows what each copy carried.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from agents.base import AgentSpec
from agents.checkpoint import CheckpointError
from agents.common.buffer import ReplayBuffer
from agents.registry import make_agent, make_config
from agents.train import stored_agent_config
from agents.training_checkpoint import read_training_checkpoint
from plumbing.config import ConfigError, config_to_dict

SMALLEST_NORMAL = torch.finfo(torch.float32).tiny


def denormal_moments(agent) -> int:
    """How many of the agent's Adam moments are denormal (nonzero, below the smallest normal float32)."""
    return sum(
        int(((value != 0) & (value.abs() < SMALLEST_NORMAL)).sum())
        for state in agent.optimizer.state.values()
        for key, value in state.items()
        if key in ("exp_avg", "exp_avg_sq")
    )


def load_learner(path: str):
    """Two copies (flush_denormals off, on) of the SAC learner in a training checkpoint, and its buffer."""
    payload = read_training_checkpoint(path, algorithm="sac")
    if not payload.get("buffer"):
        raise CheckpointError(f"{path} holds no replay buffer to draw batches from; save the run with its buffer")
    stored = config_to_dict(stored_agent_config("sac", payload["agent_config"], Path(path)))
    spec = AgentSpec.from_dict(payload["spec"])
    copies = []
    for flush in (False, True):
        config = make_config("sac", {**stored, "device": "cpu", "flush_denormals": flush}, where=str(path))
        agent = make_agent("sac", config, spec)
        agent.load_state_dict(payload["state_dict"])
        agent.load_training_state(copy.deepcopy(payload["agent_training"]))  # no moment tensor shared
        copies.append(agent)
    saved = payload["buffer"]
    buffer = ReplayBuffer(saved["steps"] * saved["n_envs"], saved["n_envs"], spec.obs_dim, spec.action_dim)
    buffer.load_state_dict(saved)
    return copies, buffer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a SAC training checkpoint with its replay buffer")
    parser.add_argument("--blocks", type=int, default=20, help="alternating blocks of 10 updates per copy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.blocks < 1:
        print(f"bench_denormals: --blocks must be >= 1, got {args.blocks}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    try:
        (plain, flushed), buffer = load_learner(args.checkpoint)
    except (CheckpointError, ConfigError) as error:
        print(f"bench_denormals: {error}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, RuntimeError) as error:  # a checkpoint whose parts do not fit a SAC agent
        print(f"bench_denormals: {args.checkpoint} does not hold a loadable SAC learner: {error}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    batch_size = plain.config.batch_size
    before = denormal_moments(plain)
    for _ in range(10):  # warm-up: the kept tensors, the allocator
        batch = buffer.sample(batch_size, rng)
        plain.update(batch)
        flushed.update(batch)
    seconds = {"plain": 0.0, "flushed": 0.0}
    order = [("plain", plain), ("flushed", flushed)]
    for _ in range(args.blocks):
        batches = [buffer.sample(batch_size, rng) for _ in range(10)]
        for name, agent in order:
            start = time.perf_counter()
            for batch in batches:
                agent.update(batch)
            seconds[name] += time.perf_counter() - start
        order.reverse()  # neither copy always goes first
    updates = 10 * args.blocks
    result = {
        "checkpoint": args.checkpoint,
        "machine": platform.processor() or platform.machine(),
        "updates": updates,
        "denormal_moments_at_load": before,
        "ms_per_update": {name: 1e3 * value / updates for name, value in seconds.items()},
        "denormal_moments_at_end": {"plain": denormal_moments(plain), "flushed": denormal_moments(flushed)},
        "speedup": seconds["plain"] / seconds["flushed"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        ms, end = result["ms_per_update"], result["denormal_moments_at_end"]
        print(f"{updates} updates each, one thread, {before} denormal Adam moments at load")
        print(f"flush_denormals off: {ms['plain']:.2f} ms/update ({end['plain']} at end)")
        print(f"flush_denormals on:  {ms['flushed']:.2f} ms/update ({end['flushed']} at end)")
        print(f"on / off speed: {result['speedup']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
