"""Agents: every player (scripted or learned) is a policy the arena can play; learning agents
add updates, weights and training state. ``load_policy(path)`` turns any checkpoint into a
ready, frozen policy."""

from agents.base import Agent, AgentSpec, FrozenPolicy
from agents.checkpoint import CheckpointError
from agents.registry import AGENTS, load_agent, load_policy, make_agent, make_policy, save_policy

__all__ = [
    "AGENTS",
    "Agent",
    "AgentSpec",
    "CheckpointError",
    "FrozenPolicy",
    "load_agent",
    "load_policy",
    "make_agent",
    "make_policy",
    "save_policy",
]
