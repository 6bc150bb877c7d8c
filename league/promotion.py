"""The promotion gate: does a learner's snapshot join the pool?

A snapshot is promoted when both hold:

1. Against the current pool (the anchors and the top-rated promoted members) it scored well
   enough: the lower end of a confidence interval on its score, (wins + draws/2) / games over at
   least ``min_games`` games, exceeds ``threshold``. A bound instead of a raw rate is what keeps
   a lucky streak out (DI-engine promotes on a raw 70% after 8 games).
2. It has not regressed against the anchors: against each anchor, the upper end of its score
   interval is at least the score of the learner's last promoted snapshot minus ``tolerance``,
   i.e. the data does not show it is worse than its predecessor there.
"""

from __future__ import annotations

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


def decide(
    vs_pool: WDL,
    vs_anchors: dict[str, WDL],
    reference: dict[str, float] | None,
    min_games: int,
    threshold: float,
    confidence: float = 0.95,
    tolerance: float = 0.0,
) -> Decision:
    """Apply the gate.

    Args:
        vs_pool: the candidate's games against the pool (anchors included).
        vs_anchors: anchor -> the candidate's games against it.
        reference: anchor -> score of the learner's last promoted snapshot (None: no predecessor).
        min_games: games against the pool needed before anything is promoted.
        threshold: the bound the lower confidence limit must exceed.
    """
    reasons = []
    lower = vs_pool.score_interval(confidence)[0] if vs_pool.games else 0.0
    score = vs_pool.score if vs_pool.games else 0.0
    if vs_pool.games < min_games:
        reasons.append(f"only {vs_pool.games} games against the pool, {min_games} needed")
    elif lower <= threshold:
        reasons.append(
            f"score {score:.3f} against the pool, lower {confidence:.0%} bound {lower:.3f} <= threshold {threshold}"
        )
    for anchor, previous in (reference or {}).items():
        record = vs_anchors.get(anchor)
        if record is None or record.games == 0:
            reasons.append(f"no games against anchor {anchor} to check for regression")
            continue
        upper = record.score_interval(confidence)[1]
        if upper < previous - tolerance:
            reasons.append(
                f"regressed against {anchor}: score {record.score:.3f} (upper bound {upper:.3f}) "
                f"below the last promoted snapshot's {previous:.3f}"
            )
    return Decision(not reasons, score, lower, vs_pool.games, reasons)


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
