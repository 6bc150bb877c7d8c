"""MuZero's batched tree search written plainly: the specification ``agents.muzero.mcts.search`` is held to.

Every simulation walks all B trees together, one depth at a time, scoring each node with the
selection rule as the walk reaches it (vectorised over the games), until the deepest game of the
batch reaches its leaf; then one network call expands a leaf per game, and the values are backed
up level by level. ``mcts.search`` gives the same actions, policies, values and visit counts
with far less work per level (see its module docstring); this form stays as the reference that
tests compare it with and that ``benchmarks/bench_agents.py --muzero-search`` times it against.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.muzero.config import MuZeroConfig
from agents.muzero.mcts import PUCT, Gumbel, SearchResult, expand, plant, selection_rule


@torch.inference_mode()
def search_levelwise(
    network,
    obs: torch.Tensor,
    generators: list[np.random.Generator],
    config: MuZeroConfig,
    explore: bool,
    rule: PUCT | Gumbel | None = None,
) -> SearchResult:
    """The same search as ``mcts.search`` (same arguments, same result), level by level."""
    rule = rule or selection_rule(config)
    batch, sims = obs.shape[0], config.num_simulations
    rows = np.arange(batch)
    trees = plant(network, obs, generators, config, explore, rule)

    for sim in range(sims):
        node = np.zeros(batch, dtype=np.int64)
        active = np.ones(batch, dtype=bool)
        path: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        leaf_node = np.zeros(batch, dtype=np.int64)
        leaf_action = np.zeros(batch, dtype=np.int64)
        depth = 0
        while active.any():
            action = rule.root(trees, sim) if depth == 0 else None
            if action is None:
                action = rule.select(trees, rows * trees.size + node)
            path.append((node.copy(), action, active.copy()))
            child_row = trees.child_rows[rows * trees.size + node, action]
            child = np.where(child_row >= 0, child_row - rows * trees.size, -1)
            leaf = active & (child < 0)
            leaf_node[leaf], leaf_action[leaf] = node[leaf], action[leaf]
            active &= child >= 0
            node = np.where(active, child, node)
            depth += 1
        index = sim + 1
        value = expand(trees, network, config, rows * trees.size + leaf_node, leaf_action, index)
        ret = value
        for nodes, acts, on in reversed(path):
            ret = np.where(on, trees.reward[rows, nodes, acts] + config.decision_discount * ret, ret)
            trees.visits[rows[on], nodes[on], acts[on]] += 1
            trees.value_sum[rows[on], nodes[on], acts[on]] += ret[on]
            trees.low = np.where(on, np.minimum(trees.low, ret), trees.low)
            trees.high = np.where(on, np.maximum(trees.high, ret), trees.high)

    visits = trees.visits[:, 0].copy()
    value = trees.value_sum[:, 0].sum(axis=1) / np.maximum(visits.sum(axis=1), 1)
    action, policy = rule.finish(trees, generators, explore)
    return SearchResult(action, policy, value, visits)
