"""PFSP weights (including the all-zero case), the training mix, the evaluation pairings and the
promotion gate on synthetic results."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.ratings import rate_games
from evaluation.stats import WDL
from league.matchmaking import evaluation_pairings, pfsp_weights, recent_scores, training_mix
from league.promotion import Incumbent, decide


def test_hard_weighting_prefers_the_opponents_the_learner_loses_to():
    p = pfsp_weights([0.1, 0.5, 0.9], "hard", exponent=2)
    expected = np.array([0.81, 0.25, 0.01])
    assert p == pytest.approx(expected / expected.sum())
    assert pfsp_weights([0.2, 0.6], "hard", exponent=1) == pytest.approx([0.8 / 1.2, 0.4 / 1.2])


def test_variance_weighting_prefers_even_matches():
    p = pfsp_weights([0.1, 0.5, 1.0], "variance")
    assert p == pytest.approx(np.array([0.09, 0.25, 0.0]) / 0.34)


@pytest.mark.parametrize(
    ("scores", "weighting"), [([1.0, 1.0, 1.0], "hard"), ([0.0, 1.0, 1.0, 0.0], "variance"), ([1.0], "variance")]
)
def test_all_weights_zero_falls_back_to_uniform(scores, weighting):
    p = pfsp_weights(scores, weighting)
    assert np.all(np.isfinite(p))
    assert p == pytest.approx(np.full(len(scores), 1 / len(scores)))


def test_bad_pfsp_input_is_refused():
    with pytest.raises(ValueError, match="weighting"):
        pfsp_weights([0.5], "squared")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pfsp_weights([1.5], "hard")
    with pytest.raises(ValueError, match="non-empty"):
        pfsp_weights([], "hard")


def test_recent_scores_use_the_window_and_count_draws_as_half():
    games = [{"kind": "train", "a": "me", "b": "x", "outcome": o, "time": 0.0} for o in [-1] * 50 + [1, 0, 1, 0]]
    games += [{"kind": "evaluation", "a": "me", "b": "x", "outcome": -1, "time": 0.0}]  # not a training game
    score, n = recent_scores(games, "me", window=4)["x"]
    assert n == 4 and score == pytest.approx((3 + 0.5) / 5)


def test_recent_scores_judge_a_rarely_drawn_opponent_by_the_learner_now():
    old = [{"kind": "train", "a": "me", "b": "rare", "outcome": 1, "time": 1.0}] * 150  # it used to beat it
    now = [{"kind": "train", "a": "me", "b": b, "outcome": o, "time": 2.0}
           for b, o in [("common", 0)] * 90 + [("rare", -1)] * 10]  # fmt: skip
    assert recent_scores(old + now, "me", window=200)["rare"][0] > 0.8  # stale: a million steps back
    score, n = recent_scores(old + now, "me", window=200, horizon=100)["rare"]
    assert n == 10 and score == pytest.approx(0.5 / 11)  # it loses to it now
    # read back to front, as a ledger whose newest file sorts first by name is: the same scores
    assert recent_scores(now + old, "me", window=200, horizon=100)["rare"] == (score, n)


def test_training_mix_splits_shares_and_redistributes_missing_parts():
    mix = training_mix(["p1", "p2"], ["weak", "strong"], "self", {"p1": (0.9, 10)}, (0.5, 0.2, 0.3))
    assert sum(mix.values()) == pytest.approx(1)
    assert mix["self"] == pytest.approx(0.2) and mix["weak"] == mix["strong"] == pytest.approx(0.15)
    assert mix["p2"] > mix["p1"]  # unknown (0.5) is harder than a member beaten 90% of the time
    alone = training_mix([], ["weak", "strong"], None, {}, (0.5, 0.2, 0.3))
    assert alone == pytest.approx({"weak": 0.5, "strong": 0.5})
    many = training_mix([f"p{i}" for i in range(20)], ["weak"], None, {}, (0.5, 0.0, 0.5), max_opponents=3,
                        rng=np.random.default_rng(0))  # fmt: skip
    assert len(many) == 4 and sum(many.values()) == pytest.approx(1)
    with pytest.raises(ValueError, match="no opponent"):
        training_mix([], [], None, {}, (0.5, 0.2, 0.3))


def test_shortfall_split_gives_the_anchor_the_learner_beats_least_the_most_games():
    scores = {"basic-weak": (0.99, 200), "basic-strong": (0.85, 200)}
    mix = training_mix([], ["basic-weak", "basic-strong"], None, scores, (0.0, 0.0, 1.0), anchor_split="shortfall")
    assert mix["basic-strong"] == pytest.approx(0.15 / 0.20)  # weak keeps the floor of 0.05
    assert mix["basic-weak"] == pytest.approx(0.05 / 0.20)
    low = training_mix([], ["basic-weak", "basic-strong"], None, scores, (0.0, 0.0, 1.0), anchor_split="shortfall",
                       shortfall_floor=0.01)  # fmt: skip
    assert low["basic-weak"] == pytest.approx(0.01 / 0.16)  # its own shortfall 1 - 0.99, not 0.05
    even = training_mix([], ["basic-weak", "basic-strong"], None, scores, (0.0, 0.0, 1.0))
    assert even == {"basic-weak": 0.5, "basic-strong": 0.5}
    with pytest.raises(ValueError, match="anchor split"):
        training_mix([], ["basic-weak"], None, scores, (0.0, 0.0, 1.0), anchor_split="uneven")


def test_externals_get_their_own_share_split_like_the_anchors():
    scores = {"shabin": (0.2, 200), "other": (0.9, 200)}
    mix = training_mix(["p1"], ["weak"], None, scores, (0.5, 0.0, 0.3), anchor_split="shortfall",
                       externals=["shabin", "other"], external_share=0.2)  # fmt: skip
    assert sum(mix.values()) == pytest.approx(1)
    assert mix["p1"] == pytest.approx(0.5) and mix["weak"] == pytest.approx(0.3)
    assert mix["shabin"] == pytest.approx(0.2 * 0.8 / 0.9) and mix["other"] == pytest.approx(0.2 * 0.1 / 0.9)
    none = training_mix(["p1"], ["weak"], None, scores, (0.5, 0.0, 0.3), external_share=0.2)
    assert set(none) == {"p1", "weak"} and none["p1"] == pytest.approx(0.5 / 0.8)  # no externals: no share


def test_evaluation_pairings_prefer_uncertain_members_and_skip_anchor_pairs():
    games = [("old", "basic-weak", 1), ("old", "basic-strong", 0)] * 40
    table = rate_games(games)
    pairs = evaluation_pairings(table, ["basic-weak", "basic-strong", "old", "new"], count=3)
    assert ("basic-strong", "basic-weak") not in pairs and ("basic-weak", "basic-strong") not in pairs
    assert all("new" in pair for pair in pairs[:2])  # the unrated member is the most informative


# ---------------------------------------------------------------------------- promotion gate
def test_promotion_needs_the_lower_bound_above_the_threshold():
    clear = decide({"m": WDL(80, 10, 10)}, [], min_games=100, threshold=0.55)
    assert clear.promote and clear.lower > 0.55
    close = decide({"m": WDL(55, 10, 35)}, [], min_games=100, threshold=0.55)  # score 0.60, bound below 0.55
    assert not close.promote and "threshold" in close.reasons[0]
    few = decide({"m": WDL(9, 0, 0)}, [], min_games=100, threshold=0.55)
    assert not few.promote and "9 games" in few.reasons[0]


def test_promotion_refuses_a_regression_against_an_anchor():
    anchors = ["basic-weak", "basic-strong"]
    results = {"basic-weak": WDL(40, 0, 0), "basic-strong": WDL(5, 5, 30), "m": WDL(45, 0, 5)}  # 0.19 against strong
    best = Incumbent("best", WDL(10, 0, 10), {"basic-weak": WDL(38, 0, 2), "basic-strong": WDL(28, 0, 12)})
    decision = decide(results, anchors, min_games=100, threshold=0.55, incumbent=best)
    assert not decision.promote
    assert len(decision.reasons) == 1 and "against basic-strong" in decision.reasons[0]
    fine = decide({**results, "basic-strong": WDL(25, 5, 10)}, anchors, min_games=100, threshold=0.55, incumbent=best)
    assert fine.promote, fine.reasons


def test_score_interval_counts_draws_as_half_and_narrows_with_games():
    assert WDL(2, 2, 0).score == pytest.approx(0.75)
    low_few, high_few = WDL(6, 2, 2).score_interval()
    low_many, high_many = WDL(600, 200, 200).score_interval()
    assert low_few < low_many < 0.7 < high_many < high_few
    assert WDL(600, 200, 200).score_interval(0.99)[0] < low_many
