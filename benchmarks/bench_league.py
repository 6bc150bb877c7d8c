"""How many games a league plays per hour on this machine, and where its time goes.

Runs a league (the default one unless --config says otherwise) in a fresh directory for
--minutes, then reads what it left behind: the ledger (games played, by kind) and each learner's
time accounts (league_state.json), plus the manager's report time. Time is split into playing
(training, promotion and evaluation games), training (gradient updates and the rest of the
training loop), checkpoints and snapshots, and bookkeeping (ledger writes and reads, ratings,
matchmaking), which must stay under 5% of the total.

    python benchmarks/bench_league.py --minutes 10 [--config league.toml] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.ratings import rate_games
from league.config import open_league
from league.layout import learner_state_file
from league.ledger import read_ledger
from league.manager import LeagueManager

GROUPS = {
    "playing": ("play (training games)", "play (promotion games)", "play (evaluation games)"),
    "training": ("train (updates)", "train (other)"),
    "checkpoints and snapshots": ("checkpoint", "snapshot"),
    "bookkeeping": ("ledger", "ratings", "matchmaking"),
}


def time_rating(n_games: int) -> float:
    """Seconds to rate ``n_games`` synthetic games among 40 members and the two anchors (best of 3)."""
    rng = np.random.default_rng(0)
    members = [f"m{i}" for i in range(40)] + ["basic-weak", "basic-strong"]
    games = []
    for _ in range(n_games):
        a, b = rng.choice(len(members), size=2, replace=False)
        games.append((members[a], members[b], int(rng.choice([1, 0, -1], p=[0.4, 0.3, 0.3]))))
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        rate_games(games)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall time the league runs (default 10)")
    parser.add_argument("--config", default=None, help="league TOML (default: the built-in default league)")
    parser.add_argument("--league-dir", default=None, help="where the league runs (default: a temporary directory)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--rate-games", type=int, default=10_000, help="games in the rating timing (default 10k)")
    args = parser.parse_args(argv)
    rating_seconds = time_rating(args.rate_games)
    print(f"rating {args.rate_games:,} games from scratch (TrueSkill, draw rate estimated, anchors pinned): "
          f"{rating_seconds:.3f} s (best of 3)")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="bench-league-") as scratch:
        league_dir = Path(args.league_dir or Path(scratch) / "league")
        config = open_league(league_dir, args.config, create=True)
        manager = LeagueManager(league_dir, config, minutes=args.minutes, log=lambda line: print(line, flush=True))
        started = time.perf_counter()
        manager.run()
        wall = time.perf_counter() - started
        view = read_ledger(league_dir)
        accounts: dict[str, float] = {}
        for learner in config.learners:
            state = learner_state_file(league_dir, learner.name)
            if state.exists():
                for key, seconds in json.loads(state.read_text()).get("timing", {}).items():
                    accounts[key] = accounts.get(key, 0.0) + seconds
        steps = sum(
            json.loads(learner_state_file(league_dir, l.name).read_text()).get("step", 0)
            for l in config.learners
            if learner_state_file(league_dir, l.name).exists()
        )

    kinds = {kind: sum(g["kind"] == kind for g in view.games) for kind in ("train", "promotion", "evaluation")}
    total_games = sum(kinds.values())
    learner_seconds = sum(accounts.values())
    if learner_seconds <= 0:
        raise SystemExit("the learners recorded no time: give the league more --minutes")
    grouped = {group: sum(accounts.get(k, 0.0) for k in keys) for group, keys in GROUPS.items()}
    other = learner_seconds - sum(grouped.values())
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "learners": [l.name for l in config.learners],
        "wall_seconds": round(wall, 1),
        "games": kinds,
        "rating_seconds": {"games": args.rate_games, "seconds": round(rating_seconds, 4)},
        "games_per_hour": round(total_games / wall * 3600),
        "rated_games_per_hour": round((kinds["promotion"] + kinds["evaluation"]) / wall * 3600),
        "training_steps": steps,
        "learner_seconds": round(learner_seconds, 1),
        "share": {group: round(seconds / learner_seconds, 4) for group, seconds in grouped.items()},
        "detail_seconds": {k: round(v, 2) for k, v in sorted(accounts.items())},
        "manager_report_seconds": round(manager.report_seconds, 2),
        "members": len(view.snapshots),
        "promoted": sum(r["promote"] for r in view.promotions.values()),
    }
    if other > 1e-6:
        result["share"]["other"] = round(other / learner_seconds, 4)
    print()
    print(f"{result['wall_seconds']:.0f} s wall, learners {', '.join(result['learners'])}, {steps:,} training steps")
    print(f"games: {total_games} ({kinds}) = {result['games_per_hour']:,} per hour "
          f"({result['rated_games_per_hour']:,} rated per hour)")  # fmt: skip
    print("learner time (summed over learner processes):")
    for group, seconds in grouped.items():
        print(f"  {group:<28} {seconds:9.1f} s  {seconds / learner_seconds:6.1%}")
    print(f"manager (leaderboard refreshes, its own process): {manager.report_seconds:.1f} s")
    bookkeeping = grouped["bookkeeping"] / learner_seconds
    print(f"bookkeeping share: {bookkeeping:.2%} ({'under' if bookkeeping < 0.05 else 'OVER'} the 5% budget)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
