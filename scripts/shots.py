"""How a checkpoint holds and shoots the puck: per outcome, shots per game, the share of shots the
game released at the end of the 14-frame hold (the policy never shot), the share the opponent
caught, the time spent holding and where the puck was released.

    python scripts/shots.py models/muzero-hockey/policy.pt --opponent weak --games 40

A '-' stands where an outcome had no shot to measure.
"""

from __future__ import annotations

import argparse
import math
import sys

from agents.registry import make_policy
from evaluation.shots import shot_statistics
from plumbing.cli import entry_point


def _cell(value: float, form: str, width: int) -> str:
    """A number in a column, or '-' where there was nothing to measure."""
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:{width}{form}}"


@entry_point
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
    policy = make_policy(args.checkpoint, seed=args.seed, device=args.device)
    opponent = make_policy(args.opponent, seed=args.seed + 1, device=args.device)
    summary = shot_statistics(policy, opponent, games=args.games, seed=args.seed).summary()
    header = ("outcome", "games", "shots/game", "by timer", "caught", "holding", "release x")
    print(f"{header[0]:8} {header[1]:>5} {header[2]:>10} {header[3]:>9} {header[4]:>7} {header[5]:>8} {header[6]:>9}")
    for outcome, row in summary.items():
        cells = (
            f"{row['games']:5d}",
            _cell(row["shots_per_game"], ".1f", 10),
            _cell(row["released_by_timer"], ".0%", 9),
            _cell(row["caught_by_opponent"], ".0%", 7),
            _cell(row["holding"], ".0%", 8),
            _cell(row["release_x"], ".2f", 9),
        )
        print(f"{outcome:8} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
