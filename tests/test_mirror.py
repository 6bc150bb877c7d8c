"""The game's top-bottom mirror (arena/hockey/mirror.py) holds on the engine, and training can use it."""

from __future__ import annotations

import numpy as np
import pytest

import arena.hockey.engine as engine_module
from agents.checkpoint import load_checkpoint
from agents.common.buffer import ReplayBuffer, mirror_rows
from agents.train import TrainConfig, build_trainer, train
from arena.hockey.constants import Mode
from arena.hockey.engine import HockeyEngine
from arena.hockey.mirror import mirror_action, mirror_observation
from tests.test_train import _MUZERO, TINY


def _mirrored_pair(seed: int, mode: Mode) -> tuple[HockeyEngine, HockeyEngine]:
    """An engine after reset and a second one whose start placement is the first's, flipped in y."""
    height = engine_module.H
    first = HockeyEngine(seed=seed, mode=mode)
    first.reset(mode=mode)
    kind, one_starts, opponent, puck, kick = first.get_state().history.placement
    flipped = (kind, one_starts, (opponent[0], height - opponent[1]), (puck[0], height - puck[1]),
               None if kick is None else (kick[0], height - kick[1]))  # fmt: skip
    second = HockeyEngine(seed=seed, mode=mode)
    second.reset(mode=mode)
    second._build(flipped)
    return first, second


@pytest.mark.parametrize("mode", [Mode.NORMAL, Mode.TRAIN_SHOOTING, Mode.TRAIN_DEFENSE])
def test_a_flipped_game_with_flipped_actions_is_the_flipped_game(mode):
    rng = np.random.default_rng(int(mode))
    for seed in range(4):
        first, second = _mirrored_pair(seed, mode)
        step = 0
        while not first.done:
            a1, a2 = (np.round(rng.uniform(-1, 1, 4), 3).astype(np.float32) for _ in range(2))
            first.step(a1, a2)
            second.step(mirror_action(a1), mirror_action(a2))
            if step < 40:  # Box2D rounds differently in the flipped world, and collisions amplify that later
                for view, flipped_view in zip(first.views(), second.views()):
                    assert np.abs(mirror_observation(np.array(view)) - np.array(flipped_view)).max() < 1e-3
                info, flipped_info = first.info(0), second.info(0)  # rewards are mirror-invariant
                assert info.keys() == flipped_info.keys()
                assert all(abs(info[key] - flipped_info[key]) < 1e-6 for key in info)
            step += 1
        assert second.done and (first.winner, first.time) == (second.winner, second.time)


def test_the_flip_negates_y_angles_and_turning_and_is_its_own_inverse():
    obs = np.arange(1, 19, dtype=np.float32)
    flipped = mirror_observation(obs)
    assert flipped[[0, 3, 6, 9, 12, 14, 16, 17]].tolist() == obs[[0, 3, 6, 9, 12, 14, 16, 17]].tolist()
    assert flipped[[1, 2, 4, 5, 7, 8, 10, 11, 13, 15]].tolist() == (-obs[[1, 2, 4, 5, 7, 8, 10, 11, 13, 15]]).tolist()
    assert np.array_equal(mirror_observation(flipped), obs)
    assert mirror_action(np.array([0.5, 0.25, -1.0, 1.0], dtype=np.float32)).tolist() == [0.5, -0.25, 1.0, 1.0]


def test_mirrored_rows_flip_only_the_chosen_samples_for_transitions_and_sequences():
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(64, 2, 18, 4, extras={"opponent_action": (4,)})
    for _ in range(10):
        buffer.add(rng.normal(size=(2, 18)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32),
                   np.ones(2, np.float32), rng.normal(size=(2, 18)).astype(np.float32), np.zeros(2, bool),
                   np.zeros(2, bool), extras={"opponent_action": rng.normal(size=(2, 4)).astype("f")})  # fmt: skip
    rows = np.array([True, False, True, False])
    for batch in (buffer.sample(4, np.random.default_rng(1)), buffer.sample_sequences(4, 3, np.random.default_rng(1))):
        flipped = mirror_rows(batch, rows)
        for name in ("obs", "next_obs", "action"):
            original, new = getattr(batch, name).numpy(), getattr(flipped, name).numpy()
            mirror = mirror_observation if "obs" in name else mirror_action
            assert np.array_equal(new[rows], mirror(original[rows])) and np.array_equal(new[~rows], original[~rows])
        opponent = batch.extras["opponent_action"].numpy()
        assert np.array_equal(flipped.extras["opponent_action"].numpy()[rows], mirror_action(opponent[rows]))
        assert np.array_equal(flipped.reward.numpy(), batch.reward.numpy())


def test_training_with_the_mirror_runs_resumes_exactly_and_is_refused_for_muzero(tmp_path):
    settings = {**TINY, "mirror": 0.5, "reward": "shaped"}
    straight = train(TrainConfig(steps=800, run_dir=str(tmp_path / "straight"), **settings))
    train(TrainConfig(steps=400, run_dir=str(tmp_path / "split"), **settings))
    split = train(TrainConfig(steps=800, run_dir=str(tmp_path / "split"), resume=True, **settings))
    train(TrainConfig(steps=800, run_dir=str(tmp_path / "plain"), **{**TINY, "reward": "shaped"}))
    weights = {name: load_checkpoint(tmp_path / name / "policy.pt").sha256 for name in ("straight", "split", "plain")}
    assert straight["updates"] == split["updates"] > 0
    assert weights["straight"] == weights["split"] != weights["plain"]
    with pytest.raises(ValueError, match="cannot flip"):
        build_trainer(TrainConfig(agent="muzero", steps=400, run_dir=str(tmp_path / "m"), mirror=0.5,
                                  **{**TINY, "set": _MUZERO}))  # fmt: skip
    with pytest.raises(ValueError, match="mirror must lie in"):
        TrainConfig(mirror=1.5)
