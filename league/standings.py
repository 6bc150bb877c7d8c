"""The leaderboard of a league, derived from its ledger alone (ratings, records, head to head).

Nothing here is stored: ``compute_standings`` re-reads the ledger and re-rates every rated game
(games between frozen members: promotion and evaluation matches), so the leaderboard can be
rebuilt at any time and never drifts from the record.

The leaderboard is read the way a league is run:

- the **pool** (anchors, starting models, externals, promoted snapshots), ranked by TrueSkill's
  mu - 3 sigma, each with the range of ranks its rating allows at 95%, in tie groups of members
  whose ratings cannot be told apart, and the pool's meta-game (``evaluation.metagame``);
- the **candidates** outside the pool (rejected by the promotion gate, awaiting it, or excluded
  because their file is missing or tampered with), rated on the same scale but never ranked
  among the pool;
- the **learners**: where each one stands (step, round, phase) and its curve of strength over
  training;
- games against the competition **server** (``kind`` "server": a member against an outside
  opponent), counted on their own and never rated.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from agents.registry import canonical_name
from evaluation.metagame import MetaGame, nash_averaging
from evaluation.ratings import ANCHOR_MU, RatingTable, rate_games, win_draw_loss_probabilities
from evaluation.report import Report, leaderboard_frame, write_reports
from evaluation.stats import WDL
from league.config import LeagueConfig, open_league
from league.layout import learner_state_file
from league.ledger import LedgerView, read_ledger
from league.pool import Pool

HEAD_TO_HEAD_MEMBERS = 16  # the payoff matrix's default size: 16 cells a side read at 1400 px
Z95 = 1.959963984540054  # two-sided 95% normal quantile
SERVER_KIND = "server"  # games against the competition server: counted, never rated
POOL_STATUSES = ("anchor", "promoted")


@dataclass
class Standings:
    """Everything the leaderboard shows, computed from the ledger.

    Attributes:
        table: the TrueSkill ratings of every rated member.
        frame: one row per member: the pool first (by rank), then the candidates.
        head_to_head: (scores, game counts) of the pool's top members against each other, by rank.
        notes: lines printed under the tables (settings, excluded members, skipped ledger lines).
        metagame: the pool's Nash equilibrium and Nash averages, or None for a pool of fewer than two.
        metagame_filled: how many of the meta-game's pairs had no games (TrueSkill's prediction used).
        learners: one row per learner (where it stands).
        curves: one row per learner's member: step, time, rating and win rates (the learning curves).
        history: (time, member, mu, sigma) after each rated game.
        server: one row per member that played the competition server (empty if none did).
    """

    table: RatingTable
    frame: pd.DataFrame
    head_to_head: tuple[pd.DataFrame, pd.DataFrame]
    notes: list[str] = field(default_factory=list)
    metagame: MetaGame | None = None
    metagame_filled: tuple[int, int] = (0, 0)
    learners: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: list[tuple[float, str, float, float]] = field(default_factory=list)
    server: pd.DataFrame = field(default_factory=pd.DataFrame)


def member_status(member: str, view: LedgerView, anchors: list[str], problem: str | None) -> str:
    if member in anchors:
        return "anchor"
    if problem is not None:
        return "excluded"
    decision = view.promotions.get(member)
    if decision is None:
        return "candidate"
    return "promoted" if decision["promote"] else "rejected"


def member_origin(member: str, snapshot: dict, anchors: list[str]) -> str:
    """How a member entered the league: anchor, start (a learner's starting model), external or snapshot."""
    if member in anchors:
        return "anchor"
    if snapshot.get("origin") in ("start", "external"):
        return snapshot["origin"]
    return "external" if snapshot.get("algorithm") == "external" else "snapshot"


def records(games: list[dict]) -> dict[tuple[str, str], WDL]:
    """(member, opponent) -> the member's W/D/L against that opponent, both views of every game."""
    outcomes: dict[tuple[str, str], list[int]] = {}
    for game in games:
        for me, other, sign in ((game["a"], game["b"], 1), (game["b"], game["a"], -1)):
            outcomes.setdefault((me, other), []).append(sign * game["outcome"])
    return {key: WDL.from_outcomes(value) for key, value in outcomes.items()}


def rank_ranges(mus: list[float], sigmas: list[float], z: float = Z95) -> tuple[list[tuple[int, int]], list[int]]:
    """The ranks each member's rating allows, and tie groups, for members listed best first.

    Two members are told apart when their mu differ by more than ``z`` standard errors of the
    difference (``sqrt(sigma_a^2 + sigma_b^2)``). A member's best rank is 1 + the number of
    members told apart above it; its worst, the count of members not told apart below it added to
    its position. A tie group starts at the first member told apart from the group's leader.

    Returns:
        (rank range per member, 1-based tie group per member).
    """
    n = len(mus)

    def apart(i: int, j: int) -> bool:
        return abs(mus[i] - mus[j]) > z * math.hypot(sigmas[i], sigmas[j])

    ranges = []
    for i in range(n):
        above = sum(1 for j in range(n) if j != i and mus[j] > mus[i] and apart(i, j))
        below = sum(1 for j in range(n) if j != i and mus[j] < mus[i] and apart(i, j))
        ranges.append((1 + above, n - below))
    groups, leader, group = [], 0, 0
    for i in range(n):
        if i == 0 or apart(leader, i):
            leader, group = i, group + 1
        groups.append(group)
    return ranges, groups


def _pair_score(by_pair: dict, table: RatingTable, a: str, b: str) -> tuple[float, bool]:
    """A's score against B: measured when they played, else TrueSkill's prediction (second value False)."""
    record = by_pair.get((a, b))
    if record is not None and record.games:
        return record.score, True
    rating = table.ratings.get
    win, draw, _ = win_draw_loss_probabilities(
        rating(a) or table.env.create_rating(), rating(b) or table.env.create_rating(), table.env
    )
    return win + draw / 2, False


def pool_metagame(pool: list[str], by_pair: dict, table: RatingTable) -> tuple[MetaGame | None, tuple[int, int]]:
    """The Nash equilibrium of the pool's score matrix; pairs that never played get TrueSkill's prediction.

    Returns:
        (the meta-game or None for fewer than two members, (pairs predicted, pairs in all))."""
    if len(pool) < 2:
        return None, (0, 0)
    scores = np.full((len(pool), len(pool)), 0.5)
    predicted = 0
    for i, a in enumerate(pool):
        for j in range(i + 1, len(pool)):
            score, measured = _pair_score(by_pair, table, a, pool[j])
            scores[i, j], scores[j, i] = score, 1 - score
            predicted += not measured
    return nash_averaging(pool, scores), (predicted, len(pool) * (len(pool) - 1) // 2)


def learner_rows(league_dir: Path, config: LeagueConfig | None, view: LedgerView, frame: pd.DataFrame) -> pd.DataFrame:
    """Where each learner stands: its latest step, round and phase, its members and its best one."""
    latest: dict[str, int] = {}
    for game in view.games:
        if game["kind"] == "train" and isinstance(game.get("step"), int):
            latest[game["a"]] = max(latest.get(game["a"], 0), game["step"])
    names = [learner.name for learner in config.learners] if config is not None else []
    roles = {learner.name: (learner.agent, learner.role) for learner in config.learners} if config else {}
    names += sorted(
        {
            s["learner"]
            for s in view.snapshots.values()
            if s.get("origin") != "external" and s.get("algorithm") != "external"
        }
        - set(names)
    )
    rows = []
    for name in names:
        state: dict = {}
        path = learner_state_file(league_dir, name)
        try:
            state = json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError):
            state = {}
        state = state if isinstance(state, dict) else {}
        mine = frame[(frame["learner"] == name) & (frame["origin"] != "external")]
        in_pool = mine[mine["section"] == "pool"]
        best = in_pool.sort_values("conservative", ascending=False).head(1)
        step = state.get("step", latest.get(name))
        agent, role = roles.get(name, (str(mine["algorithm"].iloc[0]) if len(mine) else "?", "?"))
        rows.append(
            {
                "learner": name,
                "algorithm": agent,
                "role": role,
                "step": int(step) if isinstance(step, (int, float)) else pd.NA,
                "round": state.get("round", pd.NA),
                "phase": state.get("phase", "not started" if not state else "?"),
                "candidate": state.get("candidate") or "",
                "members": len(mine),
                "promoted": int((mine["status"] == "promoted").sum()),
                "best_member": best["member"].iloc[0] if len(best) else "",
                "best_conservative": float(best["conservative"].iloc[0]) if len(best) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def learning_curves(frame: pd.DataFrame, by_pair: dict, view: LedgerView, best: str | None) -> pd.DataFrame:
    """One row per learner's member, by step: its rating now, its win rates against the anchors and
    its score against the pool's best member (where they played)."""
    rows = []
    for row in frame.itertuples(index=False):
        if row.origin in ("anchor", "external") or not row.learner or pd.isna(row.step):
            continue
        against_best = by_pair.get((row.member, best)) if best and best != row.member else None
        rows.append(
            {
                "learner": row.learner,
                "member": row.member,
                "step": int(row.step),
                "time": view.snapshots.get(row.member, {}).get("time", np.nan),
                "status": row.status,
                "conservative": row.conservative,
                "win_vs_weak": row.win_vs_weak,
                "win_vs_strong": row.win_vs_strong,
                "score_vs_best": against_best.score if against_best is not None and against_best.games else np.nan,
                "games_vs_best": against_best.games if against_best is not None else 0,
            }
        )
    columns = [
        "learner",
        "member",
        "step",
        "time",
        "status",
        "conservative",
        "win_vs_weak",
        "win_vs_strong",
        "score_vs_best",
        "games_vs_best",
    ]
    return pd.DataFrame(rows, columns=columns).sort_values(["learner", "step"], kind="stable")


def _rejection(decision: dict | None) -> str:
    """The promotion gate's reasons for refusing a candidate, in one line."""
    reasons = (decision or {}).get("reasons")
    return "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def server_rows(games: list[dict]) -> pd.DataFrame:
    """Per member that played the competition server: games, W/D/L, rounds won/lost/drawn, disconnects."""
    rows: dict[str, dict] = {}
    for game in games:
        row = rows.setdefault(
            game["a"],
            {
                "member": game["a"],
                "opponents": set(),
                "games": 0,
                "wins": 0,
                "draws": 0,
                "losses": 0,
                "rounds_won": 0,
                "rounds_lost": 0,
                "rounds_drawn": 0,
                "disconnects": 0,
            },
        )
        row["opponents"].add(game["b"])
        row["games"] += 1
        row[{1: "wins", 0: "draws", -1: "losses"}[game["outcome"]]] += 1
        for name in ("rounds_won", "rounds_lost", "rounds_drawn"):
            row[name] += _count(game.get(name))
        row["disconnects"] += game.get("disconnected") is True
    for row in rows.values():
        row["opponents"] = len(row["opponents"])
        row["score"] = (row["wins"] + row["draws"] / 2) / row["games"]
    frame = pd.DataFrame(list(rows.values()))
    return frame.sort_values(["score", "games", "member"], ascending=[False, False, True]) if len(frame) else frame


def rate_league(view: LedgerView, keep_history: bool = True) -> RatingTable:
    """TrueSkill over the league's rated games in ledger order, with the anchors and every external
    policy that has a fixed rating pinned."""
    pinned = {**ANCHOR_MU, **view.fixed_ratings()}
    games = ((g["a"], g["b"], g["outcome"]) for g in view.rated_games())
    return rate_games(games, anchors=pinned, keep_history=keep_history)


def compute_standings(
    league_dir: str | Path,
    anchors: list[str],
    view: LedgerView | None = None,
    pool: Pool | None = None,
    head_to_head_members: int = HEAD_TO_HEAD_MEMBERS,
    config: LeagueConfig | None = None,
) -> Standings:
    """Ratings and the leaderboard rows of every member (anchors, snapshots) of a league.

    A ``pool`` kept between calls remembers which member files it has verified already.
    ``head_to_head_members``: how many of the pool's top members the payoff matrix shows."""
    league_dir = Path(league_dir)
    view = view if view is not None else read_ledger(league_dir)
    anchors = [canonical_name(a) for a in anchors]
    pool = pool or Pool(league_dir, anchors)
    pool.update(view.snapshots)
    rated = view.rated_games()
    table = rate_league(view)
    by_pair = records(rated)
    members = list(dict.fromkeys(anchors + list(view.snapshots) + list(table.ratings)))
    problems = {m: pool.problem(m) for m in members}
    rows = []
    for member in members:
        rating = table.ratings.get(member) or table.env.create_rating()
        fixed = member in table.anchors
        total = sum((w for (m, _), w in by_pair.items() if m == member), WDL(0, 0, 0))
        snapshot = view.snapshots.get(member, {})
        status = member_status(member, view, anchors, problems[member])
        # an anchor's rating is fixed by definition: it has no uncertainty to show or to rank by
        sigma = 0.0 if fixed else rating.sigma
        row = {
            "member": member,
            "section": "pool" if status in POOL_STATUSES else "candidates",
            "status": status,
            "origin": member_origin(member, snapshot, anchors),
            "algorithm": snapshot.get("algorithm", member if member in anchors else "?"),
            "learner": snapshot.get("learner", ""),
            "step": snapshot.get("step", pd.NA),
            "mu": rating.mu,
            "sigma": sigma,
            "mu_low": rating.mu - Z95 * sigma,
            "mu_high": rating.mu + Z95 * sigma,
            "conservative": rating.mu - 3 * sigma if fixed else table.env.expose(rating),
            "games": total.games,
            "wins": total.wins,
            "draws": total.draws,
            "losses": total.losses,
            "reason": _rejection(view.promotions.get(member)) if status == "rejected" else problems[member] or "",
        }
        for short, anchor in (("weak", "basic-weak"), ("strong", "basic-strong")):
            record = by_pair.get((member, anchor), WDL(0, 0, 0))
            low, high = record.interval("wins") if record.games else (np.nan, np.nan)
            row[f"win_vs_{short}"] = record.rate("wins")
            row[f"win_vs_{short}_low"], row[f"win_vs_{short}_high"] = low, high
            row[f"games_vs_{short}"] = record.games
        rows.append(row)
    rows.sort(key=lambda r: (r["section"] != "pool", -r["conservative"], r["member"]))
    in_pool = [r for r in rows if r["section"] == "pool"]
    ranges, groups = rank_ranges([r["mu"] for r in in_pool], [r["sigma"] for r in in_pool])
    for rank, (row, (best, worst), group) in enumerate(zip(in_pool, ranges, groups), 1):
        row.update(rank=rank, rank_best=best, rank_worst=worst, tie_group=group)
    metagame, filled = pool_metagame([r["member"] for r in in_pool], by_pair, table)
    if metagame is not None:
        weights = dict(zip(metagame.members, metagame.mixture))
        payoffs = dict(zip(metagame.members, metagame.payoff))
        for row in in_pool:
            row["nash_weight"] = float(weights[row["member"]])
            row["nash_score"] = 0.5 + float(payoffs[row["member"]])  # expected score against the Nash mixture
    frame = leaderboard_frame(rows)

    top = [r["member"] for r in in_pool if r["games"] > 0][:head_to_head_members]
    scores = pd.DataFrame(np.nan, index=top, columns=top)
    counts = pd.DataFrame(0, index=top, columns=top)
    for a in top:
        for b in top:
            record = by_pair.get((a, b))
            if record is not None and record.games:
                scores.loc[a, b], counts.loc[a, b] = record.score, record.games
    best = next((r["member"] for r in in_pool if r["origin"] != "anchor"), None)
    history_times = [rated[number]["time"] for number in range(len(rated))]
    history = [(history_times[n], m, mu, s) for n, m, mu, s in table.history]
    server_games = [g for g in view.games if g["kind"] == SERVER_KIND]
    notes = [
        f"{len(rated)} rated games (promotion and evaluation matches between frozen members), "
        f"{sum(g['kind'] == 'train' for g in view.games)} training games"
        + (f", {len(server_games)} games against the competition server (never rated)" if server_games else "")
        + f"; TrueSkill with draw probability {table.env.draw_probability:.3f} estimated from the ledger, ranked "
        f"by mu - 3 sigma; anchors {', '.join(anchors)} have fixed ratings.",
    ]
    notes += [f"excluded: {p}" for p in problems.values() if p is not None]
    notes += [f"ledger: {s}" for s in view.skipped]
    return Standings(
        table=table,
        frame=frame,
        head_to_head=(scores, counts),
        notes=notes,
        metagame=metagame,
        metagame_filled=filled,
        learners=learner_rows(league_dir, config, view, frame),
        curves=learning_curves(frame, by_pair, view, best),
        history=history,
        server=server_rows(server_games),
    )


def league_name(league_dir: str | Path) -> str:
    """The league's name: its directory's, with the parent's in front when the directory is named
    just "league" (``runs/league`` reads "runs/league", not "league")."""
    path = Path(league_dir).resolve()
    return f"{path.parent.name}/{path.name}" if path.name.lower() in ("league", "leagues") else path.name


def write_leaderboard(
    league_dir: str | Path,
    view: LedgerView | None = None,
    pool: Pool | None = None,
    head_to_head_members: int = HEAD_TO_HEAD_MEMBERS,
) -> tuple[Standings, list[Path]]:
    """Write leaderboard.{md,csv,html}, ratings.png, head_to_head.png and learning_curves.png into the
    league directory."""
    config = open_league(league_dir)
    view = view if view is not None else read_ledger(league_dir)
    standings = compute_standings(league_dir, list(config.league.anchors), view, pool, head_to_head_members, config)
    report = Report(
        title=f"Leaderboard of the league {league_name(league_dir)}",
        frame=standings.frame,
        history=standings.history,
        head_to_head=standings.head_to_head,
        notes=standings.notes,
        metagame=standings.metagame,
        metagame_filled=standings.metagame_filled,
        learners=standings.learners,
        curves=standings.curves,
        server=standings.server,
        written=time.time(),
        last_game=max((g["time"] for g in view.games), default=None),
    )
    return standings, write_reports(league_dir, report)
