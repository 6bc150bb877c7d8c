"""TrueSkill over game results: the closed form against the trueskill package, known values, pinned
anchors, the estimated draw rate, and independence from the package's global environment."""

from __future__ import annotations

import random

import pytest
import trueskill

from evaluation.ratings import (
    ANCHOR_MU,
    estimate_draw_probability,
    expected_variance_reduction,
    make_env,
    rate_1vs1,
    rate_games,
    win_draw_loss_probabilities,
)


@pytest.mark.parametrize("draw_probability", [0.1, 0.35, 0.7])
def test_closed_form_equals_the_trueskill_package(draw_probability):
    env = make_env(draw_probability)
    rng = random.Random(0)
    for _ in range(100):
        a = trueskill.Rating(rng.uniform(5, 45), rng.uniform(0.3, 9))
        b = trueskill.Rating(rng.uniform(5, 45), rng.uniform(0.3, 9))
        expected = {
            1: trueskill.rate_1vs1(a, b, env=env),
            0: trueskill.rate_1vs1(a, b, drawn=True, env=env),
            -1: trueskill.rate_1vs1(b, a, env=env)[::-1],
        }
        for outcome, reference in expected.items():
            for mine, theirs in zip(rate_1vs1(a, b, outcome, env), reference):
                assert mine.mu == pytest.approx(theirs.mu, abs=1e-9)
                assert mine.sigma == pytest.approx(theirs.sigma, abs=1e-9)


def test_known_values_from_the_prior():
    env = make_env(0.10)  # the package's documented defaults
    winner, loser = rate_1vs1(env.create_rating(), env.create_rating(), 1, env)
    assert (round(winner.mu, 3), round(winner.sigma, 3)) == (29.396, 7.171)
    assert (round(loser.mu, 3), round(loser.sigma, 3)) == (20.604, 7.171)
    drawn = rate_1vs1(env.create_rating(), env.create_rating(), 0, env)
    assert [(round(r.mu, 3), round(r.sigma, 3)) for r in drawn] == [(25.0, 6.458)] * 2


def test_a_draw_moves_the_weaker_player_up_and_the_stronger_down():
    env = make_env(0.4)
    strong, weak = rate_1vs1(trueskill.Rating(30, 3), trueskill.Rating(20, 3), 0, env)
    assert strong.mu < 30 and weak.mu > 20


def test_anchors_stay_fixed_and_the_draw_rate_comes_from_the_games():
    games = [("x", "basic-weak", 1)] * 30 + [("x", "basic-strong", 0)] * 30 + [("x", "basic-strong", -1)] * 10
    table = rate_games(games)
    assert table.ratings["basic-weak"].mu == ANCHOR_MU["basic-weak"]
    assert table.ratings["basic-strong"].mu == ANCHOR_MU["basic-strong"]
    assert table.games == {"basic-weak": 30, "basic-strong": 40, "x": 70}
    assert table.env.draw_probability == pytest.approx(estimate_draw_probability([1] * 30 + [0] * 30 + [-1] * 10))
    assert table.env.draw_probability == pytest.approx((30 + 0.3 * 10) / (70 + 10))
    assert ANCHOR_MU["basic-weak"] < table.ratings["x"].mu
    assert len(table.history) == 2 * len(games)


def test_ratings_do_not_depend_on_the_global_environment():
    games = [("a", "b", 1), ("b", "c", 0), ("c", "a", -1), ("a", "c", 0)] * 5
    before = rate_games(games, anchors={})
    trueskill.setup(mu=0.0, sigma=1.0, beta=0.1, tau=0.0, draw_probability=0.9)  # what DI-engine's globals did
    try:
        after = rate_games(games, anchors={})
    finally:
        trueskill.setup()
    assert before.ratings == after.ratings


def test_ranking_is_by_mu_minus_three_sigma():
    table = rate_games([("sure", "basic-weak", 1)] * 40 + [("lucky", "basic-weak", 1)] * 2)
    # "lucky" may have a high mu after two wins, but its sigma keeps it below "sure"
    assert table.ranking().index("sure") < table.ranking().index("lucky")
    assert table.conservative("sure") == pytest.approx(table.ratings["sure"].mu - 3 * table.ratings["sure"].sigma)


def test_draw_probability_estimate_is_shrunk_and_bounded():
    assert estimate_draw_probability([]) == pytest.approx(0.3)
    assert estimate_draw_probability([0] * 1000) == pytest.approx(0.95)
    assert estimate_draw_probability([1] * 10000) == pytest.approx(max(0.01, 3 / 10010))
    with pytest.raises(ValueError, match="draw_probability"):
        make_env(0.0)
    with pytest.raises(ValueError, match="outcome"):
        rate_1vs1(trueskill.Rating(), trueskill.Rating(), 2, make_env())


def test_uncertain_players_are_the_most_informative_to_play():
    env = make_env(0.3)
    known, unknown = trueskill.Rating(25, 1), trueskill.Rating(25, 8)
    assert expected_variance_reduction(unknown, known, env) > expected_variance_reduction(known, known, env) > 0
    assert expected_variance_reduction(known, known, env, pinned=(True, True)) == 0
    p = win_draw_loss_probabilities(trueskill.Rating(30, 1), trueskill.Rating(20, 1), env)
    assert sum(p) == pytest.approx(1) and p[0] > p[2]
