"""Win/draw/loss summaries with 95% confidence intervals.

Intervals are Wilson score intervals (Wilson 1927): unlike the normal approximation they stay
inside [0, 1] and behave at 0% and 100%, which matters for agents that nearly always win.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from statistics import NormalDist

Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion; (0, 1) when trials is 0."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class WDL:
    """Wins, draws and losses of one player against one opponent."""

    wins: int
    draws: int
    losses: int

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[int]) -> WDL:
        """Count game outcomes from the player's view: +1 a win, 0 a draw, -1 a loss."""
        counts = [0, 0, 0]
        for outcome in outcomes:
            if outcome not in (1, 0, -1):
                raise ValueError(f"a game outcome is +1, 0 or -1, got {outcome!r}")
            counts[1 - outcome] += 1
        return cls(*counts)

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    def rate(self, which: str) -> float:
        return getattr(self, which) / self.games if self.games else float("nan")

    def interval(self, which: str) -> tuple[float, float]:
        return wilson_interval(getattr(self, which), self.games)

    @property
    def score(self) -> float:
        """Points per game: a win 1, a draw 1/2 (nan without games)."""
        return (self.wins + 0.5 * self.draws) / self.games if self.games else float("nan")

    def score_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """A Wilson interval for the score. A game's points take three values, whose variance is at
        most that of a win/loss coin with the same mean, so the interval is conservative."""
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        return wilson_interval(self.wins + 0.5 * self.draws, self.games, z=z)

    def __add__(self, other: WDL) -> WDL:
        return WDL(self.wins + other.wins, self.draws + other.draws, self.losses + other.losses)

    def summary(self) -> dict:
        """Counts, rates, the score and 95% intervals as plain data."""
        out: dict = {**asdict(self), "games": self.games}
        for which, short in (("wins", "win"), ("draws", "draw"), ("losses", "loss")):
            out[f"{short}_rate"] = self.rate(which)
            out[f"{short}_ci95"] = list(self.interval(which))
        if self.games:  # the score (wins + draws/2) / games, the head-to-head measure
            out["score"], out["score_ci95"] = self.score, list(self.score_interval(0.95))
        return out

    def __str__(self) -> str:
        low, high = self.interval("wins")
        return (
            f"{self.wins}W {self.draws}D {self.losses}L of {self.games}: win {self.rate('wins'):.1%} "
            f"[{low:.1%}, {high:.1%}], draw {self.rate('draws'):.1%}, loss {self.rate('losses'):.1%}"
        )
