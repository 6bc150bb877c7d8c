"""Every registered agent honours the interface: batched act, weights round trip, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import AGENTS, load_policy, make_agent, save_policy
from agents.base import AgentSpec, config_from_dict, parse_overrides
from agents.common.runtime import load_optimizer_state
from agents.sac import SACConfig
from arena import play_games

SMALL = {  # small networks and searches: this test checks the interface, not playing strength
    "sac": {"hidden": [16, 16], "device": "cpu"},
    "tdmpc2": {"enc_dim": 32, "mlp_dim": 32, "latent_dim": 16, "num_samples": 16, "num_elites": 4, "num_pi_trajs": 2,
               "iterations": 2, "device": "cpu"},
    "muzero": {"latent_dim": 16, "hidden_dim": 32, "num_simulations": 4, "device": "cpu"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_acts_in_batches_and_round_trips_through_a_checkpoint(name, tmp_path):
    agent = make_agent(name, overrides=SMALL.get(name), seed=0)
    obs = np.random.default_rng(0).normal(size=(5, 18)).astype(np.float32)
    actions = agent.act(obs)
    assert actions.shape == (5, 4) and np.all(np.abs(actions) <= 1.0)
    save_policy(tmp_path / f"{name}.pt", agent)
    policy = load_policy(tmp_path / f"{name}.pt", device="cpu")
    if AGENTS[name].learns:  # scripted players draw from their own generators; learned ones are deterministic
        assert np.array_equal(policy.act(obs), actions)
    result = play_games(policy, "weak", n_games=2, n_envs=2)
    assert result.n_games == 2


def test_scripted_agents_refuse_to_learn():
    with pytest.raises(TypeError, match="nothing to learn"):
        make_agent("basic-strong").update(None)


def test_spec_and_overrides_are_checked():
    with pytest.raises(ValueError, match="obs_dim must be a positive integer"):
        AgentSpec(obs_dim=0)
    assert config_from_dict(AgentSpec, {"obs_dim": 16}).obs_dim == 16
    config = parse_overrides(["hidden=[64, 64]", "gamma=0.98"], SACConfig)
    assert config.hidden == (64, 64) and config.gamma == 0.98
    with pytest.raises(ValueError, match="expected key=value"):
        parse_overrides(["gamma"], SACConfig)


def test_optimizer_resume_keeps_the_built_learning_rates_and_the_saved_moments():
    weights = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    first = torch.optim.Adam([{"params": [weights[0]], "lr": 1e-3}, {"params": [weights[1]], "lr": 5e-4}])
    sum(w.square().sum() for w in weights).backward()
    first.step()
    resumed = torch.optim.Adam([{"params": [weights[0]], "lr": 1e-4}, {"params": [weights[1]], "lr": 5e-5}])
    load_optimizer_state(resumed, first.state_dict())
    assert [group["lr"] for group in resumed.param_groups] == [1e-4, 5e-5]
    for w in weights:
        assert torch.equal(resumed.state[w]["exp_avg"], first.state[w]["exp_avg"])
        assert float(resumed.state[w]["step"]) == 1.0
    # an update recorded as a CUDA graph needs capturable steps, whichever way the state was saved
    graphed = torch.optim.Adam([{"params": [w]} for w in weights], lr=1e-4, capturable=True)
    load_optimizer_state(graphed, first.state_dict())
    assert all(group["capturable"] for group in graphed.param_groups) and not first.defaults["capturable"]
    assert torch.equal(graphed.state[weights[0]]["exp_avg_sq"], first.state[weights[0]]["exp_avg_sq"])


@pytest.mark.parametrize("name", ["sac", "tdmpc2", "muzero"])
def test_every_learner_refuses_an_update_with_non_finite_losses_in_one_way(name):
    agent = make_agent(name, overrides={"device": "cpu"})
    agent.refuse_non_finite(loss=torch.tensor(1.5), other=0.25)  # finite: nothing happens
    with pytest.raises(FloatingPointError, match=rf"{name} update 1: loss not finite \({{'loss': nan}}\)"):
        agent.refuse_non_finite(loss=torch.tensor(float("nan")), other=0.25)
