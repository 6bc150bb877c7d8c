"""Write a league's leaderboard from its ledger: leaderboard.md, .csv and .html, ratings.png,
head_to_head.png and learning_curves.png, all in the league directory (ratings are recomputed from
every recorded game). The page shows the pool (ranks with their 95% range, tie groups, the pool's
Nash equilibrium), the candidates outside it, the learners and their curves, and the games played
on the competition server; every column is explained on the page.

    python scripts/leaderboard.py --league-dir runs/league
    python scripts/leaderboard.py --league-dir runs/league --top 20   # a larger payoff matrix
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# scripts/league.py shares its name with the league package: keep this directory off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from league.standings import HEAD_TO_HEAD_MEMBERS, write_leaderboard  # noqa: E402
from plumbing.cli import entry_point  # noqa: E402


@entry_point
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--league-dir", default="runs/league", help="the league directory (default runs/league)")
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    parser.add_argument(
        "--top",
        type=int,
        default=HEAD_TO_HEAD_MEMBERS,
        help=f"how many of the pool's top members the payoff matrix shows (default {HEAD_TO_HEAD_MEMBERS}; "
        "up to about 24 stay readable at 1400 px)",
    )
    args = parser.parse_args(argv)
    if args.top < 2:
        parser.error(f"--top must be at least 2 (a matrix of members against each other), got {args.top}")
    standings, paths = write_leaderboard(args.league_dir, head_to_head_members=args.top)
    if not args.quiet:
        print((paths[0]).read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
