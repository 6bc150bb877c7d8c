"""Evaluate a checkpoint against opponents: wins, draws and losses with 95% intervals, both sides.

    python scripts/evaluate.py runs/sac/policy.pt --opponents weak,strong --games 1000 [--json]
    python scripts/evaluate.py models/tdmpc2-hockey/policy.pt --set mpc=True   # TD-MPC2 with planning

Opponents are scripted names (weak, strong, random, idle) or checkpoint paths. Half of the games
are played from each side; the table shows the overall rates and the win rate per side.
"""

from __future__ import annotations

import argparse
import sys

from agents.checkpoint import load_checkpoint
from agents.registry import load_policy, make_opponent
from evaluation.evaluate import evaluate_policy, format_table, to_json
from plumbing.cli import entry_point


@entry_point
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="policy checkpoint (.pt) to evaluate")
    parser.add_argument("--opponents", default="weak,strong", help="comma-separated names or checkpoint paths")
    parser.add_argument("--games", type=int, default=1000, help="games per opponent (half from each side)")
    parser.add_argument("--seed", type=int, default=0, help="match seed")
    parser.add_argument("--n-envs", type=int, default=64, help="games played at once")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--mode", default="normal", help="normal, train_shooting or train_defense")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="change the checkpoint's stored agent config, e.g. mpc=True num_samples=512")  # fmt: skip
    args = parser.parse_args(argv)
    if args.games < 1:
        parser.error(f"--games must be positive, got {args.games}")
    checkpoint = load_checkpoint(args.checkpoint)
    policy = load_policy(args.checkpoint, device=args.device, overrides=tuple(args.set))
    names = [name.strip() for name in args.opponents.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--opponents {args.opponents!r} names no opponent; e.g. --opponents weak,strong")
    opponents = {name: make_opponent(name, seed=args.seed + 1 + i, device=args.device) for i, name in enumerate(names)}
    rows = evaluate_policy(
        policy, opponents, games=args.games, seed=args.seed, n_envs=min(args.n_envs, args.games), mode=args.mode
    )
    if args.json:
        print(
            to_json(
                rows,
                checkpoint=args.checkpoint,
                algorithm=checkpoint.algorithm,
                step=checkpoint.step,
                weights_sha256=checkpoint.sha256,
                games_per_opponent=args.games,
                seed=args.seed,
                config_overrides=args.set,
            )
        )
    else:
        print(
            f"{args.checkpoint}: {checkpoint.algorithm} at step {checkpoint.step}, "
            f"{args.games} games per opponent (half from each side), seed {args.seed}"
            + (f", config changed: {' '.join(args.set)}" if args.set else "")
        )
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
