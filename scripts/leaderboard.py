"""Write a league's leaderboard from its ledger: leaderboard.md, .csv and .html, ratings.png and
head_to_head.png, all in the league directory (ratings are recomputed from every recorded game).

    python scripts/leaderboard.py --league-dir runs/league
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# scripts/league.py shares its name with the league package: keep this directory off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from league.standings import write_leaderboard  # noqa: E402
from plumbing.cli import entry_point  # noqa: E402


@entry_point
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--league-dir", default="runs/league", help="the league directory (default runs/league)")
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    args = parser.parse_args(argv)
    standings, paths = write_leaderboard(args.league_dir)
    if not args.quiet:
        print((paths[0]).read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
