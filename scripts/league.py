"""Run or resume a self-play league: learners train against a pool of promoted snapshots.

    python scripts/league.py                                  # the small default league in runs/league
    python scripts/league.py --league-dir runs/my --config league.toml --minutes 60
    python scripts/league.py --league-dir runs/my --learner sac-a   # one learner only (a cluster job)

A league directory holds everything: league.toml, the learners' training runs, the snapshots
(members/), the match ledger (ledger/) and the leaderboard (leaderboard.md/.html/.csv, pictures).
Run the same command again and the league continues where it stopped. Ctrl-C stops cleanly.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# This script shares its name with the league package: keep its own directory off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from league.config import open_league  # noqa: E402
from league.lease import LeaseError  # noqa: E402
from league.manager import run_league  # noqa: E402
from league.worker import LearnerWorker  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--league-dir", default="runs/league", help="the league directory (default runs/league)")
    parser.add_argument(
        "--config",
        default=None,
        help="a league TOML file; creates the league, or replaces the stored config of an existing "
        "one (default: the stored config, or the built-in default for a new league)",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="wall-time budget in minutes (0: until stopped; default: the config's [league] minutes)",
    )
    parser.add_argument(
        "--learner", default=None, help="run only this learner, in this process (what one cluster batch job runs)"
    )
    args = parser.parse_args(argv)
    if args.minutes is not None and args.minutes < 0:
        parser.error(f"--minutes must be >= 0, got {args.minutes}")
    try:
        if args.learner is not None:
            config = open_league(args.league_dir, args.config, create=True)
            minutes = config.league.minutes if args.minutes is None else args.minutes
            deadline = time.time() + 60 * minutes if minutes > 0 else None
            worker = LearnerWorker(args.league_dir, config, args.learner, deadline=deadline,
                                   log=lambda line: print(line, flush=True))  # fmt: skip
            worker.run()
            return 0
        return run_league(args.league_dir, args.config, minutes=args.minutes, log=lambda line: print(line, flush=True))
    except (ValueError, FileNotFoundError, LeaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
