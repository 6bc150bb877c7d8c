"""The promotion gate: does a learner's snapshot join the pool?

The line of a learner's promoted members never loses strength. Its *incumbent* is its latest
promoted member (each promotion had to match the one before, so the latest is the best by this
gate's own measure) or, before any promotion, the model the learner started from. A candidate is
promoted when all hold:

1. Against the gate (the anchors and the top-rated promoted members) it scored well enough: the
   lower end of a confidence interval on its score, (wins + draws/2) / games over at least
   ``min_games`` games, exceeds ``threshold``. A bound instead of a raw rate keeps a lucky streak
   out (DI-engine promotes on a raw 70% after 8 games).
2. Head to head against the incumbent it scores at least ``head_to_head`` (0.5: at least even).
3. Against each anchor, and against the gate's promoted members together, the data does not show
   it weaker than the incumbent against the same opponents: the incumbent's score there exceeds
   the candidate's by no more than ``tolerance`` plus the two-sample margin at ``confidence``
   (both scores are estimates: the incumbent's came from its own gate, where a lucky sample is
   what got it promoted, so treating it as exact would refuse equal candidates). The course's
   winning teams judged their snapshots this way: against their best so far, the bots and their
   pool's best.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from evaluation.stats import WDL


@dataclass(frozen=True)
class Decision:
    promote: bool
    score: float
    lower: float
    games: int
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {"promote": self.promote, "score": self.score, "lower": self.lower, "games": self.games,
                "reasons": list(self.reasons)}  # fmt: skip


@dataclass(frozen=True)
class Incumbent:
    """The learner's best promoted member, as the gate compares a candidate with it."""

    member: str
    head_to_head: WDL  # the candidate's games against it
    results: dict[str, WDL]  # its own games against the candidate's gate opponents


def decide(
    results: dict[str, WDL],
    anchors: list[str],
    min_games: int,
    threshold: float,
    confidence: float = 0.95,
    incumbent: Incumbent | None = None,
    head_to_head: float = 0.5,
    tolerance: float = 0.0,
) -> Decision:
    """Apply the gate.

    Args:
        results: gate opponent -> the candidate's games against it (anchors included).
        anchors: which of them are anchors.
        min_games: games against the gate needed before anything is promoted.
        threshold: the bound the lower confidence limit of the gate score must exceed.
        incumbent: the learner's best promoted member and its games (None: the learner has none).
        head_to_head: the score against the incumbent needed, at least.
        tolerance: how far the candidate's score may fall below the incumbent's against the same
            opponents (each anchor, each of the pool's top members, the pool's top together) beyond
            the two-sample margin.
    """
    reasons = []
    vs_pool = sum(results.values(), WDL(0, 0, 0))
    lower = vs_pool.score_interval(confidence)[0] if vs_pool.games else 0.0
    score = vs_pool.score if vs_pool.games else 0.0
    if vs_pool.games < min_games:
        reasons.append(f"only {vs_pool.games} games against the pool, {min_games} needed")
    elif lower <= threshold:
        reasons.append(
            f"score {score:.3f} against the pool, lower {confidence:.0%} bound {lower:.3f} <= threshold {threshold}"
        )
    if incumbent is not None:
        reasons += _weaker_than(incumbent, results, anchors, confidence, head_to_head, tolerance)
    return Decision(not reasons, score, lower, vs_pool.games, reasons)


def _weaker_than(incumbent: Incumbent, results: dict[str, WDL], anchors: list[str], confidence: float,
                 head_to_head: float, tolerance: float) -> list[str]:  # fmt: skip
    reasons = []
    name, duel = incumbent.member, incumbent.head_to_head
    if duel.games == 0:
        reasons.append(f"no games against {name}, the learner's best promoted member")
    elif duel.score < head_to_head:
        reasons.append(f"head to head against {name}: score {duel.score:.3f} over {duel.games} games, "
                       f"{head_to_head} needed")  # fmt: skip
    # Each anchor, each of the pool's top members alone (a collapse against one strong member is
    # not averaged away by the others) and the pool's top together; Bonferroni keeps the chance of
    # refusing a candidate that is truly as strong at 1 - confidence over all these comparisons.
    groups = {anchor: [anchor] for anchor in anchors if anchor in results}
    top = [m for m in results if m not in anchors and m in incumbent.results]
    groups.update({member: [member] for member in top})
    if len(top) > 1:
        groups["the pool's top"] = top
    z = _z(1 - (1 - confidence) / max(1, len(groups)))
    for label, members in groups.items():
        mine = sum((results[m] for m in members), WDL(0, 0, 0))
        theirs = sum((incumbent.results.get(m, WDL(0, 0, 0)) for m in members), WDL(0, 0, 0))
        if mine.games == 0 or theirs.games == 0:
            reasons.append(f"no games against {label} to compare with {name}")
            continue
        gap = theirs.score - mine.score
        margin = z * math.sqrt(_variance(mine) / mine.games + _variance(theirs) / theirs.games)
        if gap > margin + tolerance:
            reasons.append(f"weaker than {name} against {label}: score {mine.score:.3f} against its "
                           f"{theirs.score:.3f} ({mine.games} and {theirs.games} games; a gap over "
                           f"{margin + tolerance:.3f} is significant)")  # fmt: skip
    return reasons


def _variance(record: WDL) -> float:
    """The variance of one game's score (1, 1/2 or 0) in this record, at least that of one game
    in a hundred going the other way (so 40 wins out of 40 do not count as certain)."""
    n, s = record.games, record.score
    spread = (record.wins * (1 - s) ** 2 + record.draws * (0.5 - s) ** 2 + record.losses * s**2) / n
    return max(spread, 0.01 * 0.99)


def _z(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (1.96 for 0.95)."""
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def decide_exploit(results: dict[str, WDL], games: int, threshold: float, confidence: float = 0.95) -> Decision:
    """An exploiter's gate: its score against its targets (the main learners' latest snapshots)
    reaches ``threshold`` over at least ``games`` games (AlphaStar's 70% rule, draws counted half)."""
    total = sum(results.values(), WDL(0, 0, 0))
    score = total.score if total.games else 0.0
    lower = total.score_interval(confidence)[0] if total.games else 0.0
    reasons = []
    if total.games < games:
        reasons.append(f"only {total.games} games against its targets, {games} needed")
    elif score < threshold:
        reasons.append(f"score {score:.3f} against its targets, {threshold} needed")
    return Decision(not reasons, score, lower, total.games, reasons)


def even_games(n: int) -> int:
    """``n`` rounded up to even, so that a match is played half from each side."""
    return n + (n % 2)


def promotion_gate(anchors: list[str], promoted: list[str], conservative, opponents: int, min_games: int,
                   anchor_games: int) -> dict[str, int]:  # fmt: skip
    """Whom a candidate plays at the gate, and how many games each (even: half from each side).

    Args:
        anchors: the anchors, always faced.
        promoted: the playable promoted members (the candidate excluded).
        conservative: member -> its rating's mu - 3 sigma, or None when it has no rating yet.
        opponents: how many of the top-rated promoted members it faces besides the anchors.
        min_games: games against the gate in all, at least.
        anchor_games: games against each anchor, at least.
    """
    ranked = sorted(promoted, key=lambda m: -conservative(m) if conservative(m) is not None else float("inf"))
    gate = list(anchors) + ranked[:opponents]
    per_opponent = even_games(max(2, -(-min_games // len(gate))))
    return {m: max(per_opponent, even_games(anchor_games)) if m in anchors else per_opponent for m in gate}
