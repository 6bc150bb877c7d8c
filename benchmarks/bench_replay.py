"""Prioritized replay: drawing a batch of sequence starts from a full buffer, with the sum tree
(``ReplayBuffer.sample_sequences``) next to renormalising every priority for each draw (the
O(n) method the buffer used before), alternated in one process.

    python benchmarks/bench_replay.py [--sizes 100000 500000 1000000] [--rounds 5] [--draws 20]

Both draw 256 starts with alpha 0.6 and then write 256 new priorities, as one MuZero update does.
Times are milliseconds per draw-and-update; only the index draw is timed, not the gathering of
the sequences' data, which both would do alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from agents.common.buffer import ReplayBuffer

N_ENVS, BATCH, ALPHA, BETA, LENGTH = 16, 256, 0.6, 0.4, 10


def filled(size: int, rng: np.random.Generator) -> ReplayBuffer:
    buffer = ReplayBuffer(size, N_ENVS, 1, 1, prioritized=True)
    buffer.priorities[:] = rng.uniform(0.01, 5.0, size=buffer.priorities.shape)
    buffer.rows, buffer.position = buffer.steps, 0
    return buffer


def tree_draw(buffer: ReplayBuffer, rng: np.random.Generator) -> None:
    span = buffer.rows - LENGTH + 1
    offsets, envs, _ = buffer._prioritized_starts(BATCH, span, buffer.position, ALPHA, BETA, rng)
    rows = (buffer.position + offsets) % buffer.steps
    buffer.update_priorities((rows, envs), rng.uniform(0.01, 5.0, size=BATCH))


def renormalising_draw(buffer: ReplayBuffer, rng: np.random.Generator) -> None:
    span = buffer.rows - LENGTH + 1
    valid_rows = (buffer.position + np.arange(span)) % buffer.steps
    p = buffer.priorities[valid_rows].ravel() ** ALPHA
    p /= p.sum()
    flat = rng.choice(p.size, size=BATCH, p=p)
    offsets, envs = np.divmod(flat, N_ENVS)
    _ = (p.size * p[flat]) ** -BETA
    rows = (buffer.position + offsets) % buffer.steps
    buffer.priorities[rows, envs] = rng.uniform(0.01, 5.0, size=BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"# {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    for size in args.sizes:
        buffer = filled(size, rng)
        tree_draw(buffer, rng)  # builds the tree once, as the first prioritized draw of a run does
        best = {"sum tree": float("inf"), "renormalising": float("inf")}
        for _ in range(args.rounds):
            for name, draw in (("sum tree", tree_draw), ("renormalising", renormalising_draw)):
                start = time.perf_counter()
                for _ in range(args.draws):
                    draw(buffer, rng)
                best[name] = min(best[name], (time.perf_counter() - start) / args.draws * 1e3)
        ratio = best["renormalising"] / best["sum tree"]
        print(json.dumps({"transitions": size, **{f"{k} ms": round(v, 3) for k, v in best.items()},
                          "speed-up": round(ratio, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
