"""Shot statistics: who released the puck, and the bad input they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from arena.policy import make_policy
from evaluation.shots import shot_statistics
from scripts.shots import main


class NeverShoots:
    """The strong opponent's control law with its shoot entry zeroed: the game releases every catch."""

    def __init__(self):
        self.strong = make_policy("strong", seed=0)

    def act(self, obs):
        actions = np.array(self.strong.act(obs), dtype=np.float32)
        actions[:, 3] = 0.0
        return actions


def _all_shots(stats):
    return [shot for shots in stats.shots.values() for shot in shots]


def test_a_policy_that_never_shoots_has_every_shot_released_by_the_game():
    stats = shot_statistics(NeverShoots(), "weak", games=4, seed=0)
    shots = _all_shots(stats)
    assert shots and all(by_timer for by_timer, _, _ in shots)
    assert sum(stats.games.values()) == 4
    assert all(row["released_by_timer"] == 1.0 for row in stats.summary().values() if row["shots_per_game"] > 0)


def test_the_strong_control_law_shoots_itself_from_both_sides():
    stats = shot_statistics("strong", "weak", games=4, seed=0)
    shots = _all_shots(stats)
    assert shots and not all(by_timer for by_timer, _, _ in shots)
    summary = stats.summary()
    assert sum(row["games"] for row in summary.values()) == 4
    assert all(0 < row["holding"] < 1 for row in summary.values())


def test_bad_input_is_refused_with_the_reason(capsys):
    with pytest.raises(ValueError, match="games must be a positive integer"):
        shot_statistics("strong", games=0)
    assert main(["no/such/policy.pt"]) == 2
    assert "does not exist" in capsys.readouterr().err
