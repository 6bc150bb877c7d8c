"""evaluate_policy: totals, the per-side split and the split by first possession; WDL counting."""

from __future__ import annotations

import json

import pytest

from arena import play_games
from evaluation.evaluate import evaluate_policy, format_table, to_json
from evaluation.stats import WDL


def test_results_split_by_side_and_by_first_possession_add_up_to_the_match():
    rows = evaluate_policy("strong", {"weak": "weak"}, games=8, seed=4, n_envs=8)
    (row,) = rows
    records = play_games("strong", "weak", n_games=8, seed=4, n_envs=8).records  # the same match
    started = [r for r in records if (r.a_side == "left") == r.one_starting]  # one_starting: the left player starts
    outcome = {1: 0, 0: 1, -1: 2}
    expected = [0, 0, 0]
    for record in started:
        expected[outcome[record.outcome]] += 1
    assert row.starting == WDL(*expected)
    assert row.starting.games == row.receiving.games == 4  # the first possession alternates by pair
    assert row.starting + row.receiving == row.total == row.left + row.right
    assert row.total.games == 8
    assert "win S/R" in format_table(rows)
    summary = json.loads(to_json(rows))["results"][0]
    assert summary["starting"]["wins"] + summary["receiving"]["wins"] == summary["wins"]


def test_outcomes_are_counted_from_the_players_view_and_bad_ones_refused():
    assert WDL.from_outcomes([1, 1, 0, -1, 1]) == WDL(3, 1, 1)
    assert WDL.from_outcomes([]) == WDL(0, 0, 0)
    with pytest.raises(ValueError, match=r"\+1, 0 or -1, got 2"):
        WDL.from_outcomes([1, 2])
