"""Our engine against trajectories recorded from the original hockey package (tests/data/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arena.hockey import HockeyEngine, basic_opponent_action

# Shipped with the repository, so that anyone with a clone can check the engine against the original.
GOLDEN = Path(__file__).resolve().parent / "data" / "hockey_original_v2.6.npz"
# The recording's float64 observations are float32 values (Box2D state minus the centre, computed
# in float32), so ours must equal them exactly once cast; rewards and infos must be equal too.


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as archive:  # read every array once: npz access decompresses each time
        data = {key: archive[key] for key in archive.files}
    return data, json.loads(str(data["meta_json"]))


def _same(ours, recorded) -> bool:
    ours, recorded = np.asarray(ours), np.asarray(recorded)
    if ours.dtype == np.float32:
        recorded = recorded.astype(np.float32)
    return bool(np.array_equal(ours, recorded))


def replay(data, case: dict) -> tuple[int | None, str]:
    """Replay one recorded case bit for bit; return (first step that differs, what) or (None, "")."""
    prefix = f"c{case['case']:03d}_"
    engine = HockeyEngine(mode=case["mode"], seed=case["seed"])
    engine.reset(one_starting=case["one_starting"])
    obs, obs2, actions = data[prefix + "obs"], data[prefix + "obs2"], data[prefix + "actions"]
    if not (_same(engine.observation(0), obs[0]) and _same(engine.observation(1), obs2[0])):
        return -1, "reset observation"
    for t in range(case["steps"]):
        engine.step(actions[t, :4], actions[t, 4:])
        info1, info2 = engine.info(0), engine.info(1)
        checks = {
            "obs": _same(engine.observation(0), obs[t + 1]),
            "obs2": _same(engine.observation(1), obs2[t + 1]),
            "reward": _same(engine.reward(0, info1), data[prefix + "reward"][t]),
            "reward2": _same(engine.reward(1, info2), data[prefix + "reward2"][t]),
            "done": engine.done == bool(data[prefix + "done"][t]),
            "winner": engine.winner == int(data[prefix + "winner"][t]),
            "closeness": _same(info1["reward_closeness_to_puck"], data[prefix + "closeness"][t]),
            "closeness2": _same(info2["reward_closeness_to_puck"], data[prefix + "closeness2"][t]),
            "touch": info1["reward_touch_puck"] == data[prefix + "touch"][t],
            "touch2": info2["reward_touch_puck"] == data[prefix + "touch2"][t],
            "direction": _same(info1["reward_puck_direction"], data[prefix + "direction"][t]),
            "direction2": _same(info2["reward_puck_direction"], data[prefix + "direction2"][t]),
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            return t, ", ".join(failed)
    if not engine.done:
        return case["steps"], "game did not end where the recording ended"
    return None, ""


def test_every_reset_matches_the_recording(golden):
    data, meta = golden
    for case in meta:
        engine = HockeyEngine(mode=case["mode"], seed=case["seed"])
        engine.reset(one_starting=case["one_starting"])
        prefix = f"c{case['case']:03d}_"
        assert _same(engine.observation(0), data[prefix + "obs"][0]), case
        assert _same(engine.observation(1), data[prefix + "obs2"][0]), case


def test_every_case_matches_the_original_bit_for_bit_to_the_last_step(golden):
    data, meta = golden
    diverged = {}
    for case in meta:
        step, what = replay(data, case)
        if step is not None:
            diverged[case["case"]] = (step, what)
    assert not diverged, f"{len(meta) - len(diverged)}/{len(meta)} cases match; diverged (case: step, what): {diverged}"


def test_basic_opponent_control_law_reproduces_every_recorded_sample(golden):
    data, _ = golden
    obs, phase, weak, action = data["ctrl_obs"], data["ctrl_phase"], data["ctrl_weak"], data["ctrl_action"]
    assert len(obs) > 1000
    for i in range(len(obs)):
        ours = basic_opponent_action(obs[i], float(phase[i]), bool(weak[i]))
        np.testing.assert_array_equal(ours, action[i], err_msg=f"control sample {i}")
