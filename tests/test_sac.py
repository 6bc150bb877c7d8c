"""SAC: losses on hand-made tensors, shapes, checkpoint round trips, bad input, denormals, and (slow) learning."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from agents.base import AgentSpec
from agents.checkpoint import CheckpointError, load_checkpoint
from agents.common.buffer import Batch, ReplayBuffer
from agents.common.runtime import denormals_flushed, flushing_denormals
from agents.registry import load_policy, make_agent, make_config, save_policy
from agents.sac import SACAgent, SACConfig, losses
from agents.train import TrainConfig, train

SMALL = {"hidden": [32, 32], "batch_size": 16, "device": "cpu"}


def _batch(n=16, seed=0, obs_dim=18, action_dim=4) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randn(n, obs_dim, generator=g),
        action=torch.rand(n, action_dim, generator=g) * 2 - 1,
        reward=torch.randn(n, generator=g),
        next_obs=torch.randn(n, obs_dim, generator=g),
        terminated=(torch.rand(n, generator=g) < 0.2).float(),
    )


def test_squashed_gaussian_log_prob_matches_torch_distributions():
    mean = torch.tensor([[0.3, -1.2], [2.0, 0.0]])
    log_std = torch.tensor([[-0.5, 0.1], [0.4, -2.0]])
    noise = torch.tensor([[0.7, -0.2], [-1.5, 0.9]])
    action, log_prob = losses.squashed_gaussian_sample(mean, log_std, noise)
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    assert torch.allclose(action, torch.tanh(mean + log_std.exp() * noise))
    assert torch.allclose(log_prob, reference.log_prob(action).sum(-1), atol=1e-4)


def test_soft_target_by_hand():
    reward = torch.tensor([1.0, -2.0])
    terminated = torch.tensor([0.0, 1.0])
    next_q = torch.tensor([[3.0, 5.0], [4.0, 1.0]])  # (E=2, B=2): minima 3 and 1
    next_log_prob = torch.tensor([-1.0, 0.5])
    target = losses.soft_target(reward, terminated, next_q, next_log_prob, alpha=0.2, gamma=0.9)
    expected = torch.tensor([1.0 + 0.9 * (3.0 + 0.2), -2.0])
    assert torch.allclose(target, expected)


def test_critic_actor_and_alpha_losses_by_hand():
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]], requires_grad=True)
    target = torch.tensor([2.0, 2.0])
    # member 0: errors (-1, 0) -> 0.5; member 1: (-2, 2) -> 4; summed over members
    assert losses.critic_loss(q, target).item() == pytest.approx(4.5)
    log_prob = torch.tensor([-1.0, 1.0])
    q_pi = torch.tensor([[1.0, 3.0], [2.0, 0.0]])  # minima 1 and 0
    assert losses.actor_loss(q_pi, log_prob, alpha=0.5).item() == pytest.approx(((-0.5 - 1) + (0.5 - 0)) / 2)
    log_alpha = torch.zeros((), requires_grad=True)
    loss = losses.alpha_loss(log_alpha, torch.tensor([-1.0, -3.0]), target_entropy=-4.0)
    loss.backward()
    # entropy 2 is above the target -4... log_prob + target = (-5, -7): the gradient pushes alpha down
    assert loss.item() == pytest.approx(0.0) and log_alpha.grad.item() == pytest.approx(6.0)


def test_act_shapes_bounds_and_determinism():
    agent = make_agent("sac", overrides=SMALL, seed=3)
    obs = np.random.default_rng(0).normal(size=(7, 18)).astype(np.float32)
    greedy = agent.act(obs)
    assert greedy.shape == (7, 4) and greedy.dtype == np.float32
    assert np.array_equal(greedy, agent.act(obs))
    sampled = agent.act(obs, explore=True)
    assert np.all(np.abs(sampled) <= 1.0) and not np.array_equal(sampled, greedy)
    twin = make_agent("sac", overrides=SMALL, seed=3)
    assert np.array_equal(twin.act(obs, explore=True), sampled)


def test_action_bounds_follow_the_spec():
    agent = SACAgent(
        SACConfig(**{**SMALL, "hidden": (8,)}), AgentSpec(obs_dim=3, action_dim=2, action_low=0.0, action_high=4.0)
    )
    actions = agent.act(np.random.default_rng(0).normal(size=(50, 3)), explore=True)
    assert actions.min() >= 0.0 and actions.max() <= 4.0


def test_update_changes_weights_and_reports_finite_metrics():
    agent = make_agent("sac", overrides=SMALL)
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    metrics = agent.update(_batch())
    assert set(metrics) == {"critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean"}
    assert all(math.isfinite(v) for v in metrics.values())
    after = agent.state_dict()
    for name in ("actor.net.0.weight", "critic.q.weights.0", "log_alpha"):
        assert not torch.equal(before[name], after[name]), name
    # the target critics move by tau towards the online critics
    moved = after["critic_target.q.weights.1"] - before["critic_target.q.weights.1"]
    assert 0 < moved.abs().max() < (after["critic.q.weights.1"] - before["critic_target.q.weights.1"]).abs().max()


def test_nan_in_a_loss_stops_with_a_clear_error_and_no_step():
    agent = make_agent("sac", overrides=SMALL)
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    batch = _batch()
    batch.reward[3] = float("nan")
    with pytest.raises(FloatingPointError, match="critic_loss.*not finite"):
        agent.update(batch)
    for name, tensor in agent.state_dict().items():
        assert torch.equal(tensor, before[name]), name


@pytest.fixture
def one_thread():
    """torch on one thread, as the league's and the cluster's learners run (restored after);
    skipped where the CPU cannot flush denormals."""
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
    if not supported:
        pytest.skip("this CPU cannot flush denormals")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("gradients", ["handwritten", "autograd"])
def test_the_cpu_update_flushes_denormals_and_leaves_the_default_after(gradients, one_thread):
    seen = {}
    for flush in (True, False):
        agent = make_agent("sac", overrides={**SMALL, "gradients": gradients, "flush_denormals": flush})
        agent.optimizer.register_step_pre_hook(lambda *_, flush=flush: seen.__setitem__(flush, flushing_denormals()))
        agent.update(_batch())
        assert not flushing_denormals()  # off again: the game's physics in this thread keeps IEEE floats
    assert seen == {True: True, False: False}
    agent = make_agent("sac", overrides={**SMALL, "gradients": gradients})
    batch = _batch()
    batch.reward[0] = float("nan")
    with pytest.raises(FloatingPointError):
        agent.update(batch)
    assert not flushing_denormals()  # also after an update that raised


def test_denormals_flushed_keeps_a_callers_setting_and_stays_off_with_more_threads(one_thread):
    cpu = torch.device("cpu")
    torch.set_flush_denormal(True)  # the caller's own (or an outer block's) setting
    try:
        with denormals_flushed(cpu):
            assert flushing_denormals()
        assert flushing_denormals()  # not switched off under the caller
    finally:
        torch.set_flush_denormal(False)
    torch.set_num_threads(2)  # a worker started inside the block would keep the flag: not used
    with denormals_flushed(cpu):
        assert not flushing_denormals()
    torch.set_num_threads(1)
    with denormals_flushed(cpu, enabled=False):
        assert not flushing_denormals()
    with denormals_flushed(cpu):
        assert flushing_denormals()
    assert not flushing_denormals()


def test_policy_checkpoint_round_trip_gives_identical_actions(tmp_path):
    agent = make_agent("sac", overrides=SMALL, seed=5)
    agent.update(_batch())
    digest = save_policy(tmp_path / "p.pt", agent, step=42)
    policy = load_policy(tmp_path / "p.pt", device="cpu")
    obs = np.random.default_rng(1).normal(size=(9, 18)).astype(np.float32)
    assert np.array_equal(policy.act(obs), agent.act(obs))
    stored = load_checkpoint(tmp_path / "p.pt")
    assert (stored.algorithm, stored.step, stored.sha256, stored.config["hidden"]) == ("sac", 42, digest, [32, 32])


def test_distance_features_measure_the_rink_and_ignore_the_mirror():
    from agents.common.features import GOAL_X, distance_features
    from arena.hockey.mirror import mirror_observation

    obs = torch.zeros(1, 18)
    obs[0, [0, 1, 6, 7, 12, 13]] = torch.tensor([-3.0, 0.0, 3.0, 4.0, 0.0, 0.0])  # player, opponent, puck
    got = distance_features(obs)[0]
    expected = [math.hypot(6, 4), 3.0, math.hypot(-3 + GOAL_X, 0), math.hypot(-3 - GOAL_X, 0),  # player to ...
                5.0, math.hypot(3 + GOAL_X, 4), math.hypot(3 - GOAL_X, 4),  # opponent to ...
                GOAL_X, GOAL_X]  # puck to its goals  # fmt: skip
    assert torch.allclose(got, torch.tensor(expected))
    batch = torch.as_tensor(np.random.default_rng(0).normal(size=(32, 18)), dtype=torch.float32)
    mirrored = torch.as_tensor(mirror_observation(batch.numpy()))
    assert torch.allclose(distance_features(batch), distance_features(mirrored), atol=1e-6)


def test_an_agent_with_distance_features_learns_and_reloads(tmp_path):
    config = SACConfig(hidden=(32, 32), batch_size=16, features="distances", device="cpu")
    agent = SACAgent(config, seed=0)
    assert agent.actor.net[0].in_features == 18 + 9
    assert all(math.isfinite(v) for v in agent.update(_batch()).values())
    save_policy(tmp_path / "d.pt", agent, step=0)
    policy = load_policy(tmp_path / "d.pt", device="cpu")
    obs = np.random.default_rng(1).normal(size=(5, 18)).astype(np.float32)
    assert np.array_equal(policy.act(obs), agent.act(obs, explore=False))
    with pytest.raises(ValueError, match="features must be one of raw, distances"):
        SACConfig(features="angles")


def test_tampered_or_foreign_checkpoints_are_refused(tmp_path):
    agent = make_agent("sac", overrides=SMALL)
    save_policy(tmp_path / "p.pt", agent)
    with pytest.raises(CheckpointError, match="'sac' agent, expected 'tdmpc2'"):
        load_checkpoint(tmp_path / "p.pt", algorithm="tdmpc2")
    payload = torch.load(tmp_path / "p.pt", weights_only=True)
    payload["state_dict"]["actor.net.0.bias"][0] += 1.0
    torch.save(payload, tmp_path / "tampered.pt")
    with pytest.raises(CheckpointError, match="sha256"):
        load_policy(tmp_path / "tampered.pt")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "p.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_policy(tmp_path / "truncated.pt")


def test_config_with_unknown_field_or_wrong_type_is_refused():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['hiden'\]"):
        make_config("sac", {"hiden": [64]})
    with pytest.raises(TypeError, match="'gamma' must be a number"):
        make_config("sac", {"gamma": "high"})
    with pytest.raises(ValueError, match="gamma must lie in"):
        make_config("sac", {"gamma": 1.5})
    with pytest.raises(ValueError, match="unknown agent 'sacc'.*basic-strong.*sac"):
        make_agent("sacc")


def test_checkpoint_with_a_broken_config_names_the_file_and_field(tmp_path):
    agent = make_agent("sac", overrides=SMALL)
    save_policy(tmp_path / "p.pt", agent)
    payload = torch.load(tmp_path / "p.pt", weights_only=True)
    payload["config"]["n_critics"] = "two"
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt.*'n_critics' must be an integer"):
        load_policy(tmp_path / "bad.pt")


def test_training_state_round_trip_continues_identically():
    a = make_agent("sac", overrides=SMALL, seed=1)
    a.update(_batch(seed=1))
    b = make_agent("sac", overrides=SMALL, seed=2)
    stored = io.BytesIO()
    torch.save({"weights": a.state_dict(), "training": a.training_state()}, stored)
    stored.seek(0)
    saved = torch.load(stored, weights_only=True)
    b.load_state_dict(saved["weights"])
    b.load_training_state(saved["training"])
    for seed in (2, 3):
        assert a.update(_batch(seed=seed)) == b.update(_batch(seed=seed))
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name


@pytest.mark.slow
def test_sac_learns_a_state_dependent_target():
    """A one-step task: reward -(a - target(obs))^2; SAC must learn to aim within 0.15 on average."""
    spec = AgentSpec(obs_dim=2, action_dim=1)
    agent = SACAgent(SACConfig(hidden=(64, 64), batch_size=128, device="cpu", init_alpha=0.05, gamma=0.0), spec, seed=0)
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(20_000, 8, 2, 1)

    def target(obs):
        return 0.8 * np.tanh(obs[:, 0] - obs[:, 1])

    for step in range(1500):
        obs = rng.normal(size=(8, 2)).astype(np.float32)
        action = agent.act(obs, explore=True) if step > 50 else rng.uniform(-1, 1, (8, 1)).astype(np.float32)
        reward = -((action[:, 0] - target(obs)) ** 2)
        buffer.add(obs, action, reward, obs, np.ones(8, dtype=bool), np.zeros(8, dtype=bool))
        if step > 50:
            agent.update(buffer.sample(128, rng))
    test = rng.normal(size=(500, 2)).astype(np.float32)
    error = np.abs(agent.act(test)[:, 0] - target(test)).mean()
    untrained = np.abs(SACAgent(agent.config, spec, seed=0).act(test)[:, 0] - target(test)).mean()
    assert error < 0.15 < untrained


def test_bench_denormals_runs_on_a_training_checkpoint_and_refuses_other_files(tmp_path):
    run = tmp_path / "run"
    settings = {"n_envs": 4, "learning_starts": 100, "eval_every": 0, "checkpoint_every": 200, "buffer_size": 2000}
    train(TrainConfig(steps=300, run_dir=str(run), progress=False, set=("hidden=[16,16]", "batch_size=16"), **settings))
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_denormals.py"
    done = subprocess.run(
        [sys.executable, str(script), str(run / "checkpoints" / "training.pt"), "--blocks", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["updates"] == 10 and set(result["ms_per_update"]) == {"plain", "flushed"}
    refused = subprocess.run(
        [sys.executable, str(script), str(run / "policy.pt")], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "not a training checkpoint" in refused.stderr
