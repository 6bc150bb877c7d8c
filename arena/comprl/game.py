"""What a client can know of a game on the competition server, from what the server sends.

The server sends observations only, then the two round counts at the end: no message marks a
round boundary, and a game cut short by a player who left ends with the same ``EndGame`` as a
finished one. So the client reads both from the observations:

- a round starts where the observation shows the reset layout (own player at (-3, 0), the
  opponent at (3, 0), both at angle 0, nothing moving, the puck at rest) after one that did not,
  or after a round reached the step cap (a round where nobody moved never leaves the reset
  layout). The hold timers are not part of the test: the server's game keeps them across a reset.
- a round that ended before the step cap ended with a goal; one that reached it, without one. A
  game is complete when its rounds are all played: goals plus rounds that ran out reach the
  format's round count. Anything less means a player left.

Actions go out as exactly four Python floats in [-1, 1]: the server closes the connection on
anything else (NaN, a value out of range, a float32 that its AMP encoder refuses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ACTION_SIZE = 4
IDLE_ACTION = [0.0, 0.0, 0.0, 0.0]
_RESET_ZERO = (1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 14, 15)  # y, angles and velocities of both players, puck velocity
_TOLERANCE = 1e-4


@dataclass(frozen=True)
class GameFormat:
    """The server's game: rounds per game and Steps per round at most.

    Attributes:
        rounds: rounds per game; the winner has strictly more round wins.
        round_steps: Steps a round lasts at most (the game ends a round on its 251st step).
    """

    rounds: int = 4
    round_steps: int = 251


def looks_like_round_start(obs) -> bool:
    """Whether an observation (own frame) shows the layout every round starts from."""
    if len(obs) < 16:
        return False
    if abs(obs[0] + 3.0) > _TOLERANCE or abs(obs[6] - 3.0) > _TOLERANCE:
        return False
    return all(abs(obs[i]) <= _TOLERANCE for i in _RESET_ZERO)


def wire_action(actions) -> list[float]:
    """The first row of a policy's actions as the server accepts them: 4 finite Python floats in [-1, 1].

    Raises:
        ValueError: when there are fewer than 4 values or one is not finite (the policy is broken).
    """
    row = np.asarray(actions, dtype=np.float64).reshape(-1)
    if row.size < ACTION_SIZE or not np.all(np.isfinite(row[:ACTION_SIZE])):
        raise ValueError(f"expected 4 finite action values, got {row[:8].tolist()}")
    return [float(min(1.0, max(-1.0, value))) for value in row[:ACTION_SIZE]]


@dataclass(frozen=True)
class GameResult:
    """One game on the server, from this client's view.

    Attributes:
        game_id: the server's id of the game (its UUID as text).
        number: the game's number in this run of the client (1, 2, ...).
        opponent: the opponent's name where the server gave one, else None.
        rounds_won, rounds_lost, rounds_drawn: rounds ended by our goal, the opponent's, the step cap.
        disconnected: a player left before the rounds were all played.
        why: for a disconnected game, who left ("the opponent left", "our connection was lost").
        steps: Steps this client answered in the game.
        late: Steps the policy did not answer in time (the idle action went out instead).
    """

    game_id: str
    number: int
    opponent: str | None
    rounds_won: int
    rounds_lost: int
    rounds_drawn: int
    disconnected: bool
    why: str = ""
    steps: int = 0
    late: int = 0

    @property
    def outcome(self) -> int:
        """+1 won, 0 drawn, -1 lost on round wins; 0 when disconnected (the server records no winner)."""
        if self.disconnected:
            return 0
        return int(np.sign(self.rounds_won - self.rounds_lost))

    @property
    def result(self) -> str:
        return "disconnected" if self.disconnected else {1: "win", 0: "draw", -1: "loss"}[self.outcome]

    def line(self, tally: Tally) -> str:
        """One line for the log: game, opponent, rounds, result and the running tally."""
        result = f"disconnected ({self.why})" if self.disconnected else self.result
        late = f", {self.late} late steps answered idle" if self.late else ""
        return (
            f"game {self.number} {self.game_id[:8]} vs {self.opponent or 'unknown'}: rounds won {self.rounds_won}, "
            f"lost {self.rounds_lost}, drawn {self.rounds_drawn}: {result}{late} | {tally}"
        )


class GameTracker:
    """Follows one game Step by Step: round starts, and the rounds' ends where the server's count is missing.

    Args:
        game_id: the server's id of the game.
        number: the game's number in this run.
        game_format: rounds per game and the step cap.
    """

    def __init__(self, game_id: str, number: int, game_format: GameFormat = GameFormat()):
        self.game_id, self.number, self.format = game_id, number, game_format
        self.steps = 0
        self.rounds_started = 0
        self.round_steps = 0
        self.timeouts = 0  # rounds that reached the step cap
        self.goals: list[int] = []  # +1 / -1 per round seen ending on a goal, read from the puck
        self.late = 0
        self.opponent: str | None = None
        self._last = None
        self._last_was_start = False

    def observe(self, obs) -> bool:
        """Count one Step's observation; True when it starts a round (the game's first Step included)."""
        looks = looks_like_round_start(obs)
        if self._last is None:
            new = True
        elif self.round_steps >= self.format.round_steps:
            new = True
            self.timeouts += 1
        elif looks and not self._last_was_start:
            new = True
            # The last Step before a goal shows the puck at the goal it is entering: ours is at x < 0.
            self.goals.append(1 if self._last[12] > 0 else -1)
        else:
            new = False
        if new:
            self.rounds_started += 1
            self.round_steps = 0
        self.round_steps += 1
        self.steps += 1
        self._last, self._last_was_start = list(obs), looks
        return new

    def _timeouts_at_end(self) -> int:
        return self.timeouts + (self.round_steps >= self.format.round_steps)

    def finish(self, stats) -> GameResult:
        """The result from the server's ``EndGame`` (``stats``: [own round wins, opponent's])."""
        counts = [value for value in stats if math.isfinite(value)][:2]
        if len(counts) == 2:
            won, lost = int(counts[0]), int(counts[1])
        else:  # a server that sent no counts: read them from the observations
            won, lost = self.goals.count(1), self.goals.count(-1)
        timeouts = self._timeouts_at_end()
        complete = self.rounds_started >= self.format.rounds and won + lost + timeouts >= self.format.rounds
        drawn = max(0, self.format.rounds - won - lost) if complete else timeouts
        why = "" if complete else "the opponent left"
        return GameResult(
            self.game_id, self.number, self.opponent, won, lost, drawn, not complete, why, self.steps, self.late
        )

    def abandon(self, why: str = "our connection was lost") -> GameResult:
        """The result of a game this client left: rounds read from the observations so far."""
        return GameResult(
            self.game_id,
            self.number,
            self.opponent,
            self.goals.count(1),
            self.goals.count(-1),
            self.timeouts,
            True,
            why,
            self.steps,
            self.late,
        )


@dataclass
class Tally:
    """Running wins, draws, losses and disconnected games."""

    wins: int = 0
    draws: int = 0
    losses: int = 0
    disconnected: int = 0

    def add(self, result: GameResult) -> None:
        if result.disconnected:
            self.disconnected += 1
        else:
            name = {1: "wins", 0: "draws", -1: "losses"}[result.outcome]
            setattr(self, name, getattr(self, name) + 1)

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses + self.disconnected

    def __str__(self) -> str:
        return f"W/D/L {self.wins}/{self.draws}/{self.losses}, {self.disconnected} disconnected"
