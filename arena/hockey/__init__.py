"""The hockey game of the Tuebingen RL course on Box2D: engine, constants, BasicOpponent."""

from arena.hockey.basic_opponent import BasicOpponent, basic_opponent_action
from arena.hockey.constants import Mode
from arena.hockey.engine import EngineState, HockeyEngine

__all__ = ["BasicOpponent", "EngineState", "HockeyEngine", "Mode", "basic_opponent_action"]
