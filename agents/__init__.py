"""Agents: scripted and learning policies (SAC, TD-MPC2, MuZero) built on arena.policy.

Empty until the agents issue lands; the scripted opponents live in arena.policy for now.
"""
