"""Behaviour of the engine: episode ends, the deliberate differences, determinism, save/restore,
side symmetry and the statistics of scripted play."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from arena import play_games
from arena.hockey import BasicOpponent, HockeyEngine, Mode

ZERO = [0.0, 0.0, 0.0, 0.0]


def _play(engine: HockeyEngine, actions) -> list[np.ndarray]:
    frames = []
    for a1, a2 in actions:
        engine.step(a1, a2)
        frames.append(np.concatenate([engine.observation(0), engine.observation(1)]))
        if engine.done:
            break
    return frames


def _random_actions(seed: int, n: int = 300) -> list:
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, 4).astype(np.float32).tolist(), rng.uniform(-1, 1, 4).astype(np.float32).tolist())
            for _ in range(n)]  # fmt: skip


@pytest.mark.parametrize(("mode", "length"), [("normal", 251), ("train_shooting", 81), ("train_defense", 81)])
def test_time_out_is_a_truncation_after_the_original_number_of_steps(mode, length):
    engine = HockeyEngine(mode=mode, seed=0)
    engine.reset(one_starting=True)
    steps = 0
    while not engine.done:
        engine.step(ZERO, ZERO)
        steps += 1
    if mode == "train_defense":
        # The defense drill kicks the puck at player 1's goal: idle players may concede.
        assert steps <= length
    else:
        assert steps == length
        assert engine.truncated and not engine.terminated and engine.winner == 0


def test_a_goal_terminates_and_pays_ten_once():
    engine = HockeyEngine(mode="train_defense", seed=1)
    engine.reset()
    while not engine.done:
        engine.step(ZERO, ZERO)
    assert engine.terminated and not engine.truncated
    assert engine.winner == -1  # the kick goes into player 1's goal
    assert engine.reward(0) == pytest.approx(-10 + engine.info(0)["reward_closeness_to_puck"])
    assert engine.reward(1) == pytest.approx(10 + engine.info(1)["reward_closeness_to_puck"])
    with pytest.raises(RuntimeError, match="ended game"):
        engine.step(ZERO, ZERO)


def test_catch_sets_the_timer_and_the_shot_releases_the_puck():
    engine = HockeyEngine(mode="normal", seed=3)
    engine.reset(one_starting=True)
    strong = BasicOpponent(weak=False, seed=0)
    timers = []
    for _ in range(250):
        a1 = strong.act(engine.observation(0)[None])[0]
        engine.step(a1, ZERO)
        timers.append(engine.timers[0])
        if engine.done:
            break
    assert 15 in timers, "the strong opponent never caught the puck"
    start = timers.index(15)
    # Held for a few steps with the timer counting down, then shot (timer back to 0) by 1 < t < 7.
    held = timers[start : start + 12]
    assert held[:5] == [15, 14, 13, 12, 11]
    assert 0 in held and all(t != 1 for t in timers)


def test_hold_timers_are_cleared_at_reset():
    engine = HockeyEngine(seed=0)
    engine.reset(one_starting=True)
    engine.timers = [9, 4]  # as if a player held the puck when the game ended
    engine.reset(one_starting=True)
    assert engine.timers == [0, 0]
    assert engine.observation(0)[16:].tolist() == [0.0, 0.0]


def test_starting_side_alternates_unless_given():
    engine = HockeyEngine(seed=0)
    sides = []
    for _ in range(4):
        engine.reset()
        sides.append(engine.observation(0)[12] < 0)  # puck in player 1's half
    assert sides == [True, False, True, False]
    engine.reset(one_starting=False)
    assert engine.observation(0)[12] > 0


def test_same_seed_same_game_and_different_seed_different_game():
    runs = []
    for seed in (5, 5, 6):
        engine = HockeyEngine(mode="normal", seed=seed)
        engine.reset()
        runs.append(np.array(_play(engine, _random_actions(0))))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0][0].tolist() != runs[2][0].tolist()


def test_an_episode_does_not_depend_on_earlier_episodes():
    """Each reset builds a fresh world, so a seeded game is the same whatever came before."""
    fresh = HockeyEngine(seed=0)
    fresh.seed(11)
    fresh.reset(one_starting=True)
    expected = _play(fresh, _random_actions(1))
    used = HockeyEngine(seed=0)
    for _ in range(3):
        used.reset()
        _play(used, _random_actions(2))
    used.seed(11)
    used.reset(one_starting=True)
    np.testing.assert_array_equal(np.array(_play(used, _random_actions(1))), np.array(expected))


@pytest.mark.parametrize("mode", ["normal", "train_shooting", "train_defense"])
def test_exact_restore_continues_bit_for_bit(mode):
    actions = _random_actions(3)
    engine = HockeyEngine(mode=mode, seed=2)
    engine.reset()
    _play(engine, actions[:40])
    state = engine.get_state()
    expected = _play(engine, actions[40:])

    other = HockeyEngine(mode=mode, seed=99)
    other.reset()
    _play(other, actions[:7])
    other.set_state(state, exact=True)
    assert other.time == state.time and other.timers == list(state.timers)
    np.testing.assert_array_equal(np.array(_play(other, actions[40:])), np.array(expected))


def test_fast_restore_matches_closely_before_contacts():
    engine = HockeyEngine(mode="normal", seed=4)
    engine.reset(one_starting=True)
    _play(engine, [(ZERO, ZERO)] * 3)
    state = engine.get_state()
    actions = [([0.3, 0.2, 0.1, 0.0], [0.2, -0.1, 0.0, 0.0])] * 5
    expected = np.array(_play(engine, actions))
    other = HockeyEngine(mode="normal")
    other.set_state(state, exact=False)
    np.testing.assert_allclose(np.array(_play(other, actions)), expected, atol=1e-5)


def test_restored_state_keeps_time_timers_and_rng():
    engine = HockeyEngine(seed=8)
    engine.reset()
    _play(engine, _random_actions(4)[:20])
    state = engine.get_state()
    draw = engine.np_random.random()
    other = HockeyEngine()
    other.set_state(state, exact=False)
    assert (other.time, other.timers, other.done) == (state.time, list(state.timers), state.done)
    assert other.np_random.random() == draw


def _mirror(state):
    """The same scene rotated 180 degrees about the centre, with the players swapped."""
    (x1, y1, a1, vx1, vy1, w1), (x2, y2, a2, vx2, vy2, w2), (xp, yp, ap, vxp, vyp, wp) = state.bodies
    bodies = np.array([
        [10 - x2, 8 - y2, a2, -vx2, -vy2, w2],
        [10 - x1, 8 - y1, a1, -vx1, -vy1, w1],
        [10 - xp, 8 - yp, ap, -vxp, -vyp, wp],
    ])  # fmt: skip
    return dataclasses.replace(state, bodies=bodies, timers=state.timers[::-1], touching=frozenset())


def test_the_game_seen_from_the_right_is_the_game_seen_from_the_left():
    engine = HockeyEngine(mode="normal", seed=6)
    engine.reset(one_starting=True)
    strong, weak = BasicOpponent(weak=False, seed=1), BasicOpponent(weak=True, seed=2)
    for _ in range(10):
        engine.step(strong.act(engine.observation(0)[None])[0], weak.act(engine.observation(1)[None])[0])
    mirrored = HockeyEngine(mode="normal")
    mirrored.set_state(_mirror(engine.get_state()), exact=False)
    np.testing.assert_allclose(mirrored.observation(0), engine.observation(1), atol=1e-5)
    np.testing.assert_allclose(mirrored.observation(1), engine.observation(0), atol=1e-5)
    # The same actions, each in its player's own frame, give the same game, mirrored.
    rng = np.random.default_rng(0)
    for _ in range(8):
        a, b = rng.uniform(-1, 1, 4).astype(np.float32).tolist(), rng.uniform(-1, 1, 4).astype(np.float32).tolist()
        a[3] = b[3] = 0.0
        engine.step(a, b)
        mirrored.step(b, a)
        np.testing.assert_allclose(mirrored.observation(0), engine.observation(1), atol=1e-3)
        assert engine.info(0) == pytest.approx(mirrored.info(1), abs=1e-4)


def test_views_are_point_reflections_of_each_other():
    engine = HockeyEngine(seed=1)
    engine.reset()
    _play(engine, _random_actions(5)[:30])
    left, right = engine.observation(0), engine.observation(1)
    flip = np.array([-1, -1, 1, -1, -1, 1])
    np.testing.assert_allclose(right[0:6], left[6:12] * flip, atol=1e-6)
    np.testing.assert_allclose(right[6:12], left[0:6] * flip, atol=1e-6)
    np.testing.assert_allclose(right[12:16], -left[12:16], atol=1e-6)
    assert right[16:].tolist() == left[16:][::-1].tolist()


def test_observations_are_float32_and_infos_have_the_original_types():
    engine = HockeyEngine(seed=0)
    engine.reset()
    engine.step(ZERO, ZERO)
    assert engine.observation(0).dtype == np.float32 and engine.observation(0).shape == (18,)
    info = engine.info(0)
    assert set(info) == {"winner", "reward_closeness_to_puck", "reward_touch_puck", "reward_puck_direction"}
    assert isinstance(info["winner"], int)
    assert all(isinstance(info[k], float) for k in info if k != "winner")


def test_without_keep_mode_there_is_no_catch_and_the_observation_has_16_entries():
    engine = HockeyEngine(seed=0, keep_mode=False)
    engine.reset(one_starting=True)
    assert engine.observation(0).shape == (16,)
    strong = BasicOpponent(weak=False, seed=0, keep_mode=False)
    while not engine.done:
        engine.step(strong.act(engine.observation(0)[None])[0], [0.0, 0.0, 0.0])
        assert engine.timers == [0, 0]


def test_unknown_mode_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="unknown mode 'hard'.*normal"):
        HockeyEngine(mode="hard")
    assert Mode.parse("train-shooting") is Mode.TRAIN_SHOOTING and Mode.parse(2) is Mode.TRAIN_DEFENSE


def test_strong_beats_weak_far_more_often_than_it_loses():
    result = play_games("strong", "weak", n_games=300, seed=0)
    wins, draws, losses = result.counts("a")
    # The original: 40% wins, 46% draws, 14% losses in games of about 173 steps.
    assert wins > 2 * losses
    assert 0.30 < draws / 300 < 0.60
    assert 0.30 < wins / 300 < 0.52
    assert 150 < result.mean_length < 200


def test_engine_refuses_non_finite_or_wrong_length_actions_before_box2d():
    engine = HockeyEngine(seed=0)
    engine.reset()
    with pytest.raises(ValueError, match="finite"):
        engine.step([0.0, float("nan"), 0.0, 0.0], ZERO)
    with pytest.raises(ValueError, match="4 entries"):
        engine.step([0.0, 0.0], ZERO)
    engine.step(ZERO, ZERO)  # the game goes on unharmed
    assert engine.time == 1
