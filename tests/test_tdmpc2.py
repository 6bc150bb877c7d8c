"""TD-MPC2: two-hot encoding, SimNorm, the losses and quantiles on small tensors, the planner's shapes,
bounds and batch equivalence, a checkpoint round trip, determinism and refusal of configs that do not fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import load_policy, make_agent, save_policy
from agents.common.buffer import ReplayBuffer
from agents.common.distributional import soft_ce, symexp, symlog, two_hot, two_hot_inv
from agents.tdmpc2 import TDMPC2Config, losses
from agents.tdmpc2.networks import SimNorm
from agents.tdmpc2.planner import draw_noise, plan

SMALL = {"device": "cpu", "enc_dim": 32, "mlp_dim": 32, "latent_dim": 16, "num_samples": 32, "num_elites": 4,
         "num_pi_trajs": 4, "iterations": 2, "batch_size": 8}  # fmt: skip


def test_symlog_and_two_hot_round_trip():
    x = torch.tensor([-500.0, -10.0, -1.5, 0.0, 0.3, 1.0, 7.0, 250.0])
    assert torch.allclose(symexp(symlog(x)), x, rtol=1e-5)
    encoded = two_hot(x, -10.0, 10.0, 101)
    assert encoded.shape == (8, 101)
    assert torch.allclose(encoded.sum(-1), torch.ones(8))
    assert ((encoded > 0).sum(-1) <= 2).all()  # at most two neighbouring bins
    logits = torch.log(encoded.clamp(min=1e-12))  # softmax(log p) = p
    assert torch.allclose(two_hot_inv(logits, -10.0, 10.0), x, rtol=1e-4, atol=1e-4)
    beyond = two_hot(torch.tensor([1e9]), -10.0, 10.0, 101)
    assert beyond[0, -1] == 1.0  # clipped to the last bin
    assert soft_ce(logits, encoded).shape == (8,)
    with pytest.raises(ValueError, match="2 bins"):
        two_hot(x, -1.0, 1.0, 1)


def test_cpu_mish_matches_pytorchs_values_and_gradients():
    from torch.nn import functional

    from agents.common.nets import mish

    x = torch.cat([torch.linspace(-120.0, 120.0, 2001), torch.randn(1000) * 3]).double().requires_grad_()
    (reference_grad,) = torch.autograd.grad(functional.mish(x).sum(), x)
    (grad,) = torch.autograd.grad(mish(x).sum(), x)
    assert torch.allclose(mish(x), functional.mish(x), atol=1e-12, rtol=1e-9)
    assert torch.allclose(grad, reference_grad, atol=1e-12, rtol=1e-9)
    y = torch.randn(64, 32) * 4
    assert torch.allclose(mish(y), functional.mish(y), atol=1e-5)


def test_simnorm_makes_each_group_a_distribution():
    x = torch.randn(5, 24)
    y = SimNorm(8)(x)
    groups = y.view(5, 3, 8)
    assert torch.allclose(groups.sum(-1), torch.ones(5, 3)) and (y >= 0).all()


def test_losses_on_hand_made_tensors():
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    weights = losses.step_weights(mask, 0.5)
    assert torch.allclose(weights, torch.tensor([[1.0, 1.0], [0.5, 0.0], [0.25, 0.0]]))
    target = torch.tensor(1.0) + 0.9 * (1 - torch.tensor(0.0)) * 2.0
    assert losses.td_target(torch.tensor(1.0), torch.tensor(0.0), torch.tensor(2.0), 0.9) == target
    assert losses.td_target(torch.tensor(1.0), torch.tensor(1.0), torch.tensor(2.0), 0.9) == 1.0
    predicted, goal = torch.zeros(3, 2, 4), torch.ones(3, 2, 4)
    # squared error 1 everywhere: sum of weights / (H * B)
    assert losses.consistency_loss(predicted, goal, weights) == pytest.approx(2.75 / 6)
    target = two_hot(torch.full((3, 2), 2.0), -10, 10, 21)
    perfect = torch.log(target.clamp(min=1e-12))
    entropy = -(target * perfect).sum(-1)  # the least a cross-entropy against this target can be
    expected = (entropy * weights).sum() / 6
    assert losses.reward_loss(perfect, torch.full((3, 2), 2.0), weights, -10, 10) == pytest.approx(float(expected))
    assert losses.reward_loss(perfect, torch.full((3, 2), -5.0), weights, -10, 10) > 10 * expected
    logits = torch.tensor([[10.0, -10.0], [-10.0, 10.0], [0.0, 0.0]])
    terminated = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert losses.termination_loss(logits, terminated, torch.ones(3, 2)) == pytest.approx(
        np.log(2) * 2 / 6, rel=1e-3
    )  # only the two 0-logit entries are uncertain
    q, entropy = torch.ones(3, 2), torch.zeros(3, 2)
    assert losses.policy_loss(q, entropy, weights, 1e-4) == pytest.approx(-2.75 / 6)


def test_quantiles_equal_torchs_without_reading_the_points_on_the_host():
    points = torch.tensor([0.05, 0.95])
    generator = torch.Generator().manual_seed(0)
    for size in (2, 8, 17, 256, 1000):
        values = torch.randn(size, generator=generator) * 20
        assert torch.equal(losses.quantiles(values, points), torch.quantile(values, points))
    assert losses.quantiles(torch.arange(11.0), points).tolist() == pytest.approx([0.5, 9.5])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"latent_dim": 20, "simnorm_dim": 8}, "multiple of simnorm_dim"),
        ({"model_size": "7M"}, "model_size"),
        ({"num_elites": 600}, "num_elites"),
        ({"num_pi_trajs": 128}, "num_pi_trajs"),
        ({"num_q": 1}, "num_q"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_configs_that_do_not_fit_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        TDMPC2Config(**values)


def test_presets_give_the_official_sizes():
    assert TDMPC2Config(model_size="5M").sizes == (256, 512, 512, 2, 5)
    assert TDMPC2Config(model_size="5M", latent_dim=128).sizes[2] == 128
    agent = make_agent("tdmpc2", overrides={"model_size": "5M", "device": "cpu"})
    parameters = sum(p.numel() for name, p in agent.model.named_parameters() if not name.startswith("q_target"))
    assert 5.0e6 < parameters < 6.0e6  # ~4.95M plus the episodic termination head (design notes)


def _agent(seed=0, **overrides):
    return make_agent("tdmpc2", overrides={**SMALL, **overrides}, seed=seed)


def test_plans_have_the_right_shape_and_stay_in_bounds():
    agent = _agent()
    obs = np.random.default_rng(0).normal(size=(5, 18)).astype(np.float32)
    for explore in (False, True):
        action = agent.act(obs, explore=explore)
        assert action.shape == (5, 4) and action.dtype == np.float32
        assert np.all(np.abs(action) <= 1.0)
    assert agent._plans.shape == (5, 3, 4) and not agent._fresh.any()
    agent.reset(np.array([False, True, False, False, False]))
    assert agent._fresh.tolist() == [False, True, False, False, False]
    prior = _agent(mpc=False)
    assert prior.act(obs).shape == (5, 4) and np.all(np.abs(prior.act(obs, explore=True)) <= 1.0)


def test_batched_planning_equals_separate_plans_with_the_same_streams():
    agent = _agent(seed=3)
    model, config = agent.model.eval(), agent.config
    z = model.encode(torch.as_tensor(np.random.default_rng(1).normal(size=(4, 18)), dtype=torch.float32))
    previous = torch.rand(4, config.horizon, 4) * 2 - 1
    fresh = torch.tensor([True, False, True, False])
    streams = [agent._stream(i) for i in range(4)]
    noise = draw_noise(streams, config, 4, model.num_q, torch.device("cpu"))
    together, plans = plan(model, z, noise, previous, fresh, config, explore=True)
    for i in range(4):
        alone_noise = draw_noise([agent._stream(i)], config, 4, model.num_q, torch.device("cpu"))
        alone, alone_plan = plan(model, z[i : i + 1], alone_noise, previous[i : i + 1], fresh[i : i + 1], config,
                                 explore=True)  # fmt: skip
        assert torch.allclose(together[i], alone[0], atol=1e-5)
        assert torch.allclose(plans[i], alone_plan[0], atol=1e-5)


def _filled_buffer(seed=0) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(400, 2, 18, 4)
    for t in range(120):
        done = [t % 40 == 39] * 2
        buffer.add(rng.normal(size=(2, 18)), rng.uniform(-1, 1, (2, 4)), rng.normal(size=2), rng.normal(size=(2, 18)),
                   done, [False, False])  # fmt: skip
    return buffer


def test_update_is_deterministic_and_learns_the_reward():
    results = []
    for _ in range(2):
        agent, buffer, rng = _agent(seed=5), _filled_buffer(), np.random.default_rng(2)
        metrics = [agent.update(buffer.sample_sequences(8, 3, rng)) for _ in range(30)]
        results.append((metrics, agent.act(np.zeros((2, 18), dtype=np.float32))))
    assert results[0][0] == results[1][0]
    assert np.array_equal(results[0][1], results[1][1])
    first, last = results[0][0][0], results[0][0][-1]
    assert set(first) >= {"consistency_loss", "reward_loss", "value_loss", "termination_loss", "policy_loss"}
    assert last["reward_loss"] < first["reward_loss"]


def test_checkpoint_round_trip_gives_identical_actions(tmp_path):
    agent, buffer, rng = _agent(seed=1), _filled_buffer(), np.random.default_rng(0)
    for _ in range(3):
        agent.update(buffer.sample_sequences(8, 3, rng))
    save_policy(tmp_path / "policy.pt", agent, step=10)
    obs = np.random.default_rng(4).normal(size=(3, 18)).astype(np.float32)
    first, second = load_policy(tmp_path / "policy.pt", device="cpu"), load_policy(tmp_path / "policy.pt", "cpu")
    assert np.array_equal(first.act(obs), second.act(obs))  # same seed streams, same weights
    restored = first.agent
    for name, tensor in agent.state_dict().items():
        assert torch.equal(restored.state_dict()[name], tensor)


def test_a_checkpoint_trained_without_planning_can_be_loaded_to_plan(tmp_path):
    from agents.checkpoint import CheckpointError

    save_policy(tmp_path / "policy.pt", _agent(seed=2, mpc=False), step=1)
    obs = np.random.default_rng(5).normal(size=(2, 18)).astype(np.float32)
    prior = load_policy(tmp_path / "policy.pt", device="cpu")
    planner = load_policy(tmp_path / "policy.pt", device="cpu", overrides=("mpc=True", "iterations=3"))
    assert not prior.agent.config.mpc and planner.agent.config.mpc and planner.agent.config.iterations == 3
    assert not np.allclose(prior.act(obs), planner.act(obs))  # the plan is not the prior's mean
    with pytest.raises(CheckpointError, match=r"latent_dim=32 \(stored: 16\) changes the networks' shapes") as caught:
        load_policy(tmp_path / "policy.pt", device="cpu", overrides=("latent_dim=32",))
    assert "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="nmp"):
        load_policy(tmp_path / "policy.pt", device="cpu", overrides=("nmpc=True",))


def test_the_target_q_functions_never_train_so_their_targets_have_no_dropout():
    agent = _agent(seed=4, mpc=True)
    agent.model.train()
    agent.act(np.zeros((2, 18), dtype=np.float32), explore=True)
    assert agent.model.q.training and not agent.model.q_target.training
    assert agent.model.q_target.dropout > 0  # dropout exists: it is the mode that keeps it out of the targets
