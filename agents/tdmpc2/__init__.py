"""TD-MPC2 (Hansen, Su, Wang 2024): a latent world model with MPPI planning, batched across games."""

from agents.tdmpc2.agent import TDMPC2Agent
from agents.tdmpc2.config import MODEL_SIZES, TDMPC2Config

__all__ = ["MODEL_SIZES", "TDMPC2Agent", "TDMPC2Config"]
