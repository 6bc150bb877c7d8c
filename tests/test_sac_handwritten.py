"""SAC's handwritten gradients (agents/sac/handwritten.py) against autograd's, in float64."""

from __future__ import annotations

import pytest
import torch

from agents.base import AgentSpec
from agents.common.buffer import Batch
from agents.sac import SACAgent, SACConfig


def _batch(n, seed, obs_dim=18, action_dim=4, dtype=torch.float64) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randn(n, obs_dim, generator=g, dtype=dtype),
        action=torch.rand(n, action_dim, generator=g, dtype=dtype) * 2 - 1,
        reward=torch.randn(n, generator=g, dtype=dtype),
        next_obs=torch.randn(n, obs_dim, generator=g, dtype=dtype),
        terminated=(torch.rand(n, generator=g) < 0.2).to(dtype),
    )


def _agent(gradients, spec, dtype=torch.float64, **config) -> SACAgent:
    agent = SACAgent(SACConfig(device="cpu", gradients=gradients, **config), spec, seed=3)
    agent.nets.to(dtype)
    agent.log_alpha.data = agent.log_alpha.data.to(dtype)
    return agent


CASES = {
    "default sizes": ({"hidden": (256, 256)}, AgentSpec(), 64),
    "three critics, one layer": ({"hidden": (24,), "n_critics": 3}, AgentSpec(), 16),
    "one critic": ({"hidden": (16, 16), "n_critics": 1}, AgentSpec(), 8),
    "three layers, distances": ({"hidden": (16, 24, 8), "features": "distances"}, AgentSpec(), 16),
    "fixed alpha, scaled box": (
        {"hidden": (32, 32), "autotune_alpha": False, "init_alpha": 0.05},
        AgentSpec(obs_dim=18, action_dim=2, action_low=-2.0, action_high=3.0),
        16,
    ),
}


def _compare_one_step(reference, handwritten, n, seed) -> int:
    """Both agents' metrics and gradients for one batch of n, without a step; returns how many
    gradient tensors were compared."""
    spec = reference.spec
    batch = _batch(n, seed=seed, obs_dim=spec.obs_dim, action_dim=spec.action_dim)
    noise = torch.randn((2, n, spec.action_dim), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    args = (batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, noise)
    reference.optimizer.zero_grad(set_to_none=True)
    total, expected = reference._losses(*args)
    total.backward()
    metrics = handwritten._handwritten(*args)
    assert torch.allclose(metrics, expected, rtol=1e-12, atol=1e-14)
    parameters = dict(reference.nets.named_parameters(), log_alpha=reference.log_alpha)
    ours = dict(handwritten.nets.named_parameters(), log_alpha=handwritten.log_alpha)
    compared = 0
    for name, parameter in parameters.items():
        if parameter.grad is None:  # the target critics, and alpha when it is fixed
            assert ours[name].grad is None, name
            continue
        scale = parameter.grad.abs().max().item()
        assert scale > 0, name  # every gradient that autograd computes carries signal here
        assert torch.allclose(ours[name].grad, parameter.grad, rtol=1e-10, atol=1e-12 * scale), name
        compared += 1
    return compared


@pytest.mark.parametrize("case", CASES)
def test_handwritten_gradients_equal_autograd_in_float64(case):
    config, spec, n = CASES[case]
    reference, handwritten = _agent("autograd", spec, **config), _agent("handwritten", spec, **config)
    assert reference._handwritten is None and handwritten._handwritten is not None
    compared = _compare_one_step(reference, handwritten, n, seed=1)
    assert compared == 4 * (len(config["hidden"]) + 1) + config.get("autotune_alpha", True)


def test_the_kept_tensors_follow_a_changing_batch_size():
    config = {"hidden": (16, 16)}
    reference, handwritten = _agent("autograd", AgentSpec(), **config), _agent("handwritten", AgentSpec(), **config)
    for seed, n in enumerate((16, 5, 16, 1)):
        assert _compare_one_step(reference, handwritten, n, seed) == 13


def test_tied_critics_leave_members_without_picked_rows():
    """Equal critics tie on every row, so the members the minimum does not pick have no rows at all
    in the actor loss's backward; the gradients still equal autograd's."""
    config = {"hidden": (16, 16), "n_critics": 3}
    agents = _agent("autograd", AgentSpec(), **config), _agent("handwritten", AgentSpec(), **config)
    with torch.no_grad():
        for agent in agents:
            for critic in (agent.critic, agent.critic_target):
                for tensor in (*critic.q.weights, *critic.q.biases):
                    tensor.copy_(tensor[:1].expand_as(tensor))
    assert _compare_one_step(*agents, 16, seed=2) == 13


def test_the_layer_views_follow_replaced_parameter_and_gradient_tensors():
    """After an update, a dtype change (new parameter tensors) and gradients set to None (new
    gradient tensors): the next update writes into the new ones, and they equal autograd's."""
    config = {"hidden": (16, 16)}
    reference = _agent("autograd", AgentSpec(), **config)
    handwritten = _agent("handwritten", AgentSpec(), dtype=torch.float32, **config)
    handwritten.update(_batch(8, seed=0, dtype=torch.float32))
    handwritten.load_state_dict(reference.state_dict())
    handwritten.nets.to(torch.float64)
    handwritten.log_alpha.data = handwritten.log_alpha.data.to(torch.float64)
    handwritten.optimizer.zero_grad(set_to_none=True)
    assert _compare_one_step(reference, handwritten, 8, seed=1) == 13
    handwritten.optimizer.zero_grad(set_to_none=True)
    assert _compare_one_step(reference, handwritten, 8, seed=2) == 13


def test_an_update_of_frozen_parameters_is_refused():
    agent = SACAgent(SACConfig(device="cpu", hidden=(16, 16), batch_size=8))
    agent.actor.requires_grad_(False)
    before = agent.actor.net[0].weight.clone()
    with pytest.raises(RuntimeError, match="update\\(\\) on frozen parameters"):
        agent.update(_batch(8, seed=0, dtype=torch.float32))
    assert torch.equal(agent.actor.net[0].weight, before)


def test_handwritten_updates_follow_autograd_updates_in_float32():
    """Ten full updates (Adam step and target update included) stay within float32 rounding of autograd's."""
    batches = [_batch(32, seed, dtype=torch.float32) for seed in range(10)]
    config = {"hidden": (64, 64), "batch_size": 32}
    agents = [
        _agent(gradients, AgentSpec(), dtype=torch.float32, **config) for gradients in ("autograd", "handwritten")
    ]
    metrics = [[agent.update(batch) for batch in batches] for agent in agents]
    for expected, got in zip(*metrics):
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-5), key
    for (name, a), b in zip(agents[0].state_dict().items(), agents[1].state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name


def test_gradients_auto_is_handwritten_only_for_the_eager_cpu_update():
    assert SACAgent(SACConfig(device="cpu"))._handwritten is not None
    assert SACAgent(SACConfig(device="cpu", gradients="autograd"))._handwritten is None
    assert SACAgent(SACConfig(device="cpu", graph_update=True))._handwritten is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gradients": "manual"}, "gradients must be one of auto, autograd, handwritten, got 'manual'"),
        ({"gradients": "handwritten", "graph_update": True}, "compile and graph_update need 'autograd'"),
    ],
)
def test_bad_gradients_setting_is_one_clear_error(fields, message):
    with pytest.raises(ValueError, match=message):
        SACConfig(**fields)
