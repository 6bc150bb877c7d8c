"""The batched match runner: lockstep batches, side swapping, determinism, bad policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arena import play_games
from arena.hockey import BasicOpponent
from arena.policy import IdlePolicy, RandomPolicy

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """A fake policy that plays idle and records every call."""

    def __init__(self):
        self.batch_sizes: list[int] = []
        self.resets: list[list[bool]] = []

    def act(self, obs):
        self.batch_sizes.append(len(obs))
        return np.zeros((len(obs), 4), dtype=np.float32)

    def reset(self, mask):
        self.resets.append(mask.tolist())


def test_each_policy_is_called_once_per_step_with_the_whole_batch():
    a, b = Recorder(), Recorder()
    result = play_games(a, b, n_games=10, seed=0, n_envs=4, mode="train_shooting")
    assert set(a.batch_sizes) == {4} and len(a.batch_sizes) == len(b.batch_sizes)
    # Idle players: every game lasts the full 81 steps, in three waves of four slots.
    assert [r.length for r in result.records] == [81] * 10
    assert len(a.batch_sizes) == 81 * 3
    assert a.resets[0] == [True] * 4 and a.resets[1] == [True] * 4 and a.resets[2] == [True, True, False, False]


def test_sides_are_swapped_in_pairs_and_records_are_complete():
    result = play_games("strong", "weak", n_games=20, seed=1, n_envs=8)
    sides = [r.a_side for r in result.records]
    assert sides == ["left", "right"] * 10
    assert [r.game for r in result.records] == list(range(20))
    for first, second in zip(result.records[::2], result.records[1::2]):
        assert first.seed == second.seed and first.one_starting != second.one_starting
    wins, draws, losses = result.counts("a")
    assert (wins, draws, losses) == result.counts("b")[::-1] and wins + draws + losses == 20


def test_same_seed_same_results_and_a_game_replays_from_its_record():
    first = play_games(BasicOpponent(False, seed=1), RandomPolicy(seed=2), n_games=6, seed=7, n_envs=3)
    again = play_games(BasicOpponent(False, seed=1), RandomPolicy(seed=2), n_games=6, seed=7, n_envs=3)
    assert first.records == again.records
    other = play_games(BasicOpponent(False, seed=1), RandomPolicy(seed=2), n_games=6, seed=8, n_envs=3)
    assert [r.seed for r in first.records] != [r.seed for r in other.records]


def test_idle_against_idle_is_always_a_draw_and_strong_wins_against_idle():
    assert play_games(IdlePolicy(), "idle", n_games=4, seed=0, mode="train_shooting").draws == 4
    result = play_games("strong", "idle", n_games=40, seed=0)
    assert result.wins > result.losses


def test_bad_policy_outputs_are_reported_with_the_policy():
    class WrongShape:
        def act(self, obs):
            return np.zeros((len(obs), 3))

    class Nan:
        def act(self, obs):
            return np.full((len(obs), 4), np.nan)

    with pytest.raises(ValueError, match=r"policy_b .* shape \(2, 3\), expected \(2, 4\)"):
        play_games("idle", WrongShape(), n_games=2)
    with pytest.raises(ValueError, match="policy_a .* NaN"):
        play_games(Nan(), "idle", n_games=2)
    with pytest.raises(TypeError, match="policy_a must be a name or an object with act"):
        play_games(42, "idle", n_games=2)
    with pytest.raises(ValueError, match="n_games must be a positive integer"):
        play_games("idle", "idle", n_games=0)


def test_on_game_end_sees_every_game():
    seen = []
    play_games("weak", "random", n_games=5, seed=0, n_envs=2, on_game_end=seen.append)
    assert sorted(r.game for r in seen) == list(range(5))


class _Broken:
    """A policy whose act fails, or whose actions come transposed."""

    def __init__(self, transposed: bool = False):
        self.transposed = transposed

    def act(self, obs):
        if self.transposed:
            return np.zeros((obs.shape[0], 4)).T
        raise KeyError("weights")

    def __repr__(self) -> str:
        return "Broken()"


def test_a_failing_or_transposing_policy_is_named():
    with pytest.raises(ValueError, match=r"policy_b \(Broken\(\)\) failed in act: KeyError"):
        play_games("weak", _Broken(), n_games=2, n_envs=2)
    transposed = r"policy_b \(Broken\(\)\) returned actions of shape \(4, 3\), expected \(3, 4\)"
    with pytest.raises(ValueError, match=transposed):
        play_games("weak", _Broken(transposed=True), n_games=3, n_envs=3)


def test_a_game_of_several_rounds_counts_them_and_goes_to_who_won_more():
    result = play_games("weak", "idle", n_games=4, seed=2, n_envs=2, rounds=3)
    one = play_games("weak", "idle", n_games=4, seed=2, n_envs=2)
    for record, single in zip(result.records, one.records):
        assert record.rounds_won + record.rounds_lost + record.rounds_drawn == 3
        assert record.outcome == np.sign(record.rounds_won - record.rounds_lost)
        assert record.length > single.length  # three rounds, each at least a step
        assert single.rounds_won is None  # a one-round game has no round counts
    assert sum(r.rounds_won for r in result.records) > sum(r.rounds_lost for r in result.records)  # vs an idle bot
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        play_games("weak", "idle", n_games=2, rounds=0)
