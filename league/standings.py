"""The leaderboard of a league, derived from its ledger alone (ratings, records, head to head).

Nothing here is stored: ``compute_standings`` re-reads the ledger and re-rates every rated game
(games between frozen members: promotion and evaluation matches), so the leaderboard can be
rebuilt at any time and never drifts from the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from agents.registry import canonical_name
from evaluation.ratings import RatingTable, rate_games
from evaluation.report import leaderboard_frame, write_reports
from evaluation.stats import WDL
from league.config import open_league
from league.ledger import LedgerView, read_ledger
from league.pool import Pool

HEATMAP_MEMBERS = 12


@dataclass
class Standings:
    table: RatingTable
    frame: pd.DataFrame
    head_to_head: tuple[pd.DataFrame, pd.DataFrame]
    notes: list[str] = field(default_factory=list)


def member_status(member: str, view: LedgerView, anchors: list[str], problem: str | None) -> str:
    if member in anchors:
        return "anchor"
    if problem is not None:
        return "excluded"
    decision = view.promotions.get(member)
    if decision is None:
        return "candidate"
    return "promoted" if decision["promote"] else "rejected"


def records(games: list[dict]) -> dict[tuple[str, str], WDL]:
    """(member, opponent) -> the member's W/D/L against that opponent, both views of every game."""
    outcomes: dict[tuple[str, str], list[int]] = {}
    for game in games:
        for me, other, sign in ((game["a"], game["b"], 1), (game["b"], game["a"], -1)):
            outcomes.setdefault((me, other), []).append(sign * game["outcome"])
    return {key: WDL.from_outcomes(value) for key, value in outcomes.items()}


def compute_standings(
    league_dir: str | Path, anchors: list[str], view: LedgerView | None = None, pool: Pool | None = None
) -> Standings:
    """Ratings and the leaderboard rows of every member (anchors, snapshots) of a league.

    A ``pool`` kept between calls remembers which member files it has verified already."""
    view = view if view is not None else read_ledger(league_dir)
    anchors = [canonical_name(a) for a in anchors]
    pool = pool or Pool(league_dir, anchors)
    pool.update(view.snapshots)
    rated = view.rated_games()
    table = rate_games((g["a"], g["b"], g["outcome"]) for g in rated)
    by_pair = records(rated)
    members = list(dict.fromkeys(anchors + list(view.snapshots) + list(table.ratings)))
    problems = {m: pool.problem(m) for m in members}
    rows = []
    for member in members:
        rating = table.ratings.get(member) or table.env.create_rating()
        total = sum((w for (m, _), w in by_pair.items() if m == member), WDL(0, 0, 0))
        snapshot = view.snapshots.get(member, {})
        row = {
            "member": member,
            "status": member_status(member, view, anchors, problems[member]),
            "algorithm": snapshot.get("algorithm", member if member in anchors else "?"),
            "learner": snapshot.get("learner", ""),
            "step": snapshot.get("step", np.nan),
            "mu": rating.mu,
            "sigma": rating.sigma,
            "conservative": table.env.expose(rating),
            "games": total.games,
            "wins": total.wins,
            "draws": total.draws,
            "losses": total.losses,
        }
        for short, anchor in (("weak", "basic-weak"), ("strong", "basic-strong")):
            record = by_pair.get((member, anchor), WDL(0, 0, 0))
            low, high = record.interval("wins") if record.games else (np.nan, np.nan)
            row[f"win_vs_{short}"] = record.rate("wins")
            row[f"win_vs_{short}_low"], row[f"win_vs_{short}_high"] = low, high
            row[f"games_vs_{short}"] = record.games
        rows.append(row)
    rows.sort(key=lambda r: (-r["conservative"], r["member"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    frame = leaderboard_frame(rows)
    top = [r["member"] for r in rows if r["games"] > 0][:HEATMAP_MEMBERS]
    scores = pd.DataFrame(np.nan, index=top, columns=top)
    counts = pd.DataFrame(0, index=top, columns=top)
    for a in top:
        for b in top:
            record = by_pair.get((a, b))
            if record is not None and record.games:
                scores.loc[a, b], counts.loc[a, b] = record.score, record.games
    notes = [
        f"{len(rated)} rated games (promotion and evaluation matches between frozen members), "
        f"{sum(g['kind'] == 'train' for g in view.games)} training games; TrueSkill with draw probability "
        f"{table.env.draw_probability:.3f} estimated from the ledger, ranked by mu - 3 sigma; "
        f"anchors {', '.join(anchors)} have fixed ratings.",
    ]
    notes += [f"excluded: {p}" for p in problems.values() if p is not None]
    notes += [f"ledger: {s}" for s in view.skipped]
    return Standings(table, frame, (scores, counts), notes)


def write_leaderboard(
    league_dir: str | Path, view: LedgerView | None = None, pool: Pool | None = None
) -> tuple[Standings, list[Path]]:
    """Write leaderboard.{md,csv,html}, ratings.png and head_to_head.png into the league directory."""
    config = open_league(league_dir)
    standings = compute_standings(league_dir, list(config.league.anchors), view, pool)
    paths = write_reports(league_dir, standings.frame, standings.table.history, standings.head_to_head,
                          title=f"League {Path(league_dir).resolve().name}", notes=standings.notes)  # fmt: skip
    return standings, paths
