"""TrueSkill ratings from a list of game results, with pinned anchors and an estimated draw rate.

Ratings are a pure function of the games in order: nothing is stored, so a league can rebuild
them from its ledger at any time, or re-rate with other settings. Three choices matter:

- An explicit ``trueskill.TrueSkill`` environment is passed everywhere; the package's module-level
  functions use a hidden global environment instead (DI-engine's bug: its configured draw
  probability was silently ignored).
- The draw probability comes from the games themselves: hockey draws run from 17% (strong vs
  strong) to 70% (weak vs weak), far from the package's default 10%.
- Anchors (the scripted BasicOpponents) keep fixed ratings and are never updated, so numbers stay
  comparable between leagues (DI-engine's demo pins reference policies the same way).

One game between two players is rated with TrueSkill's closed form for two one-player teams
(Herbrich, Minka, Graepel 2007), using the environment's own ``v``/``w`` functions and draw
margin; it equals ``env.rate_1vs1`` (the tests check this) and is about 20 times faster, so ten
thousand games rate in a fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import trueskill

MU = 25.0
SIGMA = MU / 3
# Fixed anchor ratings. strong beats weak 37% / draws 48% / loses 15% (the design notes'
# measurement), which under TrueSkill's performance model is a mean gap of about 0.35 * sqrt(2) * beta
# = 2.1 points at the default beta; strong sits at the prior mean, so a fresh member starts as
# "about as good as strong".
ANCHOR_MU = {"basic-weak": 23.0, "basic-strong": 25.0}
ANCHOR_SIGMA = 0.5
DRAW_PRIOR = (0.3, 10.0)  # prior draw rate and its weight in games, for leagues with few games yet


def make_env(draw_probability: float = 0.3, mu: float = MU, sigma: float = SIGMA, beta: float | None = None,
             tau: float | None = None) -> trueskill.TrueSkill:  # fmt: skip
    """A TrueSkill environment with keyword arguments only (the positional order is a trap:
    mu, sigma, beta, tau, draw_probability)."""
    if not 0.0 < draw_probability < 1.0:
        raise ValueError(f"draw_probability must lie strictly between 0 and 1, got {draw_probability}")
    return trueskill.TrueSkill(
        mu=mu,
        sigma=sigma,
        beta=sigma / 2 if beta is None else beta,
        tau=sigma / 100 if tau is None else tau,
        draw_probability=draw_probability,
    )


def estimate_draw_probability(outcomes: Iterable[int], prior: tuple[float, float] = DRAW_PRIOR) -> float:
    """The share of draws among ``outcomes`` (+1, 0, -1), shrunk towards a prior and kept in [0.01, 0.95]."""
    rate, weight = prior
    games = draws = 0
    for outcome in outcomes:
        games += 1
        draws += outcome == 0
    estimate = (draws + rate * weight) / (games + weight)
    return min(0.95, max(0.01, estimate))


def rate_1vs1(a: trueskill.Rating, b: trueskill.Rating, outcome: int, env: trueskill.TrueSkill):
    """New ratings of A and B after one game: ``outcome`` +1 A won, 0 draw, -1 B won."""
    if outcome not in (1, 0, -1):
        raise ValueError(f"outcome must be +1, 0 or -1, got {outcome!r}")
    winner, loser = (a, b) if outcome >= 0 else (b, a)
    tau2 = env.tau * env.tau
    var_w, var_l = winner.sigma**2 + tau2, loser.sigma**2 + tau2
    c2 = 2 * env.beta**2 + var_w + var_l
    c = math.sqrt(c2)
    margin = trueskill.calc_draw_margin(env.draw_probability, 2, env) / c
    t = (winner.mu - loser.mu) / c
    if outcome == 0:
        v, w = env.v_draw(t, margin), env.w_draw(t, margin)
    else:
        v, w = env.v_win(t, margin), env.w_win(t, margin)
    new_w = trueskill.Rating(winner.mu + var_w / c * v, math.sqrt(var_w * max(1 - var_w / c2 * w, 1e-12)))
    new_l = trueskill.Rating(loser.mu - var_l / c * v, math.sqrt(var_l * max(1 - var_l / c2 * w, 1e-12)))
    return (new_w, new_l) if outcome >= 0 else (new_l, new_w)


def conservative(rating: trueskill.Rating, env: trueskill.TrueSkill) -> float:
    """The ranking score mu - k*sigma with k = env.mu / env.sigma (3 with the defaults)."""
    return env.expose(rating)


@dataclass
class RatingTable:
    """Ratings after a sequence of games.

    Attributes:
        ratings: member -> trueskill.Rating.
        games: member -> rated games played.
        env: the environment used (its draw_probability is the estimated one).
        history: (game number, member, mu, sigma) after each of the member's games.
        anchors: the members whose ratings were held fixed.
    """

    ratings: dict[str, trueskill.Rating]
    games: dict[str, int]
    env: trueskill.TrueSkill
    history: list[tuple[int, str, float, float]] = field(default_factory=list)
    anchors: frozenset = frozenset()

    def conservative(self, member: str) -> float:
        return conservative(self.ratings[member], self.env)

    def ranking(self) -> list[str]:
        """Members by mu - 3 sigma, best first (ties by name, so the order is stable)."""
        return sorted(self.ratings, key=lambda m: (-self.conservative(m), m))


def rate_games(
    games: Iterable[tuple[str, str, int]],
    anchors: dict[str, float] | None = None,
    draw_probability: float | None = None,
    anchor_sigma: float = ANCHOR_SIGMA,
    keep_history: bool = True,
) -> RatingTable:
    """Rate ``(a, b, outcome)`` games in the given order.

    Args:
        games: results, ``outcome`` from A's view (+1 win, 0 draw, -1 loss).
        anchors: member -> fixed mu (never updated; sigma ``anchor_sigma``); default ``ANCHOR_MU``.
        draw_probability: the environment's draw probability; estimated from ``games`` if None.
        keep_history: record every member's rating after each of its games (for plots).
    """
    games = list(games)
    anchors = dict(ANCHOR_MU if anchors is None else anchors)
    if draw_probability is None:
        draw_probability = estimate_draw_probability(outcome for _, _, outcome in games)
    env = make_env(draw_probability)
    ratings = {name: trueskill.Rating(mu, anchor_sigma) for name, mu in anchors.items()}
    counts = dict.fromkeys(anchors, 0)
    history: list[tuple[int, str, float, float]] = []
    for number, (a, b, outcome) in enumerate(games):
        if a == b:
            raise ValueError(f"game {number}: {a!r} cannot play itself in a rated game")
        ra = ratings.get(a) or env.create_rating()
        rb = ratings.get(b) or env.create_rating()
        new_a, new_b = rate_1vs1(ra, rb, outcome, env)
        for name, old, new in ((a, ra, new_a), (b, rb, new_b)):
            counts[name] = counts.get(name, 0) + 1
            ratings[name] = old if name in anchors else new
            if keep_history:
                history.append((number, name, ratings[name].mu, ratings[name].sigma))
    return RatingTable(ratings, counts, env, history, frozenset(anchors))


def expected_variance_reduction(a: trueskill.Rating, b: trueskill.Rating, env: trueskill.TrueSkill,
                                pinned: tuple[bool, bool] = (False, False)) -> float:  # fmt: skip
    """How much one game between A and B is expected to shrink sigma_a^2 + sigma_b^2.

    The expectation runs over the three outcomes with the probabilities TrueSkill predicts
    (performance difference ~ N(mu_a - mu_b, c^2), draw when it falls inside the draw margin).
    A pinned player's variance does not count (anchors are never updated).
    """
    p_win, p_draw, p_loss = win_draw_loss_probabilities(a, b, env)
    before = sum(r.sigma**2 for r, fixed in zip((a, b), pinned) if not fixed)
    expected = 0.0
    for outcome, probability in ((1, p_win), (0, p_draw), (-1, p_loss)):
        new = rate_1vs1(a, b, outcome, env)
        expected += probability * sum(r.sigma**2 for r, fixed in zip(new, pinned) if not fixed)
    return before - expected


def win_draw_loss_probabilities(a: trueskill.Rating, b: trueskill.Rating, env: trueskill.TrueSkill):
    """TrueSkill's predicted (win, draw, loss) probabilities of A against B."""
    c = math.sqrt(2 * env.beta**2 + a.sigma**2 + b.sigma**2)
    margin = trueskill.calc_draw_margin(env.draw_probability, 2, env)
    delta = a.mu - b.mu
    p_win = 1 - env.cdf((margin - delta) / c)
    p_loss = env.cdf((-margin - delta) / c)
    return p_win, max(0.0, 1 - p_win - p_loss), p_loss
