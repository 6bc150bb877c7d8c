"""The tree search that follows each node's stored choice (``mcts.search``) gives exactly the
results of the plain level-by-level search (``levelwise.search_levelwise``): same actions, policies,
values and visit counts, for pUCT and Gumbel, exploring or not, on batches whose trees grow to
different depths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.muzero import MuZeroConfig
from agents.muzero.levelwise import search_levelwise
from agents.muzero.mcts import search
from agents.muzero.networks import MuZeroNetwork


def _network(config: MuZeroConfig, peaky: float) -> MuZeroNetwork:
    torch.manual_seed(1)
    network = MuZeroNetwork(config, 18).eval()
    for parameter in network.parameters():  # random weights instead of the zero-initialised heads
        torch.nn.init.normal_(parameter, std=0.3)
    with torch.no_grad():  # sharper priors grow deeper, narrower trees
        network.policy_head[-1].weight.mul_(peaky)
    return network


@pytest.mark.parametrize("gumbel", [False, True])
@pytest.mark.parametrize("explore", [False, True])
@pytest.mark.parametrize(("batch", "peaky"), [(1, 1.0), (6, 1.0), (6, 8.0)])
def test_search_equals_the_level_by_level_search(gumbel, explore, batch, peaky):
    config = MuZeroConfig(
        num_simulations=40, latent_dim=16, hidden_dim=32, blocks=1, gumbel=gumbel, max_considered_actions=8
    )
    network = _network(config, peaky)
    obs = torch.as_tensor(np.random.default_rng(batch).normal(size=(batch, 18)), dtype=torch.float32)
    fast = search(network, obs, [np.random.default_rng([3, i]) for i in range(batch)], config, explore)
    plain = search_levelwise(network, obs, [np.random.default_rng([3, i]) for i in range(batch)], config, explore)
    np.testing.assert_array_equal(fast.action, plain.action)
    np.testing.assert_array_equal(fast.visits, plain.visits)
    np.testing.assert_array_equal(fast.policy, plain.policy)
    np.testing.assert_array_equal(fast.value, plain.value)
    assert (fast.visits.sum(axis=1) == config.num_simulations).all()
