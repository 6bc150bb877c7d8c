"""MuZero (Schrittwieser et al. 2020) for vector observations and discrete hockey moves, with a
batched tree search (pUCT, or Gumbel MuZero's root for few simulations)."""

from agents.muzero.agent import MuZeroAgent
from agents.muzero.config import MuZeroConfig

__all__ = ["MuZeroAgent", "MuZeroConfig"]
