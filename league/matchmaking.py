"""Who plays whom: opponents for training (PFSP, latest self, anchors, externals) and pairings for evaluation.

Training (Vinyals et al. 2019, prioritized fictitious self-play): a pool member B is drawn with
probability proportional to f(x), x the learner's recent score against B, with
``hard`` f(x) = (1 - x)^p (focus on the members it loses to) or ``variance`` f(x) = x(1 - x)
(focus on even matches). When every weight vanishes (it beats everyone, or every score is 0 or
1 under ``variance``) the draw falls back to uniform: the sum of the *weights* is tested, not
of the win rates (DI-engine tests the latter and returns NaN probabilities then).

Evaluation: the pairings whose next game is expected to shrink the members' rating variance
the most (``evaluation.ratings.expected_variance_reduction``); each is played from both sides.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from evaluation.ratings import RatingTable, expected_variance_reduction

PFSP_WEIGHTINGS = ("hard", "variance")
ANCHOR_SPLITS = ("even", "shortfall")
SHORTFALL_FLOOR = 0.05  # default: an anchor the learner beats every time keeps some games, so it is not forgotten


def pfsp_weights(scores: Sequence[float], weighting: str = "hard", exponent: float = 2.0) -> np.ndarray:
    """Sampling probabilities over opponents from the learner's scores against them (in [0, 1]).

    Returns probabilities summing to 1; uniform when every weight is (numerically) zero.
    """
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"need a non-empty list of scores, got {scores!r}")
    if not np.all((x >= 0) & (x <= 1)):
        raise ValueError(f"scores must lie in [0, 1], got {x.tolist()}")
    if weighting == "hard":
        weights = (1.0 - x) ** exponent
    elif weighting == "variance":
        weights = x * (1.0 - x)
    else:
        raise ValueError(f"unknown PFSP weighting {weighting!r}; expected one of {', '.join(PFSP_WEIGHTINGS)}")
    total = weights.sum()
    if total < 1e-10:
        return np.full(len(x), 1.0 / len(x))
    return weights / total


def recent_scores(games: Sequence[dict], learner: str, window: int,
                  horizon: int | None = None) -> dict[str, tuple[float, int]]:  # fmt: skip
    """The learner's score (wins + draws/2 per game) against each opponent over its last ``window``
    training games with that opponent, shrunk towards 0.5 by one pseudo-game: member -> (score, games).

    ``horizon``: only the learner's last ``horizon`` training games (all opponents) count, so an
    opponent drawn rarely is judged by how the learner plays now, not by games from long ago (a
    window of games per opponent alone can reach back a million steps for such one).

    Games are taken in order of their time, not of ``games``: a ledger is read file by file in
    name order, and after a restart the newest process's file need not come last."""
    mine = [game for game in games if game["kind"] == "train" and game["a"] == learner]
    mine.sort(key=lambda game: game["time"])  # stable: games of one time keep their order
    if horizon is not None:
        mine = mine[-horizon:]
    outcomes: dict[str, list[int]] = {}
    for game in mine:
        outcomes.setdefault(game["b"], []).append(game["outcome"])
    out = {}
    for member, values in outcomes.items():
        recent = values[-window:]
        points = sum((o + 1) / 2 for o in recent)
        out[member] = ((points + 0.5) / (len(recent) + 1), len(recent))
    return out


def training_mix(
    pool: Sequence[str],
    anchors: Sequence[str],
    latest_self: str | None,
    scores: dict[str, tuple[float, int]],
    shares: tuple[float, float, float],
    weighting: str = "hard",
    exponent: float = 2.0,
    max_opponents: int = 8,
    rng: np.random.Generator | None = None,
    anchor_split: str = "even",
    externals: Sequence[str] = (),
    external_share: float = 0.0,
    shortfall_floor: float = SHORTFALL_FLOOR,
) -> dict[str, float]:
    """Opponent -> sampling weight for a learner's next round of training games.

    Args:
        pool: promoted members the learner may face (anchors excluded).
        anchors: the anchors; their share is split evenly, or with ``anchor_split="shortfall"`` in
            proportion to 1 - x (at least ``shortfall_floor``), so the anchor the learner beats
            least gets the most games.
        latest_self: the learner's own latest snapshot, or None before its first.
        scores: the learner's recent score per opponent (``recent_scores``); unknown: 0.5.
        shares: (pfsp, latest_self, anchors) shares of the games; a share with no member to
            go to is given to the others in proportion.
        max_opponents: PFSP members in the mix at most (drawn by their PFSP weight).
        externals: external policies with a share of their own (``external_share``, split like the
            anchors'), so a strong outside agent is not one PFSP draw among dozens of snapshots;
            leave them out of ``pool`` then.
    """
    pfsp_share, self_share, anchor_share = shares
    if not pool:
        pfsp_share = 0.0
    if latest_self is None:
        self_share = 0.0
    if not anchors:
        anchor_share = 0.0
    if not externals:
        external_share = 0.0
    total = pfsp_share + self_share + anchor_share + external_share
    if total <= 0:
        raise ValueError("no opponent available: the league needs anchors, a pool or a snapshot of the learner")
    mix: dict[str, float] = {}
    if pfsp_share > 0:
        members = list(pool)
        probabilities = pfsp_weights([scores.get(m, (0.5, 0))[0] for m in members], weighting, exponent)
        if len(members) > max_opponents:
            rng = rng or np.random.default_rng()
            chosen = rng.choice(len(members), size=max_opponents, replace=False, p=probabilities)
            members = [members[i] for i in sorted(chosen)]
            probabilities = probabilities[sorted(chosen)]
            probabilities = probabilities / probabilities.sum()
        for member, p in zip(members, probabilities):
            mix[member] = mix.get(member, 0.0) + pfsp_share / total * float(p)
    if self_share > 0:
        mix[latest_self] = mix.get(latest_self, 0.0) + self_share / total
    for group, share in ((anchors, anchor_share), (externals, external_share)):
        if share > 0:
            for member, part in zip(group, _split(group, scores, anchor_split, shortfall_floor)):
                mix[member] = mix.get(member, 0.0) + share / total * part
    return {member: weight for member, weight in mix.items() if weight > 0}


def _split(members: Sequence[str], scores: dict[str, tuple[float, int]], how: str, floor: float) -> list[float]:
    """Fractions of a group's share: even, or in proportion to the learner's shortfall 1 - x."""
    if how == "even":
        parts = np.full(len(members), 1.0)
    elif how == "shortfall":
        parts = np.array([max(1.0 - scores.get(m, (0.5, 0))[0], floor) for m in members])
    else:
        raise ValueError(f"unknown anchor split {how!r}; expected one of {', '.join(ANCHOR_SPLITS)}")
    return [float(p) for p in parts / parts.sum()]


def evaluation_pairings(table: RatingTable, members: Sequence[str], count: int) -> list[tuple[str, str]]:
    """The ``count`` pairs of ``members`` whose next game shrinks rating variance the most.

    Anchors are pinned, so a pair of two anchors teaches nothing and is never chosen.
    """
    env = table.env
    scored = []
    for a, b in itertools.combinations(sorted(members), 2):
        pinned = (a in table.anchors, b in table.anchors)
        if all(pinned):
            continue
        ra = table.ratings.get(a) or env.create_rating()
        rb = table.ratings.get(b) or env.create_rating()
        scored.append((expected_variance_reduction(ra, rb, env, pinned), a, b))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(a, b) for _, a, b in scored[:count]]
