"""The training loop and its parts: replay buffer, collector state, determinism, exact resume,
stop signals, refusal of broken checkpoints, and smoke runs of scripts/train.py and evaluate.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.checkpoint import CheckpointError, load_checkpoint
from agents.collect import Collector
from agents.common.buffer import ReplayBuffer
from agents.registry import make_policy
from agents.train import Hooks, TrainConfig, build_trainer, hold_actions, parse_opponents, train
from arena.hockey.constants import Mode
from arena.hockey.engine import EngineState, HockeyEngine

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(
    n_envs=4,
    learning_starts=200,
    eval_every=0,
    eval_games=2,
    checkpoint_every=400,
    log_every=200,
    buffer_size=4000,
    progress=False,
    set=("hidden=[16,16]", "batch_size=16", "device=cpu"),
)


def _weights(run_dir: Path) -> str:
    return load_checkpoint(run_dir / "policy.pt").sha256


# ---------------------------------------------------------------------------- replay buffer
def test_buffer_wraps_and_samples_only_written_rows():
    buffer = ReplayBuffer(capacity=6, n_envs=2, obs_dim=1, action_dim=1)
    for t in range(5):  # 3 rows of capacity, 5 written: rows hold t = 3, 4, 2
        buffer.add(np.full((2, 1), t), np.zeros((2, 1)), np.zeros(2), np.full((2, 1), t + 1), [False] * 2, [False] * 2)
    assert len(buffer) == 6
    batch = buffer.sample(200, np.random.default_rng(0))
    assert set(batch.obs[:, 0].tolist()) == {2.0, 3.0, 4.0}
    assert torch.equal(batch.next_obs, batch.obs + 1)


def test_sequences_are_consecutive_and_masked_after_an_episode_end():
    buffer = ReplayBuffer(capacity=40, n_envs=1, obs_dim=1, action_dim=1)
    for t in range(10):
        done = t == 4
        buffer.add([[t]], [[0.0]], [float(t)], [[t + 1]], [done], [False])
    batch = buffer.sample_sequences(300, 3, np.random.default_rng(0))
    obs = batch.obs[..., 0]
    assert torch.equal(obs[:, 1:] - obs[:, :-1], torch.ones(300, 2))  # consecutive steps of one stream
    for row, mask in zip(obs.tolist(), batch.mask.tolist()):
        expected = [1.0 if (row[0] > 4 or row[0] + k <= 4) else 0.0 for k in range(3)]
        assert mask == expected, (row, mask)


def test_buffer_state_round_trip():
    buffer = ReplayBuffer(capacity=8, n_envs=2, obs_dim=2, action_dim=1)
    for t in range(6):
        buffer.add(np.full((2, 2), t), np.ones((2, 1)), [1.0, 2.0], np.zeros((2, 2)), [True, False], [False, True])
    copy = ReplayBuffer(capacity=8, n_envs=2, obs_dim=2, action_dim=1)
    copy.load_state_dict(buffer.state_dict())
    a = buffer.sample(50, np.random.default_rng(3))
    b = copy.sample(50, np.random.default_rng(3))
    assert all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("obs", "action", "reward", "terminated"))
    with pytest.raises(ValueError, match="same --n-envs"):
        ReplayBuffer(capacity=8, n_envs=4, obs_dim=2, action_dim=1).load_state_dict(buffer.state_dict())


# ---------------------------------------------------------------------------- game state
def test_engine_state_survives_plain_data_and_continues_identically():
    rng = np.random.default_rng(0)
    engine = HockeyEngine(seed=4)
    engine.reset()
    for _ in range(40):
        engine.step(rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4))
    data = engine.get_state().to_dict()
    json.dumps(data)  # plain data only
    copy = HockeyEngine(seed=99)
    copy.set_state(EngineState.from_dict(data))
    for _ in range(30):
        a1, a2 = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)
        engine.step(a1, a2)
        copy.step(a1, a2)
        assert engine.views() == copy.views()
        if engine.done:
            break


def test_collector_state_round_trip_continues_identically():
    def build():
        opponents = [("weak", make_policy("weak", seed=1)), ("strong", make_policy("strong", seed=2))]
        collector = Collector(3, opponents, [1.0, 2.0], seed=5)
        collector.start(lambda: 0)
        return collector

    rng = np.random.default_rng(0)
    a, b = build(), build()
    for _ in range(120):
        a.step(rng.uniform(-1, 1, (3, 4)).astype(np.float32), lambda: 0)
    b.load_state_dict(a.state_dict())
    for _ in range(300):
        actions = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
        out_a, out_b = a.step(actions, lambda: 0), b.step(actions, lambda: 0)
        assert np.array_equal(out_a[0], out_b[0]) and np.array_equal(out_a[1], out_b[1])
        assert out_a[4] == out_b[4]


def _collector(reward: str, opponent: str) -> Collector:
    """Four games against one scripted opponent, paid by ``reward``; the same games for every reward."""
    collector = Collector(4, [(opponent, make_policy(opponent, seed=1))], [1.0], seed=3, reward=reward)
    collector.start(lambda: 0)
    return collector


def test_sparse_reward_pays_goals_only():
    game, sparse = _collector("game", "weak"), _collector("sparse", "weak")
    idle = np.zeros((4, 4), dtype=np.float32)  # goals come quickly against an idle learner
    goals, shaped = 0, 0
    for _ in range(600):
        _, game_reward, _, _, ended = game.step(idle, lambda: 0)
        _, sparse_reward, terminated, truncated, sparse_ended = sparse.step(idle, lambda: 0)
        assert [e.outcome for e in ended] == [e.outcome for e in sparse_ended]  # the same games
        expected = np.zeros(4)
        for slot, episode in zip(np.flatnonzero(terminated | truncated), sparse_ended):  # ended in slot order
            expected[slot] = 10.0 * episode.outcome
        assert np.array_equal(sparse_reward, expected)
        goals += int(terminated.sum())
        shaped += int((game_reward != sparse_reward).sum())
    assert goals > 0 and shaped > 0
    with pytest.raises(ValueError, match="reward must be one of"):
        TrainConfig(reward="dense")


def test_shaped_reward_adds_catches_and_puck_direction_to_the_game_reward():
    game, shaped = _collector("game", "strong"), _collector("shaped", "strong")
    chaser = make_policy("strong", seed=2)  # a learner that catches and shoots the puck
    catches, directed = 0, 0
    for _ in range(400):
        actions = chaser.act(game.obs)
        _, game_reward, _, _, _ = game.step(actions, lambda: 0)
        _, shaped_reward, _, _, _ = shaped.step(actions, lambda: 0)
        for slot, engine in enumerate(shaped.engines):
            info = engine.info(0 if shaped.learner_left[slot] else 1)
            if engine.time == 0:  # the game ended and restarted: its last info is gone
                continue
            extra = info["reward_touch_puck"] + 3.0 * info["reward_puck_direction"]
            assert shaped_reward[slot] == pytest.approx(game_reward[slot] + extra, abs=1e-5)
            catches += int(info["reward_touch_puck"] > 0)
            directed += int(info["reward_puck_direction"] != 0)
    assert catches > 0 and directed > 0


def test_a_held_action_is_one_transition_summing_its_frames_until_the_game_ends():
    held, frames = _collector("game", "weak"), _collector("game", "weak")  # the same games
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(300):
        actions = rng.uniform(-1, 1, (4, 4)).astype(np.float32)
        obs, reward, terminated, truncated, ended, restarted = hold_actions(held, actions, 2, lambda: 0)
        first, second = frames.step(actions, lambda: 0), frames.step(actions, lambda: 0)
        done_first = first[2] | first[3]
        expected = np.where(done_first, first[1], first[1] + second[1])
        assert np.allclose(reward, expected)
        assert np.array_equal(obs, np.where(done_first[:, None], first[0], second[0]))
        assert np.array_equal(terminated, first[2] | (second[2] & ~done_first))
        assert np.array_equal(restarted, done_first | second[2] | second[3])
        assert len(ended) == len(first[4]) + len(second[4])
        ends += int(done_first.sum())
    assert ends > 0  # some games ended inside a hold


def test_frame_hold_stores_one_transition_per_decision(tmp_path):
    trainer = build_trainer(TrainConfig(steps=600, run_dir=str(tmp_path), frame_hold=2, **TINY))
    trainer.open()
    trainer.train(600)
    assert trainer.step == 600 and trainer.buffer.rows == 600 // (4 * 2)
    trainer.close()
    with pytest.raises(ValueError, match="frame_hold must be a positive integer"):
        TrainConfig(frame_hold=0)
    with pytest.raises(ValueError, match="frame_hold=2 does not fit muzero"):
        build_trainer(TrainConfig(agent="muzero", run_dir=str(tmp_path / "m"), frame_hold=2,
                                  **{**TINY, "set": _MUZERO}))  # fmt: skip


def test_opponent_mix_parsing_and_bad_opponents(tmp_path):
    assert parse_opponents("weak:1, strong:3,runs/a/policy.pt") == [
        ("weak", 1.0),
        ("strong", 3.0),
        ("runs/a/policy.pt", 1.0),
    ]
    with pytest.raises(ValueError, match="weight"):
        parse_opponents("weak:-1")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_policy(str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="neither a scripted player"):
        make_policy("nobody")


def test_the_kept_buffer_holds_exactly_the_kept_opponents_transitions(tmp_path):
    config = TrainConfig(steps=800, run_dir=str(tmp_path), opponents="weak,idle", kept_opponents="idle",
                         kept_share=0.25, frame_hold=2, **TINY)  # fmt: skip
    trainer = build_trainer(config)
    trainer.open()
    against_idle = 0
    while trainer.step < 800:
        collector = trainer.collector
        against_idle += sum(collector.labels[index] == "idle" for index in collector.opponent)
        trainer._iteration()
    trainer.close()
    assert 0 < against_idle < 800 // 2  # both opponents played; one transition per slot and decision
    assert len(trainer.kept) == against_idle and len(trainer.buffer) == 800 // 2


def test_a_kept_share_of_each_batch_comes_from_the_kept_buffer(tmp_path):
    config = TrainConfig(steps=400, run_dir=str(tmp_path), opponents="weak,idle", kept_opponents="idle",
                         kept_share=0.25, **TINY)  # fmt: skip
    trainer = build_trainer(config)
    assert trainer.sample_transitions  # the trainer draws its batches here
    for buffer, value in ((trainer.buffer, 0.0), (trainer.kept, 7.0)):
        rows = buffer.n_envs
        fill = np.full((rows, 18), value, dtype=np.float32)
        buffer.add(fill, np.zeros((rows, 4), np.float32), np.zeros(rows, np.float32), fill,
                   np.zeros(rows, bool), np.zeros(rows, bool))  # fmt: skip
    batch = trainer.sample_transitions(16)
    assert batch.size == 16 and int((batch.obs[:, 0] == 7.0).sum()) == 4  # round(16 * 0.25) kept rows
    assert torch.equal(batch.obs[12:], torch.full((4, 18), 7.0))


def test_kept_opponents_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="kept_share must lie in"):
        TrainConfig(kept_opponents="strong", kept_share=1.0)
    with pytest.raises(ValueError, match="kept_share needs kept_opponents"):
        TrainConfig(kept_share=0.2)
    with pytest.raises(ValueError, match="kept_opponents names random, which --opponents does not list"):
        build_trainer(TrainConfig(run_dir=str(tmp_path / "a"), opponents="weak,strong", kept_opponents="random",
                                  kept_share=0.2, **TINY))  # fmt: skip
    with pytest.raises(ValueError, match="kept_opponents needs an agent that learns from single transitions"):
        build_trainer(TrainConfig(agent="muzero", run_dir=str(tmp_path / "m"), kept_opponents="weak",
                                  kept_share=0.2, **{**TINY, "set": _MUZERO}))  # fmt: skip


def test_defense_share_starts_that_share_of_the_games_in_defense_with_the_learner_defending(tmp_path):
    games = []
    config = TrainConfig(steps=3000, run_dir=str(tmp_path), defense_share=0.3, **TINY)
    trainer = build_trainer(config, hooks=Hooks(on_episode=games.append))
    trainer.open()
    trainer.train(3000)
    trainer.close()
    defense = [g for g in games if g.mode == "train_defense"]
    normal = [g for g in games if g.mode == "normal"]
    assert len(defense) + len(normal) == len(games) > 20 and defense and normal
    assert all(g.a_side == "left" and g.length <= 81 for g in defense)  # player 1 defends in this mode
    assert {g.a_side for g in normal} == {"left", "right"}
    with pytest.raises(ValueError, match="defense_share must lie in"):
        TrainConfig(defense_share=1.0)
    with pytest.raises(ValueError, match="it needs mode=normal, not curriculum"):
        TrainConfig(defense_share=0.1, mode="curriculum")


# ---------------------------------------------------------------------------- the loop
def test_short_seeded_runs_are_identical(tmp_path):
    for name in ("a", "b"):
        train(TrainConfig(steps=600, run_dir=str(tmp_path / name), **TINY))
    assert _weights(tmp_path / "a") == _weights(tmp_path / "b")
    train(TrainConfig(steps=600, run_dir=str(tmp_path / "c"), seed=1, **TINY))
    assert _weights(tmp_path / "c") != _weights(tmp_path / "a")


RESUMED = {
    "curriculum": {"mode": "curriculum"},
    "kept-buffer": {"opponents": "weak,strong", "kept_opponents": "strong", "kept_share": 0.25},
    "defense-share": {"defense_share": 0.3},
}


@pytest.mark.parametrize("extra", RESUMED.values(), ids=RESUMED.keys())
def test_resume_continues_exactly(extra, tmp_path):
    settings = {**TINY, **extra}
    straight = train(TrainConfig(steps=1200, run_dir=str(tmp_path / "straight"), **settings))
    first = train(TrainConfig(steps=600, run_dir=str(tmp_path / "split"), **settings))
    assert first["step"] == 600
    second = train(TrainConfig(steps=1200, run_dir=str(tmp_path / "split"), resume=True, **settings))
    assert second["step"] == straight["step"] == 1200 and second["episodes"] == straight["episodes"]
    assert second["cpu_seconds"] > first["cpu_seconds"] > 0  # the compute spent adds up over segments
    assert _weights(tmp_path / "split") == _weights(tmp_path / "straight")


_MUZERO = ("latent_dim=16", "hidden_dim=16", "num_simulations=4", "batch_size=8", "unroll_steps=2", "td_steps=2",
           "consistency_coef=1.0", "reanalyze_ratio=0.5", "device='cpu'")  # fmt: skip
MODEL_BASED = {
    "tdmpc2": ("tdmpc2", ("enc_dim=16", "mlp_dim=16", "latent_dim=16", "num_samples=16", "num_elites=4",
                          "num_pi_trajs=2", "iterations=2", "batch_size=8", "device='cpu'")),
    # the whole update as one function that never waits (its metrics are read by the trainer)
    "tdmpc2-graph-update": ("tdmpc2", ("enc_dim=16", "mlp_dim=16", "latent_dim=16", "num_samples=16",
                                       "num_elites=4", "num_pi_trajs=2", "iterations=2", "batch_size=8",
                                       "graph_update=True", "device='cpu'")),
    "muzero": ("muzero", _MUZERO),
    "muzero-held-moves": ("muzero", (*_MUZERO, "action_repeat=3")),  # a resume can fall inside a held move
    "muzero-maxmin": ("muzero", (*_MUZERO[:-2], "search='maxmin'", "action_repeat=3", "device='cpu'")),
    "muzero-maxmin-predicted": ("muzero", (*_MUZERO[:-2], "search='maxmin'", "opponent_reply='predicted'",
                                           "device='cpu'")),
}  # fmt: skip


def test_the_trainer_stores_the_opponents_actions_for_opponent_aware_agents(tmp_path):
    overrides = (*_MUZERO[:-2], "search='maxmin'", "device='cpu'")
    trainer = build_trainer(TrainConfig(agent="muzero", steps=400, run_dir=str(tmp_path), opponents="random",
                                  **{**TINY, "set": overrides}))  # fmt: skip
    trainer.open()
    for _ in range(3):
        trainer.train(trainer.step + trainer.config.n_envs)
        stored = trainer.buffer.extras["opponent_action"][trainer.buffer.position - 1]
        assert np.array_equal(stored, trainer.collector.last_opponent_actions) and np.abs(stored).sum() > 0
    trainer.close()


@pytest.mark.parametrize("label", sorted(MODEL_BASED))
def test_model_based_agents_train_and_resume_exactly(label, tmp_path):
    agent, overrides = MODEL_BASED[label]
    settings = {**TINY, "set": overrides, "updates_per_step": 0.1}
    straight = train(TrainConfig(agent=agent, steps=480, run_dir=str(tmp_path / "straight"), **settings))
    train(TrainConfig(agent=agent, steps=240, run_dir=str(tmp_path / "split"), **settings))
    second = train(TrainConfig(agent=agent, steps=480, run_dir=str(tmp_path / "split"), resume=True, **settings))
    assert second["updates"] == straight["updates"] > 0 and second["episodes"] == straight["episodes"]
    assert _weights(tmp_path / "split") == _weights(tmp_path / "straight")


def test_a_cpu_budget_stops_the_run_with_its_final_snapshot_and_a_resume_can_raise_it(tmp_path):
    spent = train(TrainConfig(steps=100_000, run_dir=str(tmp_path), cpu_hours=1e-4, **TINY))  # 0.36 CPU-seconds
    assert spent["status"].startswith("stopped by its CPU budget") and 0 < spent["step"] < 100_000
    assert spent["cpu_seconds"] >= 0.36 and spent["eval"]["step"] == spent["step"]
    more = train(TrainConfig(steps=100_000, run_dir=str(tmp_path), cpu_hours=3e-4, resume=True, **TINY))
    assert more["step"] > spent["step"] and more["cpu_seconds"] >= 3 * 0.36
    with pytest.raises(ValueError, match="cpu_hours must be"):
        TrainConfig(cpu_hours=-1)


def test_existing_run_needs_resume_and_resume_needs_the_same_settings(tmp_path):
    train(TrainConfig(steps=400, run_dir=str(tmp_path), **TINY))
    with pytest.raises(FileExistsError, match="--resume"):
        train(TrainConfig(steps=800, run_dir=str(tmp_path), **TINY))
    with pytest.raises(CheckpointError, match="n_envs=4"):
        train(TrainConfig(steps=800, run_dir=str(tmp_path), resume=True, **{**TINY, "n_envs": 2}))


def test_a_resume_with_changed_agent_settings_records_them_and_keeps_the_start_config(tmp_path):
    settings = {**TINY, "set": (*TINY["set"], "actor_lr=0.001")}
    train(TrainConfig(steps=400, run_dir=str(tmp_path), **settings))
    started = (tmp_path / "config.json").read_text()
    train(TrainConfig(steps=600, run_dir=str(tmp_path), resume=True, **settings))
    assert not (tmp_path / "config_changes.jsonl").exists()  # same settings: nothing to record
    lowered = {**TINY, "set": (*TINY["set"], "actor_lr=0.0005")}
    train(TrainConfig(steps=800, run_dir=str(tmp_path), resume=True, **lowered))
    records = [json.loads(line) for line in (tmp_path / "config_changes.jsonl").read_text().splitlines()]
    assert records == [{"step": 600, "agent": {"actor_lr": [0.001, 0.0005]}}]
    assert (tmp_path / "config.json").read_text() == started
    checkpoint = tmp_path / "checkpoints" / "training.pt"
    payload = torch.load(checkpoint, weights_only=False)
    del payload["agent_config"]["tau"]  # as if tau had been added to SACConfig after this checkpoint
    torch.save(payload, checkpoint)
    train(TrainConfig(steps=1000, run_dir=str(tmp_path), resume=True, **lowered))
    assert len((tmp_path / "config_changes.jsonl").read_text().splitlines()) == 1  # its default is no change


def test_a_stop_signal_saves_and_resume_finishes(tmp_path):
    fired = []

    def stop_once(episode):
        if not fired:
            fired.append(episode)
            os.kill(os.getpid(), signal.SIGUSR1)

    config = TrainConfig(steps=4000, run_dir=str(tmp_path), **TINY)
    summary = build_trainer(config, hooks=Hooks(on_episode=stop_once)).run()
    assert summary["status"] == "stopped by SIGUSR1" and 0 < summary["step"] < 4000
    assert (tmp_path / "checkpoints" / "training.pt").exists()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGUSR1))
    done = train(TrainConfig(steps=summary["step"] + 400, run_dir=str(tmp_path), resume=True, **TINY))
    assert done["status"] == "finished" and done["step"] == summary["step"] + 400


def test_non_finite_weights_never_replace_the_last_good_checkpoint(tmp_path):
    trainer = build_trainer(TrainConfig(steps=400, run_dir=str(tmp_path), **TINY))
    trainer.run()
    path = tmp_path / "checkpoints" / "training.pt"
    good = path.read_bytes()
    with torch.no_grad():
        trainer.agent.nets["actor"].net[0].weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="not finite.*refusing to overwrite"):
        trainer.save()
    assert path.read_bytes() == good


def test_a_lost_or_corrupted_checkpoint_falls_back_to_the_one_before_and_two_are_refused(tmp_path, capsys):
    straight = train(TrainConfig(steps=800, run_dir=str(tmp_path / "straight"), **TINY))
    trainer = build_trainer(TrainConfig(steps=400, run_dir=str(tmp_path / "run"), **TINY))
    trainer.run()
    trainer.save()  # a second save at the same step: the first becomes the fallback
    checkpoints = tmp_path / "run" / "checkpoints"
    path, previous = checkpoints / "training.pt", checkpoints / "training.prev.pt"
    assert previous.is_file()
    path.write_bytes(path.read_bytes()[:5000])
    resumed = train(TrainConfig(steps=800, run_dir=str(tmp_path / "run"), resume=True, **TINY))
    assert f"resuming from the checkpoint before it, {previous}" in capsys.readouterr().out
    assert resumed["step"] == straight["step"] and _weights(tmp_path / "run") == _weights(tmp_path / "straight")
    path.unlink()  # the newest lost: the one before serves
    assert train(TrainConfig(steps=1000, run_dir=str(tmp_path / "run"), resume=True, **TINY))["step"] >= 1000
    for checkpoint in (path, previous):
        checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="no training checkpoint .* can be read.*cannot be read"):
        train(TrainConfig(steps=1200, run_dir=str(tmp_path / "run"), resume=True, **TINY))


# ---------------------------------------------------------------------------- scripts
def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_train_and_evaluate_scripts_smoke(tmp_path):
    run_dir = tmp_path / "run"
    result = _run(
        "scripts/train.py",
        "--agent",
        "sac",
        "--opponents",
        "weak,strong:2",
        "--steps",
        "400",
        "--run-dir",
        str(run_dir),
        "--n-envs",
        "4",
        "--learning-starts",
        "200",
        "--eval-games",
        "4",
        "--eval-every",
        "0",
        "--no-progress",
        "--set",
        "hidden=[16,16]",
        "batch_size=16",
    )
    assert result.returncode == 0, result.stderr
    assert "finished at step 400" in result.stdout and "strong" in result.stdout
    eval_csv = (run_dir / "eval.csv").read_text().splitlines()
    assert eval_csv[0].startswith("step,weak/win_rate") and eval_csv[0].endswith(",cpu_hours")
    assert float(eval_csv[-1].split(",")[-1]) > 0  # the CPU spent when it was evaluated
    table = _run("scripts/evaluate.py", str(run_dir / "policy.pt"), "--opponents", "weak,idle", "--games", "6")
    assert table.returncode == 0, table.stderr
    assert "weak" in table.stdout and "idle" in table.stdout
    report = json.loads(_run("scripts/evaluate.py", str(run_dir / "policy.pt"), "--games", "4", "--json").stdout)
    assert [r["opponent"] for r in report["results"]] == ["weak", "strong"]
    assert all(r["wins"] + r["draws"] + r["losses"] == 4 for r in report["results"])


def test_scripts_report_bad_input_clearly(tmp_path):
    missing = _run("scripts/evaluate.py", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_field = _run("scripts/train.py", "--steps", "10", "--run-dir", str(tmp_path / "r"), "--set", "hiden=[4]")
    assert bad_field.returncode == 2 and "unknown field(s) ['hiden']" in bad_field.stderr
    bad_opponent = _run(
        "scripts/train.py", "--steps", "10", "--run-dir", str(tmp_path / "r"), "--opponents", str(tmp_path / "gone.pt")
    )
    assert bad_opponent.returncode == 2 and "does not exist" in bad_opponent.stderr


def test_csv_logger_grows_columns_and_trims_rows_after_a_resume_point(tmp_path):
    from agents.common.logger import CSVLogger

    logger = CSVLogger(tmp_path)
    logger.write({"train/loss": 1.0}, step=10)
    logger.write({"train/loss": 0.5, "train/alpha": 0.2}, step=20)
    logger.write({"train/loss": 0.25, "eval/weak/win_rate": 0.5}, step=30)
    assert (tmp_path / "train.csv").read_text().splitlines() == ["step,loss,alpha", "10,1,", "20,0.5,0.2", "30,0.25,"]
    assert (tmp_path / "eval.csv").read_text().splitlines() == ["step,weak/win_rate", "30,0.5"]
    CSVLogger(tmp_path).truncate(20)
    assert (tmp_path / "train.csv").read_text().splitlines()[-1] == "20,0.5,0.2"
    assert (tmp_path / "eval.csv").read_text().splitlines() == ["step,weak/win_rate"]


def test_an_opponent_that_fails_is_named():
    class Failing:
        def act(self, obs):
            raise KeyError("weights")

    collector = Collector(2, [("broken", Failing())], [1.0], seed=0)
    collector.start(lambda: Mode.NORMAL)
    with pytest.raises(ValueError, match="opponent broken .* failed in act: KeyError"):
        collector.step(np.zeros((2, 4), dtype=np.float32), lambda: Mode.NORMAL)


def test_a_first_format_training_checkpoint_is_brought_up_to_date_and_an_unknown_one_refused(tmp_path):
    train(TrainConfig(steps=400, run_dir=str(tmp_path), **TINY))
    checkpoint = tmp_path / "checkpoints" / "training.pt"
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["format_version"] == 2
    payload["format_version"] = 1  # as written before these fields were added
    del payload["train_config"]["reward"], payload["counters"]["wall_seconds"], payload["collector"]["probabilities"]
    torch.save(payload, checkpoint)
    assert train(TrainConfig(steps=600, run_dir=str(tmp_path), resume=True, **TINY))["step"] >= 600
    assert torch.load(checkpoint, weights_only=True)["format_version"] == 2
    payload["format_version"] = 99
    torch.save(payload, checkpoint)
    (tmp_path / "checkpoints" / "training.prev.pt").unlink()
    with pytest.raises(CheckpointError, match="format version 99; this code reads 1 to 2"):
        train(TrainConfig(steps=800, run_dir=str(tmp_path), resume=True, **TINY))
