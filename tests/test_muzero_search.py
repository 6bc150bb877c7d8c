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
from agents.muzero.mcts import _scalars, search, to_scalar
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


@pytest.mark.parametrize("support_step", [1.0, 0.5])
def test_fast_decoding_equals_to_scalar_to_the_bit(support_step):
    """The search decodes rewards and values with ``mcts._scalars``, NumPy standing in for most of
    ``to_scalar``'s torch calls; it must give the same bits at every batch size, since which
    elements take torch's vectorised paths depends on the length (a torch upgrade can change that)."""
    config = MuZeroConfig(support_size=10, support_step=support_step)
    rng = np.random.default_rng(0)
    width = 2 * config.support_size + 1
    for batch in range(1, 71):
        first, second = (torch.as_tensor(rng.normal(scale=4.0, size=(batch, width)), dtype=torch.float32) for _ in "ab")
        fast = _scalars(config, first, second)
        for row, logits in zip(fast, (first, second)):
            expected = to_scalar(logits, config).numpy().astype(np.float64)
            np.testing.assert_array_equal(row, expected, err_msg=f"batch {batch}")
