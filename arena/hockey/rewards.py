"""The learner's reward, by name: every formula a training run can choose, in one place.

- ``game``: the course environment's reward, +-10 on a decided game's last step plus the
  closeness-to-puck shaping (``HockeyEngine.reward``).
- ``sparse``: +-10 for a goal, nothing else.
- ``shaped``: ``game`` plus 1.0 for each catch of the puck (``reward_touch_puck``) plus 3.0 times
  the puck's speed towards the opponent's goal (``reward_puck_direction``); the weights the course's
  2nd-placed TD3 team credited (design notes, agents.md section 7), which also reported that
  sparse reward alone trained far weaker agents.

Each is mirror-invariant (top-bottom): closeness is a distance, touch and direction use x only.
"""

from __future__ import annotations

from arena.hockey.engine import HockeyEngine

TOUCH_WEIGHT = 1.0
DIRECTION_WEIGHT = 3.0


def shaped_reward(engine: HockeyEngine, player: int = 0) -> float:
    info = engine.info(player)
    return (
        engine.reward(player, info)
        + TOUCH_WEIGHT * info["reward_touch_puck"]
        + DIRECTION_WEIGHT * info["reward_puck_direction"]
    )


REWARDS = {"game": HockeyEngine.reward, "sparse": HockeyEngine.goal_reward, "shaped": shaped_reward}


def reward_function(name: str):
    """The ``(engine, player) -> reward`` function named ``name`` (a key of ``REWARDS``)."""
    if name not in REWARDS:
        raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {name!r}")
    return REWARDS[name]
