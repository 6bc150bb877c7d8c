"""Games played in lockstep by two sides: what the match runner and the training collector share.

Slot i holds one game (a ``HockeyEngine``). Side A plays the left player where ``a_left[i]``,
else the right one; ``obs_a`` and ``obs_b`` hold each side's view of every game (each view in
its own player's frame), so each side acts on all games with one batched call. The owner decides
which game a slot plays, when it starts and what happens when it ends.
"""

from __future__ import annotations

import numpy as np

from arena.hockey.engine import HockeyEngine


class Lockstep:
    """Engines and both sides' views of them.

    Args:
        engines: one engine per slot.
        a_left: per slot, whether side A plays left (default: everywhere).
    """

    def __init__(self, engines: list[HockeyEngine], a_left=None):
        self.engines = engines
        n = len(engines)
        self.a_left = np.ones(n, dtype=bool) if a_left is None else np.asarray(a_left, dtype=bool).copy()
        self.obs_a = np.zeros((n, engines[0].obs_dim), dtype=np.float32)
        self.obs_b = np.zeros_like(self.obs_a)

    def write_views(self, slot: int) -> None:
        """Refresh both sides' views of the game in ``slot``."""
        left, right = self.engines[slot].views()
        if self.a_left[slot]:
            self.obs_a[slot], self.obs_b[slot] = left, right
        else:
            self.obs_a[slot], self.obs_b[slot] = right, left

    def step(self, slot: int, action_a, action_b) -> HockeyEngine:
        """One step of the game in ``slot`` with each side's action (in that side's own frame);
        the views are refreshed. Returns the engine (``done``, ``winner``, ... tell what happened)."""
        engine = self.engines[slot]
        if self.a_left[slot]:
            engine.step(action_a, action_b)
        else:
            engine.step(action_b, action_a)
        self.write_views(slot)
        return engine

    def outcome_for_a(self, slot: int) -> int:
        """The finished game's result from side A's view: +1 A won, -1 A lost, 0 a draw."""
        winner = self.engines[slot].winner
        return int(winner if self.a_left[slot] else -winner)
