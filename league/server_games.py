"""A member's games on the course's competition server, appended to its league's ledger.

The server's games are a league member's results against outside opponents, so they sit in the
league's ledger as ``game`` records of kind ``server`` (``league.ledger.server_game_record``),
counted on their own and never rated with the league's games. A policy that is a member of the
league (its weights' or files' sha256 matches a snapshot record, or it is one of the anchors)
records under its member id; any other policy under an id chosen for it by the caller.
"""

from __future__ import annotations

import os
from pathlib import Path

from agents.registry import canonical_name
from league.config import open_league
from league.ledger import LedgerWriter, read_ledger, server_game_record


def league_member(league_dir: str | os.PathLike, sha256: str | None = None, scripted: str | None = None) -> str | None:
    """The member id of a policy in this league, or None when it is not a member.

    Args:
        league_dir: an existing league directory.
        sha256: the checkpoint's weights sha256, or an external policy's files' sha256.
        scripted: a scripted player's name (a member when it is one of the league's anchors).

    Raises:
        FileNotFoundError: when ``league_dir`` holds no league.
    """
    config = open_league(league_dir)
    if scripted is not None:
        name = canonical_name(scripted)
        return name if name in {canonical_name(a) for a in config.league.anchors} else None
    if sha256 is None:
        return None
    matches = [member for member, record in read_ledger(league_dir).snapshots.items() if record["sha256"] == sha256]
    return matches[0] if matches else None


class ServerGameLog:
    """Appends a member's server games to the ledger, one record per game, from its own file.

    Args:
        league_dir: the league directory.
        member: the member id the games are recorded under.
    """

    def __init__(self, league_dir: str | os.PathLike, member: str):
        self.league_dir, self.member = Path(league_dir), member
        self.writer = LedgerWriter(league_dir, role=f"server-{member}")

    def record(self, result) -> dict:
        """Append one game (``result``: ``arena.comprl.game.GameResult``); returns the record written."""
        record = server_game_record(
            self.member,
            server_game=result.game_id,
            opponent=result.opponent,
            outcome=result.outcome,
            rounds_won=result.rounds_won,
            rounds_lost=result.rounds_lost,
            rounds_drawn=result.rounds_drawn,
            disconnected=result.disconnected,
        )
        written = self.writer.append(record)
        self.writer.sync()  # a server game cannot be played again: make it durable now
        return written

    def close(self) -> None:
        self.writer.close()
