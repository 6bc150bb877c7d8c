"""The hockey game and how matches are played: engine, environments, policies, match runner.

Importing ``arena`` registers the Gymnasium environment ``arena/Hockey-v0``.
"""

import gymnasium

from arena import hockey_v0
from arena.match import GameRecord, MatchResult, play_games
from arena.policy import IdlePolicy, Policy, RandomPolicy, make_policy

if "arena/Hockey-v0" not in gymnasium.registry:
    gymnasium.register(id="arena/Hockey-v0", entry_point="arena.single:HockeySingleEnv")

__all__ = [
    "GameRecord",
    "IdlePolicy",
    "MatchResult",
    "Policy",
    "RandomPolicy",
    "hockey_v0",
    "make_policy",
    "play_games",
]
