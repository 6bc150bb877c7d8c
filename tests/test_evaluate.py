"""evaluate_policy: totals, the per-side split and the split by first possession; WDL counting."""

from __future__ import annotations

import json

import pytest

from arena import play_games
from evaluation.evaluate import EvalRow, evaluate_policy, format_table, to_json
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


def test_the_table_stays_aligned_whatever_the_opponents_label_and_explains_its_columns():
    record = WDL(10, 5, 3)
    labels = ["weak", "runs/champion/members/sac-1800000-cca368be.pt", "py:../shared/external/shabin_sac.py:load"]
    rows = [EvalRow(label, record, record, record, record, WDL(0, 0, 0), 250.0) for label in labels]
    lines = format_table(rows).splitlines()
    header, table = lines[0], lines[2:5]
    assert all(len(line) == len(header) for line in table)  # every column ends where its header does
    for line, label in zip(table, labels):
        assert line.startswith(label) and line[: header.index("games") + len("games")].endswith(" 18")
    legend = "\n".join(lines[5:])
    for column in ("opponent", "games", "score", "win, draw, loss", "win L/R", "win S/R", "length"):
        assert f"  {column}  " in legend
