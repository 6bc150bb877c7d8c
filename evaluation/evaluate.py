"""Evaluate one policy against a list of opponents: win/draw/loss from both sides, with intervals.

Each opponent is played ``games`` times through ``arena.play_games`` (pairs of games share an
engine seed with sides swapped, and the policy has the first possession in every other pair), and
the result is reported overall, per side and by first possession: a policy can win most games it
starts with the puck and draw most of the others (``models/muzero-hockey``'s card).
``evaluate_server_format`` plays the competition server's 4-round games instead
(``arena.server_format``), where the first possession alternates within each game.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from arena.match import GameRecord, play_games
from arena.server_format import play_server_games
from evaluation.stats import WDL


@dataclass(frozen=True)
class EvalRow:
    opponent: str
    total: WDL
    left: WDL
    right: WDL
    starting: WDL  # the games where the policy started with the puck
    receiving: WDL  # the games where the opponent did
    mean_length: float
    rounds: WDL | None = None  # server format: the policy's rounds won, drawn (ran out) and lost

    def summary(self) -> dict:
        extra = {} if self.rounds is None else {"rounds": self.rounds.summary()}
        return {
            "opponent": self.opponent,
            **self.total.summary(),
            "left": self.left.summary(),
            "right": self.right.summary(),
            "starting": self.starting.summary(),
            "receiving": self.receiving.summary(),
            "mean_length": self.mean_length,
            **extra,
        }


def evaluate_policy(
    policy, opponents: dict, games: int, seed: int = 0, n_envs: int = 32, mode="normal"
) -> list[EvalRow]:
    """Play ``policy`` against each of ``opponents`` (label -> policy or scripted name).

    Args:
        policy: the policy under test (batched ``act``).
        opponents: label -> opponent policy or scripted name.
        games: games per opponent (an even number gives both sides equally).
        seed: match seed; each opponent gets the same seeds, so results are comparable.
        n_envs: games played at once.
    """
    rows = []
    for label, opponent in opponents.items():
        result = play_games(policy, opponent, n_games=games, seed=seed, n_envs=n_envs, mode=mode)
        records = result.records
        left = WDL.from_outcomes(r.outcome for r in records if r.a_side == "left")
        right = WDL.from_outcomes(r.outcome for r in records if r.a_side == "right")
        starting = WDL.from_outcomes(r.outcome for r in records if _policy_started(r))
        receiving = WDL.from_outcomes(r.outcome for r in records if not _policy_started(r))
        rows.append(EvalRow(label, left + right, left, right, starting, receiving, result.mean_length))
    return rows


def evaluate_server_format(policy, opponents: dict, games: int, seed: int = 0, n_envs: int = 32) -> list[EvalRow]:
    """Play ``policy`` against each of ``opponents`` in the competition server's game format: 4 rounds,
    the puck's starting half alternating, sides kept, the winner by more round wins.

    The rows' first-possession splits stay empty (each game has both); ``rounds`` counts the rounds.
    """
    rows = []
    empty = WDL(0, 0, 0)
    for label, opponent in opponents.items():
        records = play_server_games(policy, opponent, n_games=games, seed=seed, n_envs=n_envs)
        left = WDL.from_outcomes(r.outcome for r in records if r.a_side == "left")
        right = WDL.from_outcomes(r.outcome for r in records if r.a_side == "right")
        rounds = WDL(*(sum(getattr(r, f"rounds_{k}") for r in records) for k in ("won", "drawn", "lost")))
        length = sum(r.length for r in records) / len(records)
        rows.append(EvalRow(label, left + right, left, right, empty, empty, length, rounds))
    return rows


def _policy_started(record: GameRecord) -> bool:
    """Whether policy A had the first possession (``one_starting``: the left player starts)."""
    return record.one_starting == (record.a_side == "left")


LEGEND = {
    "opponent": "the opponent's label (a scripted name, a checkpoint's path or an external policy's spec)",
    "games": "games played, half from each side",
    "score": "(wins + draws/2) / games, with its 95% interval",
    "win, draw, loss": "the share of games won, drawn and lost, each with its 95% Wilson interval",
    "win L/R": "win rate playing on the left / on the right",
    "win S/R": "win rate in the games the policy started with the puck / the opponent did ('-': no such game)",
    "length": "mean steps per game",
}


def legend_lines() -> list[str]:
    """What each column of ``format_table`` means, one line per column."""
    width = max(len(name) for name in LEGEND)
    return ["columns:"] + [f"  {name:<{width}}  {meaning}" for name, meaning in LEGEND.items()]


def format_table(rows: list[EvalRow]) -> str:
    """A fixed-width table: one line per opponent, the score (wins + draws/2) / games and the rates
    with 95% intervals, then the win rates per side (L/R) and by first possession (S: the policy
    started with the puck, R: the opponent), and the legend of its columns. The opponent column is
    as wide as the longest label, so a checkpoint's path keeps every column aligned."""
    width = max([24] + [len(row.opponent) for row in rows])
    header = (f"{'opponent':<{width}} {'games':>6} {'score':>21} {'win':>22} {'draw':>22} {'loss':>22} {'win L/R':>13} "
              f"{'win S/R':>13} {'length':>7}")  # fmt: skip
    lines = [header, "-" * len(header)]
    for row in rows:
        low, high = row.total.score_interval(0.95)
        cells = [f"{row.total.score:.3f} [{low:.3f},{high:.3f}]"]
        for which in ("wins", "draws", "losses"):
            low, high = row.total.interval(which)
            cells.append(f"{row.total.rate(which):6.1%} [{low:5.1%},{high:6.1%}]")
        sides = f"{_win_rate(row.left)}/{_win_rate(row.right)}"
        possession = f"{_win_rate(row.starting)}/{_win_rate(row.receiving)}"
        lines.append(
            f"{row.opponent:<{width}} {row.total.games:>6} {cells[0]:>21} {cells[1]:>22} {cells[2]:>22} {cells[3]:>22} "
            f"{sides:>13} {possession:>13} {row.mean_length:7.1f}"
        )
    lines += legend_lines()
    for row in rows:
        if row.rounds is not None:
            rates = " / ".join(f"{row.rounds.rate(k):.1%}" for k in ("wins", "draws", "losses"))
            lines.append(f"{row.opponent}: rounds won / drawn / lost {rates} of {row.rounds.games}")
    if any(row.rounds is not None for row in rows):
        lines.append(
            "server format: games of 4 rounds, the puck's starting half alternating, sides kept, won by more "
            "round wins; a game's length counts all its rounds."
        )
    return "\n".join(lines)


def _win_rate(record: WDL) -> str:
    """The win rate as a percentage, or '-' for a split without games."""
    return f"{record.rate('wins'):5.1%}" if record.games else f"{'-':>5}"


def to_json(rows: list[EvalRow], **context) -> str:
    return json.dumps({**context, "results": [row.summary() for row in rows]}, indent=2)
