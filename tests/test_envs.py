"""PettingZoo and Gymnasium conformance, bad input, discrete actions and the official backend."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

import arena
from arena import hockey_v0
from arena.actions import MOVES_25, MOVES_49, ORIGINAL_8, DiscreteActionWrapper, DiscretePolicy, action_set
from arena.backends import make_backend, official_available
from arena.hockey import BasicOpponent, HockeyEngine

MODES = ["normal", "train_shooting", "train_defense"]


@pytest.mark.parametrize("mode", MODES)
def test_pettingzoo_parallel_api_and_seed_tests_pass(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(hockey_v0.parallel_env(mode=mode), num_cycles=300)
        parallel_seed_test(lambda: hockey_v0.parallel_env(mode=mode), num_cycles=300)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("opponent", ["weak", "strong", "random", "idle"])
def test_gymnasium_env_checker_passes(mode, opponent):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make("arena/Hockey-v0", opponent=opponent, mode=mode)
        check_env(env.unwrapped, skip_render_check=True)


def test_agents_empty_after_the_game_and_stepping_again_is_refused():
    env = hockey_v0.parallel_env()
    env.reset(seed=0)
    zero = np.zeros(4, dtype=np.float32)
    steps = 0
    while env.agents:
        _, rewards, terms, truncs, infos = env.step({a: zero for a in env.agents})
        steps += 1
    assert steps == 251 and truncs["player_0"] and not terms["player_0"]
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"player_0": zero, "player_1": zero})


def test_each_agent_sees_itself_on_the_left():
    env = hockey_v0.parallel_env()
    observations, _ = env.reset(seed=0)
    assert observations["player_0"][0] == pytest.approx(-3.0)  # player 1 at world x=2
    assert observations["player_1"][0] == pytest.approx(-3.0)  # player 2 at world x=8, mirrored
    # Pushing "forward" in its own frame moves each player towards the centre line.
    forward = np.array([1, 0, 0, 0], dtype=np.float32)
    for _ in range(5):
        observations, *_ = env.step({"player_0": forward, "player_1": forward})
    assert observations["player_0"][3] > 0 and observations["player_1"][3] > 0


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.zeros(3), r"player_1 has shape \(3,\), expected \(4,\)"),
        (np.array([0.0, np.nan, 0.0, 0.0]), "player_1 contains NaN"),
        (np.array([0.0, 0.0, np.inf, 0.0]), "player_1 contains NaN or inf"),
        ("fast", "player_1 must be 4 numbers"),
    ],
)
def test_bad_actions_name_the_agent_and_what_is_expected(action, message):
    env = hockey_v0.parallel_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step({"player_0": np.zeros(4), "player_1": action})


def test_missing_action_and_unknown_mode_opponent_side_backend_are_refused():
    env = hockey_v0.parallel_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="missing"):
        env.step({"player_0": np.zeros(4)})
    with pytest.raises(ValueError, match="unknown mode"):
        hockey_v0.parallel_env(mode="penalty")
    with pytest.raises(ValueError, match="unknown opponent 'medium'.*weak"):
        gym.make("arena/Hockey-v0", opponent="medium")
    with pytest.raises(ValueError, match="side must be one of"):
        gym.make("arena/Hockey-v0", side="middle")
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend("mujoco")
    with pytest.raises(ValueError, match="render_mode"):
        hockey_v0.parallel_env(render_mode="ascii")


def test_gymnasium_env_refuses_to_step_an_ended_episode():
    env = gym.make("arena/Hockey-v0", opponent="idle", mode="train_shooting")
    env.reset(seed=1)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(np.zeros(4, dtype=np.float32))
        done = terminated or truncated
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step(np.zeros(4, dtype=np.float32))


def test_gymnasium_sides_and_opponent_objects():
    class Counting:
        def __init__(self):
            self.calls = 0

        def act(self, obs):
            self.calls += 1
            assert obs.shape == (1, 18)
            return np.zeros((1, 4), dtype=np.float32)

    opponent = Counting()
    env = gym.make("arena/Hockey-v0", opponent=opponent, side="alternate")
    sides = []
    for _ in range(3):
        _, info = env.reset()
        sides.append(info["side"])
        env.step(env.action_space.sample())
    assert sides == ["left", "right", "left"] and opponent.calls == 3
    obs, info = env.reset(options={"side": "right"})
    assert info["side"] == "right" and obs[0] == pytest.approx(-3.0)


def test_rewards_of_the_two_agents_are_the_original_per_player_values():
    env = hockey_v0.parallel_env(mode="train_defense")
    env.reset(seed=1)
    zero = np.zeros(4, dtype=np.float32)
    while env.agents:
        _, rewards, terms, _, infos = env.step({a: zero for a in env.agents})
    assert terms["player_0"] and infos["player_0"]["winner"] == -1 and infos["player_1"]["winner"] == 1
    assert rewards["player_0"] == pytest.approx(-10 + infos["player_0"]["reward_closeness_to_puck"])
    assert rewards["player_1"] == pytest.approx(10 + infos["player_1"]["reward_closeness_to_puck"])


def test_discrete_action_sets():
    assert len(ORIGINAL_8) == 8 and ORIGINAL_8.to_continuous(7).tolist() == [0, 0, 0, 1]
    assert len(MOVES_25) == 25
    moves = {tuple(row) for row in MOVES_25.table.tolist()}
    assert len(moves) == 25 and (0, 0, 0, 1) in moves
    assert MOVES_25.to_continuous(np.array([0, 24])).shape == (2, 4)
    # moves-49: the 24 moves, the same 24 with the shoot entry set, then shoot in place
    assert len({tuple(row) for row in MOVES_49.table.tolist()}) == 49
    assert (MOVES_49.table[24:48, :3] == MOVES_25.table[:24, :3]).all() and (MOVES_49.table[24:, 3] == 1).all()
    assert (MOVES_49.table[:24] == MOVES_25.table[:24]).all()
    with pytest.raises(ValueError, match=r"out of range \[0, 7\]"):
        ORIGINAL_8.to_continuous(8)
    with pytest.raises(ValueError, match="unknown action set"):
        action_set("moves-9")
    env = DiscreteActionWrapper(gym.make("arena/Hockey-v0", opponent="weak"), "original-8")
    assert env.action_space.n == 8
    env.reset(seed=0)
    env.step(7)
    policy = DiscretePolicy(lambda obs: np.full(len(obs), 24), "moves-25")
    assert policy.act(np.zeros((3, 18), dtype=np.float32)).tolist() == [[0, 0, 0, 1]] * 3


def test_rgb_array_rendering_through_the_env():
    env = hockey_v0.parallel_env(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (480, 600, 3) and frame.dtype == np.uint8


def test_importing_arena_registers_the_gymnasium_env():
    assert "arena/Hockey-v0" in gym.registry
    assert arena.play_games is not None


@pytest.mark.skipif(not official_available(), reason="the original hockey package is not installed")
@pytest.mark.parametrize("mode", MODES)
def test_official_backend_matches_ours_step_by_step(mode):
    rng = np.random.default_rng(0)
    ours, theirs = hockey_v0.parallel_env(mode=mode), hockey_v0.parallel_env(mode=mode, backend="official")
    obs_a, _ = ours.reset(seed=3, options={"one_starting": True})
    obs_b, _ = theirs.reset(seed=3, options={"one_starting": True})
    for _ in range(30):
        for agent in obs_a:
            np.testing.assert_allclose(obs_a[agent], obs_b[agent], rtol=1e-5, atol=1e-5)
        if not ours.agents:
            break
        actions = {a: rng.uniform(-1, 1, 4).astype(np.float32) for a in ours.agents}
        obs_a, rew_a, *_ = ours.step(actions)
        obs_b, rew_b, *_ = theirs.step(actions)
        for agent in rew_a:
            assert rew_a[agent] == pytest.approx(rew_b[agent], abs=1e-5)


def test_a_shooting_twin_releases_a_held_puck_and_its_plain_move_keeps_it():
    engine = HockeyEngine(mode="normal", seed=3)
    engine.reset(one_starting=True)
    strong = BasicOpponent(weak=False, seed=0)
    while engine.timers[0] != 15:  # the strong opponent's control law, as player 1, catches the puck
        assert not engine.done, "player 1 never caught the puck"
        engine.step(strong.act(engine.observation(0)[None])[0], [0.0] * 4)
    held = engine.get_state()
    for move in range(24):
        engine.set_state(held)
        engine.step(MOVES_49.to_continuous(move), [0.0] * 4)
        assert engine.timers[0] == 14
        engine.set_state(held)
        engine.step(MOVES_49.to_continuous(move + 24), [0.0] * 4)
        assert engine.timers[0] == 0 and np.hypot(*engine.observation(0)[14:16]) > 40  # shot: about 60 wu/s
