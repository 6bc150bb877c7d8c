"""The meta-game of a pool: the Nash equilibrium of its empirical payoff matrix, and Nash averaging.

One TrueSkill number per member assumes strength is transitive; a hockey pool need not be
(A beats B beats C beats A). The meta-game asks a question that needs no such assumption: which
mixture of members can no single member beat? For a symmetric zero-sum game with payoff
``A[i, j] = score(i vs j) - 1/2`` (antisymmetric, so the game's value is 0) that mixture ``p``
solves the linear program

    maximise v  subject to  (A^T p)_j >= v for every j,  sum(p) = 1,  p >= 0,

solved exactly with HiGHS through ``scipy.optimize.linprog``. Nash averaging (Balduzzi, Tuyls,
Perolat, Graepel 2018, "Re-evaluating evaluation") then rates each member by its payoff against
that mixture, ``(A p)_i``: 0 for the members in the mixture's support (no member beats it), below
0 for the members it exploits. Unlike an average over the pool, this rating does not reward a
member for beating many copies of one weak style.

When several mixtures are equilibria the program returns one of them (a vertex of the solution
set), not the maximum-entropy one of the paper; every equilibrium gives the same value and no
member beats any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass(frozen=True)
class MetaGame:
    """The Nash equilibrium of a symmetric zero-sum game and each player's payoff against it.

    Attributes:
        members: the players, in the order of the matrix.
        mixture: the equilibrium's weight on each member (sums to 1).
        payoff: each member's payoff against the mixture, in the matrix's units
            (for scores: expected score against the mixture minus 1/2).
        value: the game's value for the mixture (0 for an antisymmetric matrix, up to the solver's tolerance).
    """

    members: list[str]
    mixture: np.ndarray
    payoff: np.ndarray
    value: float

    def support(self, tolerance: float = 1e-6) -> list[tuple[str, float]]:
        """The members the mixture plays, heaviest first, with their weights."""
        chosen = [(m, float(w)) for m, w in zip(self.members, self.mixture) if w > tolerance]
        return sorted(chosen, key=lambda item: (-item[1], item[0]))


def nash_equilibrium(payoff: np.ndarray) -> tuple[np.ndarray, float]:
    """A maximin mixture of the row player of a zero-sum game (``payoff[i, j]``: row i's gain against column j).

    Returns:
        (mixture over rows, the value the mixture guarantees against every column).
    """
    payoff = np.asarray(payoff, dtype=float)
    if payoff.ndim != 2 or payoff.shape[0] == 0 or payoff.shape[1] == 0:
        raise ValueError(f"the payoff matrix must be a non-empty 2-D array, got shape {payoff.shape}")
    if not np.all(np.isfinite(payoff)):
        raise ValueError("the payoff matrix has missing (NaN) or infinite entries; fill them before solving")
    rows, columns = payoff.shape
    # variables: p_1..p_rows, v; minimise -v
    cost = np.zeros(rows + 1)
    cost[-1] = -1.0
    # v - (A^T p)_j <= 0 for every column j
    upper = np.hstack([-payoff.T, np.ones((columns, 1))])
    equal = np.hstack([np.ones((1, rows)), np.zeros((1, 1))])
    bounds = [(0.0, None)] * rows + [(None, None)]
    result = linprog(cost, A_ub=upper, b_ub=np.zeros(columns), A_eq=equal, b_eq=[1.0], bounds=bounds, method="highs")
    if result.status != 0:  # a bounded, feasible program by construction; this guards against solver failure
        raise RuntimeError(f"the Nash linear program failed: {result.message}")
    mixture = np.clip(result.x[:rows], 0.0, None)
    return mixture / mixture.sum(), float(result.x[-1])


def score_payoff(scores: np.ndarray) -> np.ndarray:
    """The antisymmetric payoff ``(S - S^T) / 2`` of a matrix of scores (row's (wins + draws/2) / games
    against column; 0.5 on the diagonal). Each pair's two views of its games then agree exactly."""
    scores = np.asarray(scores, dtype=float)
    return (scores - scores.T) / 2.0


def nash_averaging(members: list[str], scores: np.ndarray) -> MetaGame:
    """Nash equilibrium and Nash averages of a pool from its score matrix (see the module docstring).

    Args:
        members: the pool's members, in the order of ``scores``.
        scores: ``scores[i, j]``: member i's score against member j, in [0, 1], with no missing entries.
    """
    if len(members) != len(scores):
        raise ValueError(f"{len(members)} members for a {len(scores)}-row score matrix")
    payoff = score_payoff(scores)
    mixture, value = nash_equilibrium(payoff)
    return MetaGame(list(members), mixture, payoff @ mixture, value)
