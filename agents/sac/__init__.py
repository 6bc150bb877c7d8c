"""Soft Actor-Critic (Haarnoja et al. 2018, with automatic entropy tuning)."""

from agents.sac.agent import SACAgent
from agents.sac.config import SACConfig

__all__ = ["SACAgent", "SACConfig"]
