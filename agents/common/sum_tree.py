"""A sum tree over non-negative weights: set weights and draw indices proportionally in O(log n).

Prioritized replay draws a batch of sequence starts in proportion to priority^alpha. Renormalising
every weight of a large buffer for each batch costs O(n) (about 20 ms for 500k transitions); the
tree keeps partial sums so that setting B weights and drawing B indices cost O(B log n), vectorised
over the batch.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Binary tree whose leaves are the weights and whose inner nodes hold their children's sums.

    Node 1 is the root; node i has children 2i and 2i + 1; leaf j is node ``leaves + j``. Every
    inner node is recomputed as left + right whenever a leaf below it changes, so the tree is
    always exactly the same function of its leaves, however it was reached.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"sum tree needs at least one leaf, got {size}")
        self.size = size
        self.leaves = 1 << (size - 1).bit_length()
        self.nodes = np.zeros(2 * self.leaves, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.nodes[1])  # the root (with one leaf, the leaf itself)

    def get(self, index: np.ndarray) -> np.ndarray:
        return self.nodes[np.asarray(index) + self.leaves]

    def set(self, index: np.ndarray, values: np.ndarray) -> None:
        """Set leaves ``index`` to ``values`` (>= 0); with repeated indices, the last value wins."""
        values = np.asarray(values, dtype=np.float64)
        if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
            raise ValueError("sum tree weights must be finite and >= 0")
        nodes = np.asarray(index, dtype=np.int64) + self.leaves
        self.nodes[nodes] = values
        parents = np.unique(nodes // 2)
        while parents.size and parents[-1] >= 1:
            self.nodes[parents] = self.nodes[2 * parents] + self.nodes[2 * parents + 1]
            if parents[-1] == 1:
                break
            parents = np.unique(parents // 2)

    def build(self, values: np.ndarray) -> None:
        """Set every leaf at once (``values`` has ``size`` entries) and recompute all sums."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size != self.size:
            raise ValueError(f"sum tree has {self.size} leaves, got {values.size} values")
        self.nodes[:] = 0.0
        self.nodes[self.leaves : self.leaves + self.size] = values
        level = self.leaves // 2
        while level >= 1:
            parents = np.arange(level, 2 * level)
            self.nodes[parents] = self.nodes[2 * parents] + self.nodes[2 * parents + 1]
            level //= 2

    def find(self, mass: np.ndarray) -> np.ndarray:
        """The leaf whose cumulative span holds each ``mass`` in [0, total): leaf j is found for
        masses in [sum of leaves < j, sum of leaves <= j)."""
        mass = np.array(mass, dtype=np.float64)
        node = np.ones(mass.shape, dtype=np.int64)
        while self.leaves > 1 and node.size and node[0] < self.leaves:  # every leaf is at the same depth
            left = self.nodes[2 * node]
            right = mass >= left
            mass = np.where(right, mass - left, mass)
            node = 2 * node + right
        return node - self.leaves
