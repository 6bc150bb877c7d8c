"""Batched Monte Carlo tree search over MuZero's learned model: one search for every game at once.

The trees of all B games live in arrays indexed (game, node, action): children, priors, visit
counts, value sums and rewards of edges, and the hidden state of every node (a tensor on the
network's device). Node n of every tree is created by simulation n, so no per-node Python
objects exist. The search addresses node n of game g as row g * size + n of these arrays
flattened to (B * size, ...), so any set of (game, node) pairs is one index array.

Each node keeps the action its selection rule would choose there now (``_Trees.best``) and the
child along it (``_Trees.next``). A node's choice changes only when its own statistics change
(it lay on the path just backed up, or it was just created) or, for pUCT, when its game's min-max
value bounds move and it has a visited edge (an unvisited child's score reads no bounds); after
each backup exactly those nodes are re-scored, in one vectorised call for all games. So a
simulation's descent only follows those pointers, a couple of list lookups per step. The network
then expands one leaf per game in a single call, and the values are backed up along each game's
path. With the network called once per simulation, what the search adds around it is a count of
small NumPy and torch calls, each costing microseconds however small its arrays; the code keeps
that count low (see ``_scalars``, ``_descend`` and ``_backup``). ``agents.muzero.levelwise`` is
the same search written plainly (every node scored as the descent reaches it, all games level by
level until the deepest reaches its leaf); the two give identical results
(tests/test_muzero_search.py).

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

A rule scores any set of nodes, given as rows (``select``), may override the root's choice per
simulation (``root``: Gumbel's sequential halving), and says whether its scores read the game's
value bounds (``bounded``).

All random draws of one search for one game come from that game's generator, so a batch of B
games searches exactly as B separate searches with the same generators would.
"""

from __future__ import annotations

import functools
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
        self.size = nodes  # nodes per tree: node n of game g is row g * size + n
        self.roots = np.arange(batch) * nodes  # each game's root row
        self.child_rows = np.full((batch * nodes, actions), -1)  # by row and action: the child's row (-1: none)
        self.prior = np.zeros((batch, nodes, actions))
        self.logits = np.zeros((batch, nodes, actions))
        self.visits = np.zeros((batch, nodes, actions))
        self.value_sum = np.zeros((batch, nodes, actions))
        self.reward = np.zeros((batch, nodes, actions))
        self.node_value = np.zeros((batch, nodes))  # the network's value estimate of each node
        self.visited = np.zeros((batch, nodes), dtype=bool)  # nodes with a visited edge (their Q read the bounds)
        self.states = torch.zeros(batch, nodes, latent, device=device)
        self.low = np.full(batch, np.inf)
        self.high = np.full(batch, -np.inf)
        self.best = np.zeros(batch * nodes, dtype=np.int64)  # by row: the action the rule chooses there now
        self.next = np.full(batch * nodes, -1)  # by row: the child's row along it (-1: not expanded yet)

    def by_row(self, array: np.ndarray) -> np.ndarray:
        """A (B, nodes, A) array as (B * nodes, A), one row per node (a view)."""
        return array.reshape(-1, array.shape[-1])


def to_scalar(logits: torch.Tensor, config: MuZeroConfig) -> torch.Tensor:
    """Values or rewards from the network's categorical logits (B, support) -> (B,)."""
    return support_to_scalar(logits, config.support_size, config.support_step)


