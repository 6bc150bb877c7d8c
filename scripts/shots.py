"""How a checkpoint holds and shoots the puck: per outcome, shots per game, the share of shots the
game released at the end of the 14-frame hold (the policy never shot), the share the opponent
caught, the time spent holding and where the puck was released.

    python scripts/shots.py models/muzero-hockey/policy.pt --opponent weak --games 40
"""

from __future__ import annotations

import argparse
import sys

from agents.checkpoint import CheckpointError
from agents.registry import make_opponent
from evaluation.shots import shot_statistics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="policy checkpoint (.pt), or a scripted name (weak, strong)")
    parser.add_argument("--opponent", default="weak", help="a scripted name or a checkpoint path")
    parser.add_argument("--games", type=int, default=40, help="games (sides and first possession balanced in fours)")
    parser.add_argument("--seed", type=int, default=0, help="game i is played with seed SEED + i")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    if args.games < 1:
        parser.error(f"--games must be positive, got {args.games}")
    try:
        policy = make_opponent(args.checkpoint, seed=args.seed, device=args.device)
        opponent = make_opponent(args.opponent, seed=args.seed + 1, device=args.device)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = shot_statistics(policy, opponent, games=args.games, seed=args.seed).summary()
    print(f"{'outcome':8} {'games':>5} {'shots/game':>10} {'by timer':>9} {'caught':>7} {'holding':>8} "
          f"{'release x':>9}")  # fmt: skip
    for outcome, row in summary.items():
        print(f"{outcome:8} {row['games']:5d} {row['shots_per_game']:10.1f} {row['released_by_timer']:9.0%} "
              f"{row['caught_by_opponent']:7.0%} {row['holding']:8.0%} {row['release_x']:9.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
