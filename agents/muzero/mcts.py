"""Batched Monte Carlo tree search over MuZero's learned model: one search for every game at once.

The trees of all B games live in arrays indexed (game, node, action): children, priors, visit
counts, value sums and rewards of edges, and the hidden state of every node (a tensor on the
network's device). Node n of every tree is created by simulation n, so no per-node Python
objects exist.

Each node keeps the action its selection rule would choose there now (``_Trees.best``) and the
child along it (``_Trees.next``). A node's choice changes only when its own statistics change
(it lay on the path just backed up, or it was just created) or, for pUCT, when its game's min-max
value bounds move; after each backup exactly those nodes are re-scored, in one vectorised call
for all games. So a simulation's descent only follows those pointers: each game walks to its own
leaf and leaves the batch there, and a level of the descent costs a few array lookups however
deep the other games' trees are. The network then expands one leaf per game in a single call,
and the values are backed up along each game's path. ``agents.muzero.levelwise`` is the same
search written plainly (every node scored as the descent reaches it, all games level by level
until the deepest reaches its leaf); the two give identical results (tests/test_muzero_search.py).

Two selection rules, each an object that ``search`` is handed (``selection_rule(config)`` picks
the config's), so that the search itself is one loop for both (as DeepMind's mctx separates them):

- pUCT (MuZero): Dirichlet noise on the root prior when exploring; child scores are the min-max
  normalised Q plus prior * sqrt(N) / (1 + n) * (c1 + log((N + c2 + 1) / c2)). The policy is the
  root's visit counts (with a temperature when exploring).
- Gumbel (Danihelka et al. 2022): the root samples ``max_considered_actions`` actions without
  replacement by Gumbel-top-k, splits the simulations among them by sequential halving on
  g + logits + sigma(q) (q completed and min-max normalised over each node's children), and
  plays the survivor; inside the tree, children are chosen
  deterministically to match the improved policy softmax(logits + sigma(completed Q)). The
  policy target is that improved policy at the root.

A rule scores any set of (game, node) pairs (``select``), may override the root's choice per
simulation (``root``: Gumbel's sequential halving), and says whether its scores read the game's
value bounds (``bounded``).

All random draws of one search for one game come from that game's generator, so a batch of B
games searches exactly as B separate searches with the same generators would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from agents.common.distributional import support_to_scalar
from agents.muzero.config import MuZeroConfig


@dataclass
class SearchResult:
    action: np.ndarray  # (B,) chosen action indices
    policy: np.ndarray  # (B, A) the policy target: visit distribution or Gumbel's improved policy
    value: np.ndarray  # (B,) the root's search value
    visits: np.ndarray  # (B, A) root visit counts


class _Trees:
    def __init__(self, batch: int, nodes: int, actions: int, latent: int, device):
        self.children = np.full((batch, nodes, actions), -1, dtype=np.int64)
        self.prior = np.zeros((batch, nodes, actions))
        self.logits = np.zeros((batch, nodes, actions))
        self.visits = np.zeros((batch, nodes, actions))
        self.value_sum = np.zeros((batch, nodes, actions))
        self.reward = np.zeros((batch, nodes, actions))
        self.node_value = np.zeros((batch, nodes))  # the network's value estimate of each node
        self.states = torch.zeros(batch, nodes, latent, device=device)
        self.low = np.full(batch, np.inf)
        self.high = np.full(batch, -np.inf)
        self.best = np.zeros((batch, nodes), dtype=np.int64)  # the action the rule chooses at each node now
        self.next = np.full((batch, nodes), -1, dtype=np.int64)  # the child along it (-1: not expanded yet)

    def normalised(self, q: np.ndarray, games: np.ndarray | None = None) -> np.ndarray:
        """Min-max normalised values, in [0, 1]: q is (B, ...) with the game first, or (P, ...) for
        the P games ``games`` (one per row)."""
        low, high = (self.low, self.high) if games is None else (self.low[games], self.high[games])
        span = np.maximum(high - low, 0.01)  # LightZero's value_delta_max
        low = np.where(np.isfinite(low), low, 0.0)
        shape = (-1,) + (1,) * (q.ndim - 1)
        return np.clip((q - low.reshape(shape)) / span.reshape(shape), 0.0, 1.0)


def to_scalar(logits: torch.Tensor, config: MuZeroConfig) -> torch.Tensor:
    """Values or rewards from the network's categorical logits (B, support) -> (B,)."""
    return support_to_scalar(logits, config.support_size, config.support_step)


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _completed_q(trees: _Trees, rows: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """(B, A) Q of each child, the node's value mixed with its visited children's Q where
    unvisited (Danihelka et al. 2022, eq. 33), min-max normalised over the node's children as in
    the paper's reference implementation (mctx): the gaps between the children's values set the
    policy improvement, however small they are next to the values elsewhere in the tree (one
    frame of a different move changes the value of a hockey state very little)."""
    visits, value_sum = trees.visits[rows, nodes], trees.value_sum[rows, nodes]
    prior = trees.prior[rows, nodes]
    q = np.divide(value_sum, visits, out=np.zeros_like(value_sum), where=visits > 0)
    total = visits.sum(axis=1)
    visited_prior = (prior * (visits > 0)).sum(axis=1)
    weighted_q = (prior * q * (visits > 0)).sum(axis=1) / np.maximum(visited_prior, 1e-12)
    v = trees.node_value[rows, nodes]
    mixed = (v + total * weighted_q) / (1.0 + total)
    mixed = np.where(total > 0, mixed, v)
    completed = np.where(visits > 0, q, mixed[:, None])
    low, high = completed.min(axis=1, keepdims=True), completed.max(axis=1, keepdims=True)
    return (completed - low) / np.maximum(high - low, 1e-8)


def _sigma(q: np.ndarray, max_visits: np.ndarray) -> np.ndarray:
    return (50.0 + max_visits[:, None]) * 0.1 * q  # c_visit 50, c_scale 0.1


class PUCT:
    """MuZero's rule: Dirichlet noise on the root prior when exploring, pUCT inside the tree, and
    the root's visit counts as the policy (played with a temperature when exploring)."""

    bounded = True  # scores read the game's min-max value bounds: when they move, every node is re-scored

    def __init__(self, config: MuZeroConfig):
        self.config = config

    def start(self, trees: _Trees, logits: np.ndarray, generators: list, explore: bool) -> np.ndarray:
        """The root prior (B, A), before the first simulation."""
        config, prior = self.config, softmax(logits)
        if explore and config.dirichlet_weight > 0:
            noise = np.stack([g.dirichlet([config.dirichlet_alpha] * config.num_actions) for g in generators])
            prior = (1 - config.dirichlet_weight) * prior + config.dirichlet_weight * noise
        return prior

    def root(self, trees: _Trees, simulation: int) -> np.ndarray | None:
        """(B,) the root's action in ``simulation`` where the rule sets it apart; None: as any node."""
        return None

    def select(self, trees: _Trees, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """(P,) the action chosen at node ``nodes[i]`` of game ``games[i]``, from the tree as it is."""
        return _puct_action(trees, games, nodes, self.config)

    def finish(self, trees: _Trees, generators: list, explore: bool) -> tuple[np.ndarray, np.ndarray]:
        """(B,) the actions played and (B, A) the policy target, after the last simulation."""
        visits = trees.visits[:, 0]
        policy = visits / visits.sum(axis=1, keepdims=True)
        if explore:
            tempered = visits ** (1.0 / self.config.temperature)
            tempered /= tempered.sum(axis=1, keepdims=True)
            action = np.array([g.choice(self.config.num_actions, p=p) for g, p in zip(generators, tempered)])
        else:
            action = np.argmax(visits + 1e-6 * trees.prior[:, 0], axis=1)  # ties go to the prior
        return action, policy


class Gumbel:
    """Gumbel MuZero's rule: sequential halving over Gumbel-top-k root actions, deterministic
    interior choices that follow the improved policy, which is also the policy target."""

    bounded = False  # scores are normalised over each node's own children

    def __init__(self, config: MuZeroConfig):
        self.config = config

    def start(self, trees: _Trees, logits: np.ndarray, generators: list, explore: bool) -> np.ndarray:
        config, batch = self.config, logits.shape[0]
        self.logits = logits
        if explore:
            self.gumbel = np.stack([g.gumbel(size=config.num_actions) for g in generators])
        else:
            self.gumbel = np.zeros((batch, config.num_actions))
        self.considered = _gumbel_top_k(self.gumbel + logits, config.max_considered_actions)
        self.schedule = _halving_schedule(config.num_simulations, config.max_considered_actions)
        return softmax(logits)

    def root(self, trees: _Trees, simulation: int) -> np.ndarray:
        return _gumbel_root_action(trees, self.gumbel, self.logits, self.considered, self.schedule[simulation])

    def select(self, trees: _Trees, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        return _gumbel_interior_action(trees, games, nodes)

    def finish(self, trees: _Trees, generators: list, explore: bool) -> tuple[np.ndarray, np.ndarray]:
        visits = trees.visits[:, 0]
        batch = visits.shape[0]
        q = _completed_q(trees, np.arange(batch), np.zeros(batch, dtype=np.int64))
        score = _sigma(q, visits.max(axis=1))
        policy = softmax(self.logits + score)
        final = np.where(self.considered, self.gumbel + self.logits + score, -np.inf)
        # the survivor of sequential halving: among the most visited considered actions, the best score
        most = visits == np.where(self.considered, visits, -1).max(axis=1, keepdims=True)
        action = np.argmax(np.where(most & self.considered, final, -np.inf), axis=1)
        return action, policy


def selection_rule(config: MuZeroConfig) -> PUCT | Gumbel:
    """The rule a config asks for (``gumbel``); a fresh one per search, since Gumbel's keeps its draws."""
    return Gumbel(config) if config.gumbel else PUCT(config)


def search(network, obs: torch.Tensor, generators: list[np.random.Generator], config: MuZeroConfig,
           explore: bool, rule: PUCT | Gumbel | None = None) -> SearchResult:  # fmt: skip
    """Search from the observations of B games (one generator per game) with ``rule`` choosing the
    actions (default: the config's); see the module docstring. Shapes: obs (B, obs_dim) -> (B,) actions."""
    rule = rule or selection_rule(config)
    batch, sims = obs.shape[0], config.num_simulations
    rows = np.arange(batch)
    trees = plant(network, obs, generators, config, explore, rule)

    _rescore(trees, rule, rows, np.zeros(batch, dtype=np.int64))
    for sim in range(sims):
        path, leaf_node, leaf_action = _descend(trees, rule, sim)
        index = sim + 1
        value = expand(trees, network, config, rows, leaf_node, leaf_action, index)
        nodes, moved = _backup(trees, path, value, config.decision_discount)
        # re-score what changed: the nodes on the paths, the new leaves, and every node of a game
        # whose value bounds moved when the rule's scores read them
        stale = np.zeros((batch, sims + 1), dtype=bool)
        stale.reshape(-1)[nodes] = True
        stale[:, index] = True
        if rule.bounded:
            stale[moved, : index + 1] = True
        _rescore(trees, rule, *np.nonzero(stale))

    visits = trees.visits[:, 0].copy()
    value = trees.value_sum[:, 0].sum(axis=1) / np.maximum(visits.sum(axis=1), 1)
    action, policy = rule.finish(trees, generators, explore)
    return SearchResult(action, policy, value, visits)


def _rescore(trees: _Trees, rule, games: np.ndarray, nodes: np.ndarray) -> None:
    """Store the rule's current choice at each (game, node) pair, and the child along it."""
    action = rule.select(trees, games, nodes)
    trees.best[games, nodes] = action
    trees.next[games, nodes] = trees.children[games, nodes, action]


def _descend(trees: _Trees, rule, simulation: int) -> tuple[list, np.ndarray, np.ndarray]:
    """Each game's path from its root along the stored choices to the first unexpanded edge.

    Returns the path as one (games, nodes, actions) triple of arrays per depth (the games still
    descending at that depth; nodes as flat indices into the (B, nodes) arrays), and (B,) the node
    and action of each game's unexpanded edge. A game leaves the arrays at its own leaf, so a level
    costs a few lookups over the games still in it, however deep the other games descend."""
    batch, size = trees.best.shape
    best, following = trees.best.reshape(-1), trees.next.reshape(-1)
    games = np.arange(batch)
    nodes = games * size  # the roots
    action = rule.root(trees, simulation)
    if action is None:
        action, child = best[nodes], following[nodes]
    else:
        child = trees.children[games, 0, action]
    leaf_node, leaf_action = np.empty(batch, dtype=np.int64), np.empty(batch, dtype=np.int64)
    path = []
    while True:
        path.append((games, nodes, action))
        expanded = child >= 0
        if not expanded.all():
            ends = ~expanded
            leaf_node[games[ends]], leaf_action[games[ends]] = nodes[ends] - games[ends] * size, action[ends]
            if not expanded.any():
                return path, leaf_node, leaf_action
            games, child = games[expanded], child[expanded]
        nodes = games * size + child
        action, child = best[nodes], following[nodes]


def plant(network, obs: torch.Tensor, generators: list[np.random.Generator], config: MuZeroConfig, explore: bool,
          rule: PUCT | Gumbel) -> _Trees:  # fmt: skip
    """B trees, each with its root expanded from one network call on the observations."""
    with torch.no_grad():
        state, policy_logits, value_logits = network.initial(obs)
        root_value = to_scalar(value_logits, config).cpu().numpy().astype(np.float64)
        logits = policy_logits.cpu().numpy().astype(np.float64)
    trees = _Trees(obs.shape[0], config.num_simulations + 1, config.num_actions, state.shape[-1], state.device)
    trees.states[:, 0] = state
    trees.logits[:, 0] = logits
    trees.prior[:, 0] = rule.start(trees, logits, generators, explore)
    trees.node_value[:, 0] = root_value
    return trees


def expand(trees, network, config: MuZeroConfig, rows: np.ndarray, leaf_node: np.ndarray, leaf_action: np.ndarray,
           index: int) -> np.ndarray:  # fmt: skip
    """One network call expands each game's leaf (``leaf_node``'s child along ``leaf_action``) as
    node ``index``: its state, reward, prior and value; returns the leaves' values."""
    with torch.no_grad():
        parent = trees.states[torch.as_tensor(rows), torch.as_tensor(leaf_node)]
        action_tensor = torch.as_tensor(leaf_action, device=parent.device)
        new_state, reward_logits, policy_logits, value_logits = network.recurrent(parent, action_tensor)
        reward = to_scalar(reward_logits, config).cpu().numpy().astype(np.float64)
        value = to_scalar(value_logits, config).cpu().numpy().astype(np.float64)
        child_logits = policy_logits.cpu().numpy().astype(np.float64)
    trees.states[:, index] = new_state
    trees.children[rows, leaf_node, leaf_action] = index
    trees.reward[rows, leaf_node, leaf_action] = reward
    trees.logits[:, index] = child_logits
    trees.prior[:, index] = softmax(child_logits)
    trees.node_value[:, index] = value
    return value


def _backup(trees: _Trees, path: list, value: np.ndarray, discount: float) -> tuple[np.ndarray, np.ndarray]:
    """Back the leaves' values (B,) up each game's path: returns r + discount * G from the leaf
    up, added to the visit counts, value sums and the game's value bounds. Returns the flat indices
    of the paths' nodes and (B,) whether each game's bounds moved."""
    actions = trees.visits.shape[-1]
    reward = trees.reward.reshape(-1)
    ret = value.copy()
    returns = []
    for games, nodes, action in reversed(path):
        ret[games] = reward[nodes * actions + action] + discount * ret[games]
        returns.append(ret[games])
    games, nodes, action = (np.concatenate(part) for part in zip(*path))
    returns = np.concatenate(returns[::-1])
    edges = nodes * actions + action  # one edge per (game, depth): no edge repeats
    trees.visits.reshape(-1)[edges] += 1
    trees.value_sum.reshape(-1)[edges] += returns
    low, high = trees.low.copy(), trees.high.copy()
    np.minimum.at(trees.low, games, returns)
    np.maximum.at(trees.high, games, returns)
    return nodes, (trees.low != low) | (trees.high != high)


def _puct_action(trees: _Trees, games: np.ndarray, nodes: np.ndarray, config: MuZeroConfig) -> np.ndarray:
    """(P,) the pUCT choice at node ``nodes[i]`` of game ``games[i]``."""
    visits = trees.visits[games, nodes]
    total = visits.sum(axis=1, keepdims=True)
    q = np.divide(trees.value_sum[games, nodes], visits, out=np.zeros_like(visits), where=visits > 0)
    q = np.where(visits > 0, trees.normalised(q, games), 0.0)
    c = config.pb_c_init + np.log((total + config.pb_c_base + 1) / config.pb_c_base)
    score = q + trees.prior[games, nodes] * np.sqrt(total + 1) / (1 + visits) * c
    return np.argmax(score, axis=1)


def _gumbel_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, A) bool: the k best actions of each game."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    mask = np.zeros_like(scores, dtype=bool)
    np.put_along_axis(mask, top, True, axis=1)
    return mask


def _halving_schedule(simulations: int, considered: int) -> list[int]:
    """Sequential halving as a visit target per simulation: simulation i goes to a considered
    root action that has been visited exactly ``schedule[i]`` times. Each phase gives every
    remaining action the same number of visits (at least one), then halves the field; the budget
    is spread over ceil(log2(m)) phases (Danihelka et al. 2022, as in mctx)."""
    phases = max(1, math.ceil(math.log2(considered)))
    schedule: list[int] = []
    visits = [0] * considered
    remaining = considered
    while len(schedule) < simulations:
        extra = max(1, simulations // (phases * remaining))
        for _ in range(extra):
            schedule += visits[:remaining]
            for index in range(remaining):
                visits[index] += 1
        remaining = max(2, remaining // 2)
    return schedule[:simulations]


def _gumbel_root_action(trees, gumbel, logits, considered, target_visits) -> np.ndarray:
    """Among the considered actions visited exactly ``target_visits`` times, the best by
    g + logits + sigma(q): the survivors of sequential halving are the best-scoring ones."""
    batch = gumbel.shape[0]
    rows, root = np.arange(batch), np.zeros(batch, dtype=np.int64)
    visits = trees.visits[:, 0]
    q = _completed_q(trees, rows, root)
    score = np.where(considered, gumbel + logits + _sigma(q, visits.max(axis=1)), -np.inf)
    due = considered & (visits == target_visits)
    fewest = np.where(considered, visits, np.inf).min(axis=1, keepdims=True)
    due = np.where(due.any(axis=1, keepdims=True), due, considered & (visits == fewest))
    return np.argmax(np.where(due, score, -np.inf), axis=1)


def _gumbel_interior_action(trees, rows, node) -> np.ndarray:
    """argmax of improved policy - N(a) / (1 + sum N): visits follow softmax(logits + sigma(q))."""
    visits = trees.visits[rows, node]
    q = _completed_q(trees, rows, node)
    improved = softmax(trees.logits[rows, node] + _sigma(q, visits.max(axis=1)))
    return np.argmax(improved - visits / (1.0 + visits.sum(axis=1, keepdims=True)), axis=1)