@functools.lru_cache(maxsize=16)
def _support(size: int, step: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.arange(-size, size + 1, device=device, dtype=dtype) * step


def _scalars(config: MuZeroConfig, *logits: torch.Tensor) -> np.ndarray:
    """(k, B) float64 values or rewards from k (B, support) logit tensors: ``to_scalar``'s result
    to the bit, for a fraction of its torch calls (each costs microseconds, however small the
    tensor). The expectation over the support stays in torch, for all k at once (softmax and sum
    work row by row: stacking changes no bit). h^-1's elementwise float32 steps run in NumPy,
    whose correctly rounded +, *, / give torch's bits at a fraction of a torch call's overhead,
    except the square root: torch's vectorised one is not correctly rounded, so it stays with
    torch, on rows of length B (which elements take the vector path depends on the length)."""
    if logits[0].device.type != "cpu":  # the argument above is about torch's CPU kernels
        return np.stack([to_scalar(x, config).cpu().numpy() for x in logits]).astype(np.float64)
    support = _support(config.support_size, config.support_step, logits[0].device, logits[0].dtype)
    y = (torch.softmax(torch.stack(logits), -1) * support).sum(-1).numpy()
    epsilon = 1e-3  # as distributional.inverse_value_transform, op for op
    # the square root of all k in one call, on rows one element apart in memory: rows that cannot
    # merge into one run are walked one by one, each as a tensor of length B
    inner = np.empty((y.shape[0], y.shape[1] + 1), dtype=y.dtype)[:, :-1]
    np.add(1.0, 4.0 * epsilon * (np.abs(y) + 1.0 + epsilon), out=inner)
    root = (torch.sqrt(torch.from_numpy(inner)).numpy() - 1.0) / (2.0 * epsilon)
    return (np.sign(y) * (root * root - 1.0)).astype(np.float64)


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

    def select(self, trees: _Trees, rows: np.ndarray) -> np.ndarray:
        """(P,) the action chosen at each node of ``rows`` (game * size + node), from the tree as it is."""
        return _puct_action(trees, rows, self.config)

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

    def select(self, trees: _Trees, rows: np.ndarray) -> np.ndarray:
        games, nodes = np.divmod(rows, trees.size)
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


@torch.inference_mode()  # once for the whole search: no autograd bookkeeping on its many small tensor ops
def search(network, obs: torch.Tensor, generators: list[np.random.Generator], config: MuZeroConfig,
           explore: bool, rule: PUCT | Gumbel | None = None) -> SearchResult:  # fmt: skip
    """Search from the observations of B games (one generator per game) with ``rule`` choosing the
    actions (default: the config's); see the module docstring. Shapes: obs (B, obs_dim) -> (B,) actions."""
    rule = rule or selection_rule(config)
    trees = plant(network, obs, generators, config, explore, rule)

    _rescore(trees, rule, trees.roots)
    for sim in range(config.num_simulations):
        rows, actions, depth, leaf_row, leaf_action = _descend(trees, rule, sim)
        index = sim + 1
        value = expand(trees, network, config, leaf_row, leaf_action, index)
        moved = _backup(trees, rows, actions, depth, value, config.decision_discount)
        # re-score what changed: the nodes on the paths, the new leaves, and every visited node of
        # a game whose value bounds moved when the rule's scores read them
        if rule.bounded and moved.any():
            stale = trees.visited & moved[:, None]  # a node with no visited edge reads no bounds
            stale.reshape(-1)[rows] = True
            stale[:, index] = True
            _rescore(trees, rule, np.flatnonzero(stale))
        else:
            _rescore(trees, rule, np.concatenate((rows, trees.roots + index)))

    visits = trees.visits[:, 0].copy()
    value = trees.value_sum[:, 0].sum(axis=1) / np.maximum(visits.sum(axis=1), 1)
    action, policy = rule.finish(trees, generators, explore)
    return SearchResult(action, policy, value, visits)


def _rescore(trees: _Trees, rule, rows: np.ndarray) -> None:
    """Store the rule's current choice at each node of ``rows``, and the child's row along it."""
    action = rule.select(trees, rows)
    trees.best[rows] = action
    trees.next[rows] = trees.child_rows[rows, action]


def _descend(trees: _Trees, rule, simulation: int) -> tuple[np.ndarray, np.ndarray, list, np.ndarray, np.ndarray]:
    """Each game's path from its root along the stored choices to the first unexpanded edge.

    Returns the rows and actions of the paths' edges, game after game, each from its root down;
    the number of edges of each game's path; and (B,) the row and action of each game's
    unexpanded edge. The walk is plain Python over lists: a step is two list lookups, where a
    vectorised level over the games would cost several NumPy calls (microseconds each), and
    hockey's trees are a few levels deep."""
    best, following = trees.best.tolist(), trees.next.tolist()
    roots = trees.roots
    chosen = rule.root(trees, simulation)
    if chosen is None:
        first = [(row, best[row], following[row]) for row in roots.tolist()]
    else:
        first = zip(roots.tolist(), chosen.tolist(), trees.child_rows[roots, chosen].tolist())
    rows, actions, depth, leaf_row, leaf_action = [], [], [], [], []
    for row, action, child in first:
        start = len(rows)
        rows.append(row)
        actions.append(action)
        while child >= 0:
            row = child
            action, child = best[row], following[row]
            rows.append(row)
            actions.append(action)
        depth.append(len(rows) - start)
        leaf_row.append(row)
        leaf_action.append(action)
    return np.array(rows), np.array(actions), depth, np.array(leaf_row), np.array(leaf_action)


def plant(network, obs: torch.Tensor, generators: list[np.random.Generator], config: MuZeroConfig, explore: bool,
          rule: PUCT | Gumbel) -> _Trees:  # fmt: skip
    """B trees, each with its root expanded from one network call on the observations. Call it
    under ``torch.inference_mode()`` (as ``search`` does)."""
    state, policy_logits, value_logits = network.initial(obs)
    (root_value,) = _scalars(config, value_logits)
    logits = policy_logits.cpu().numpy().astype(np.float64)
    trees = _Trees(obs.shape[0], config.num_simulations + 1, config.num_actions, state.shape[-1], state.device)
    trees.states[:, 0] = state
    trees.logits[:, 0] = logits
    trees.prior[:, 0] = rule.start(trees, logits, generators, explore)
    trees.node_value[:, 0] = root_value
    return trees


def expand(trees: _Trees, network, config: MuZeroConfig, leaf_row: np.ndarray, leaf_action: np.ndarray,
           index: int) -> np.ndarray:  # fmt: skip
    """One network call expands each game's leaf (the child of row ``leaf_row`` along
    ``leaf_action``) as node ``index``: its state, reward, prior and value; returns the leaves'
    values (B,). Call it under ``torch.inference_mode()`` (as ``search`` does)."""
    states = trees.states.view(-1, trees.states.shape[-1])
    parent = torch.index_select(states, 0, torch.from_numpy(leaf_row).to(states.device))
    action = torch.from_numpy(leaf_action).to(states.device)
    new_state, reward_logits, policy_logits, value_logits = network.recurrent(parent, action)
    reward, value = _scalars(config, reward_logits, value_logits)
    trees.states[:, index] = new_state
    edges = leaf_row * trees.child_rows.shape[-1] + leaf_action
    trees.child_rows.reshape(-1)[edges] = trees.roots + index
    trees.reward.reshape(-1)[edges] = reward
    logits = trees.logits[:, index]
    logits[:] = policy_logits.cpu().numpy()
    trees.prior[:, index] = softmax(logits)
    trees.node_value[:, index] = value
    return value


def _backup(trees: _Trees, rows: np.ndarray, actions: np.ndarray, depth: list, value: np.ndarray,
            discount: float) -> np.ndarray:  # fmt: skip
    """Back the leaves' values (B,) up each game's path (``_descend``'s rows and actions, game
    after game, ``depth[g]`` edges for game g): returns r + discount * G from the leaf up, added
    to the visit counts, value sums and the game's value bounds. Returns (B,) whether each game's
    bounds moved."""
    edges = rows * trees.visits.shape[-1] + actions  # one edge per (game, level): no edge repeats
    reward = trees.reward.reshape(-1)[edges].tolist()
    # the returns in Python floats, whose IEEE double arithmetic is NumPy's, without a NumPy call
    # per level (most of a simulation's cost outside the network is per-call overhead)
    returns, starts, end = [0.0] * len(reward), [], 0
    for ret, length in zip(value.tolist(), depth):
        start, end = end, end + length
        starts.append(start)
        for i in range(end - 1, start - 1, -1):
            ret = returns[i] = reward[i] + discount * ret
    returns = np.array(returns)
    trees.visits.reshape(-1)[edges] += 1
    trees.value_sum.reshape(-1)[edges] += returns
    trees.visited.reshape(-1)[rows] = True
    low, high = np.minimum.reduceat(returns, starts), np.maximum.reduceat(returns, starts)
    moved = (low < trees.low) | (high > trees.high)
    trees.low, trees.high = np.minimum(trees.low, low), np.maximum(trees.high, high)
    return moved


def _puct_action(trees: _Trees, rows: np.ndarray, config: MuZeroConfig) -> np.ndarray:
    """(P,) the pUCT choice at each node of ``rows``."""
    visits = trees.by_row(trees.visits)[rows]
    seen = visits > 0
    total = visits.sum(axis=1, keepdims=True)
    q = trees.by_row(trees.value_sum)[rows] / np.maximum(visits, 1.0)  # unvisited: 0 / 1, masked below
    # min-max normalised with the game's value bounds, in [0, 1] (np.clip's Python wrapper costs
    # more than the two ufuncs); before a game's first backup the bounds are infinite, but no
    # edge is visited then
    games = (rows // trees.size)[:, None]
    low = trees.low[games]
    span = np.maximum(trees.high[games] - low, 0.01)  # LightZero's value_delta_max
    q = np.where(seen, np.minimum(np.maximum((q - low) / span, 0.0), 1.0), 0.0)
    c = config.pb_c_init + np.log((total + config.pb_c_base + 1) / config.pb_c_base)
    score = q + trees.by_row(trees.prior)[rows] * np.sqrt(total + 1) / (1 + visits) * c
    return score.argmax(axis=1)


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
