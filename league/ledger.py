"""The match ledger: append-only records, one file per writing process, merged by readers.

Every process that records anything (a learner, the manager, a cluster job) appends to its own
file ``LEAGUE/ledger/<writer>.jsonl``, so no two processes ever write one file and no lock is
needed (file locks are unreliable on the shared filesystems of clusters). A record is one line:
an 8-digit hex CRC-32 of the JSON text, a space, the JSON text, a newline. Each line goes out in
one ``write`` call on a file opened for appending, so a process killed at any moment leaves at
most its last line incomplete; readers skip a line without its newline (torn) or with a wrong
CRC (corrupted), and report it.

Records carry a ``type``:

- ``game``: one finished game (``id``, ``match``, ``a``, ``b``, ``a_side``, ``seed``,
  ``one_starting``, ``outcome`` from A's view, ``goals_a``, ``goals_b``, ``length``, ``mode``,
  ``kind`` (train, promotion, evaluation), ``writer``, ``time``);
- ``game`` of kind ``server``: a member's game on the course's competition server against an
  outside opponent (``rounds_won``, ``rounds_lost``, ``rounds_drawn``, ``disconnected``,
  ``server_game``); counted on its own, never rated with the league's games (the opponent and
  the server's other players are not in the league);
- ``snapshot``: a learner's frozen policy entered the league (member id, lineage);
- ``promotion``: the promotion gate's decision on a snapshot.

Game ids are deterministic (a match id plus the game's index; a learner's episode number), so a
process that restarts and plays a game again writes a record with the same id: readers keep the
first, and no game is ever counted twice. A server game is one record per member that played it
(two members of one league may meet on the server), so its identity is its id and its member.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from league.layout import ledger_dir
from plumbing.files import write_error

GAME_KINDS = ("train", "promotion", "evaluation", "server")
RATED_KINDS = ("promotion", "evaluation")  # games between frozen members; training games involve a moving learner


_TEXT, _NUMBER, _INTEGER = (str,), (int, float), (int,)
# What the readers use of each record type, and the types it must have.
REQUIRED_FIELDS: dict[str, dict[str, tuple]] = {
    "game": {"id": _TEXT, "match": _TEXT, "kind": _TEXT, "a": _TEXT, "b": _TEXT, "outcome": _INTEGER, "time": _NUMBER},
    "snapshot": {"member": _TEXT, "learner": _TEXT, "algorithm": _TEXT, "step": _INTEGER, "sha256": _TEXT,
                 "file": _TEXT, "config": (dict,)},
    "promotion": {"member": _TEXT, "learner": _TEXT, "promote": (bool,)},
}  # fmt: skip


# ---------------------------------------------------------------------------- the records, one builder each
def training_game_record(game_id: str, learner: str, episode, seed: int, step: int) -> dict:
    """A learner's training game (``episode``: the collector's ``GameRecord``) at training step ``step``."""
    record = {
        "type": "game",
        "id": game_id,
        "match": f"train:{learner}",
        "kind": "train",
        "a": learner,
        "b": episode.opponent,
        "a_side": episode.a_side,
        "seed": seed,
        "outcome": episode.outcome,
        "goals_a": int(episode.outcome == 1),
        "goals_b": int(episode.outcome == -1),
        "length": episode.length,
        "mode": episode.mode,
        "step": step,
    }
    if episode.replaced:  # the member it started against could not be restored after a restart
        record["replaced"] = episode.replaced
    return record


def match_game_record(match: str, kind: str, a: str, b: str, game) -> dict:
    """Game ``game.game`` of a match between frozen members (``game``: the match runner's ``GameRecord``)."""
    return {
        "type": "game",
        "id": f"{match}:{game.game}",
        "match": match,
        "kind": kind,
        "a": a,
        "b": b,
        "a_side": game.a_side,
        "seed": game.seed,
        "one_starting": game.one_starting,
        "outcome": game.outcome,
        "goals_a": int(game.outcome == 1),
        "goals_b": int(game.outcome == -1),
        "length": game.length,
        "mode": game.mode,
    }


def server_game_record(
    member: str,
    server_game: str,
    opponent: str | None,
    outcome: int,
    rounds_won: int,
    rounds_lost: int,
    rounds_drawn: int,
    disconnected: bool,
) -> dict:
    """A member's game on the competition server, from the member's view.

    Args:
        member: the member that played (a league member id, or the id chosen for an outside policy).
        server_game: the server's id of the game (its UUID as text).
        opponent: the opponent's name as the server gives it; None: the server did not say.
        outcome: +1 won, 0 drawn, -1 lost by round wins; 0 for a disconnected game, where the
            server records no winner and rates nobody.
        rounds_won, rounds_lost, rounds_drawn: rounds ended by the member's goal, the opponent's,
            and by the step cap (so far, for a disconnected game).
        disconnected: the game ended early because a player left (either one).
    """
    return {
        "type": "game",
        "id": f"server:{server_game}",
        "match": f"server:{member}",
        "kind": "server",
        "a": member,
        "b": opponent or "unknown",
        "outcome": int(outcome),
        "rounds_won": int(rounds_won),
        "rounds_lost": int(rounds_lost),
        "rounds_drawn": int(rounds_drawn),
        "disconnected": bool(disconnected),
        "server_game": server_game,
    }


def snapshot_record(member: str, learner: str, checkpoint, file: str, step: int | None = None,
                    origin: str | None = None) -> dict:  # fmt: skip
    """A learner's frozen policy entering the league (``checkpoint``: its loaded ``Checkpoint``).

    ``step`` is the learner's step (the checkpoint's own by default); ``origin`` "start" marks the
    model a learner started from (``checkpoint_step`` then keeps the step it was trained to)."""
    record = {
        "type": "snapshot",
        "member": member,
        "learner": learner,
        "algorithm": checkpoint.algorithm,
        "step": checkpoint.step if step is None else step,
        "parent": checkpoint.parent,
        "sha256": checkpoint.sha256,
        "file": file,
        "config": checkpoint.config,
    }
    if origin is not None:
        record.update(origin=origin, checkpoint_step=checkpoint.step)
    return record


def promotion_record(member: str, learner: str, decision, anchor_scores: dict, gate: list[str],
                     incumbent=None) -> dict:  # fmt: skip
    """The promotion gate's decision on a candidate (``decision``: ``league.promotion.Decision``;
    ``incumbent``: the ``league.promotion.Incumbent`` it was compared with, if any)."""
    record = {
        "type": "promotion",
        "member": member,
        "learner": learner,
        "promote": decision.promote,
        "score": decision.score,
        "lower": decision.lower,
        "games": decision.games,
        "reasons": decision.reasons,
        "anchors": anchor_scores,
        "gate": gate,
    }
    if incumbent is not None:
        record.update(incumbent=incumbent.member, head_to_head=incumbent.head_to_head.score)
    return record


def external_record(member: str, name: str, player, fixed_rating: float | None = None) -> dict:
    """An external policy entering the league (``player``: its ``agents.external.ExternalPolicy``):
    a snapshot of no learner whose file is the player's spec and whose hash covers its files;
    with ``fixed_rating``, its TrueSkill mu is pinned there like an anchor's."""
    record = {
        "type": "snapshot",
        "member": member,
        "learner": name,
        "algorithm": "external",
        "step": 0,
        "parent": None,
        "sha256": player.sha256,
        "file": player.name,
        "config": {"files": list(player.files)},
        "origin": "external",
    }
    if fixed_rating is not None:
        record["fixed_rating"] = float(fixed_rating)
    return record


def ungated_promotion_record(member: str, learner: str, reason: str = "the learner's starting model") -> dict:
    """A member promoted without a gate: a learner's starting model (where its line begins) or an
    external policy."""
    return {
        "type": "promotion",
        "member": member,
        "learner": learner,
        "promote": True,
        "score": None,
        "lower": None,
        "games": 0,
        "reasons": [reason],
        "anchors": {},
        "gate": [],
    }


def record_problem(record: dict) -> str | None:
    """What makes a record unusable (a missing or mistyped field, an unknown value), or None.

    Types other than these three are ignored by readers, so records of later versions pass."""
    record_type = record.get("type")
    fields = REQUIRED_FIELDS.get(record_type)
    if fields is None:
        return None if isinstance(record_type, str) else f"record without a type ({sorted(record)[:6]})"
    for name, types in fields.items():
        value = record.get(name)
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            return f"{record_type} record lacks a valid {name!r} (got {value!r})"
    if record_type == "game" and (record["kind"] not in GAME_KINDS or record["outcome"] not in (-1, 0, 1)):
        return f"game record {record['id']!r} has kind {record['kind']!r} and outcome {record['outcome']!r}"
    return None


def encode(record: dict) -> bytes:
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x} {text}\n".encode()


def decode(line: bytes) -> dict | None:
    """The record of one complete line, or None when its checksum or JSON is wrong."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    text = line[9:].rstrip(b"\n")
    try:
        if int(line[:8], 16) != zlib.crc32(text):
            return None
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def new_writer_id(role: str) -> str:
    """A name no other process will use: role, host, pid and a random part."""
    host = socket.gethostname().split(".")[0] or "host"
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{role}-{host}")
    return f"{safe}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class LedgerWriter:
    """Appends records to this process's own ledger file.

    Args:
        league_dir: the league directory.
        role: what the process is (a learner's name, "manager", ...); part of the file name.
        fsync_every: seconds between fsyncs (each record reaches the OS at once, so a killed
            process loses nothing; fsync guards against a machine crash).
    """

    def __init__(self, league_dir: str | os.PathLike, role: str, fsync_every: float = 5.0):
        self.writer = new_writer_id(role)
        directory = ledger_dir(league_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{self.writer}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self.fsync_every = fsync_every
        self._synced = time.monotonic()
        self.written = 0

    def append(self, record: dict) -> dict:
        """Write one record (``writer`` and ``time`` are added); returns it as written."""
        if "type" not in record:
            raise ValueError(f"a ledger record needs a 'type', got {sorted(record)}")
        record = {**record, "writer": self.writer, "time": record.get("time", time.time())}
        line = encode(record)
        try:
            written = os.write(self._fd, line)
        except OSError as error:
            raise write_error(self.path, error, len(line)) from None
        if written != len(line):  # a short write (disk full): the line is torn; readers will skip it
            raise write_error(self.path, OSError(errno.ENOSPC, "short write"), len(line) - written)
        self.written += 1
        if time.monotonic() - self._synced > self.fsync_every:
            self.sync()
        return record

    def sync(self) -> None:
        os.fsync(self._fd)
        self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class LedgerView:
    """Everything read from a league's ledger so far (see ``LedgerReader``).

    Attributes:
        games: game records, first occurrence of each id, in order of reading.
        snapshots: member id -> snapshot record.
        promotions: member id -> promotion decision record (the first decision counts).
        skipped: descriptions of torn or corrupted lines that were ignored.
        duplicates: how many game records repeated an id already read.
        by_match: match id -> its game records.
    """

    games: list[dict] = field(default_factory=list)
    snapshots: dict[str, dict] = field(default_factory=dict)
    promotions: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    duplicates: int = 0
    by_match: dict[str, list[dict]] = field(default_factory=dict)

    def fixed_ratings(self) -> dict[str, float]:
        """Members whose TrueSkill mu is pinned by their snapshot record (externals with a fixed rating)."""
        return {m: float(r["fixed_rating"]) for m, r in self.snapshots.items() if r.get("fixed_rating") is not None}

    def rated_games(self) -> list[dict]:
        """Games between frozen members, in a canonical order (time, then id) that does not
        depend on which file was read first, so ratings rebuild identically."""
        rated = [g for g in self.games if g["kind"] in RATED_KINDS]
        return sorted(rated, key=lambda g: (g["time"], g["id"]))


class LedgerReader:
    """Incrementally merges every process's ledger file of a league.

    ``refresh()`` reads only what was appended since the last call (per-file offsets), so a
    long-running league pays for new records only. A line without its newline is left for a
    later refresh (it may still be being written); once its writer has moved on (a later line
    exists) or ``final=True``, a bad line is reported in ``view.skipped`` and ignored.
    """

    def __init__(self, league_dir: str | os.PathLike):
        self.directory = ledger_dir(league_dir)
        self.view = LedgerView()
        self._offsets: dict[Path, int] = {}
        self._ids: set[str] = set()

    def refresh(self, final: bool = False) -> LedgerView:
        if not self.directory.is_dir():
            return self.view
        for path in sorted(self.directory.glob("*.jsonl")):
            self._read(path, final)
        return self.view

    def _read(self, path: Path, final: bool) -> None:
        offset = self._offsets.get(path, 0)
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read()
        if not data:
            return
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the data ended with a newline, else an unfinished line
        position = offset
        for line in lines:
            position += len(line) + 1
            record = decode(line + b"\n")
            if record is None:
                self.view.skipped.append(f"{path.name} at byte {position - len(line) - 1}: corrupted line ignored")
                continue
            self._add(record, f"{path.name} at byte {position - len(line) - 1}")
        if tail and final:
            self.view.skipped.append(f"{path.name} at byte {position}: torn last record ignored")
            position += len(tail)
        self._offsets[path] = position

    def _add(self, record: dict, where: str) -> None:
        problem = record_problem(record)
        if problem is not None:
            self.view.skipped.append(f"{where}: {problem}; record ignored")
            return
        record_type = record["type"]
        if record_type == "game":
            key = record["id"] if record["kind"] != "server" else f"{record['id']}@{record['a']}"
            if key in self._ids:
                self.view.duplicates += 1
                return
            self._ids.add(key)
            self.view.games.append(record)
            self.view.by_match.setdefault(record["match"], []).append(record)
        elif record_type == "snapshot":
            self.view.snapshots.setdefault(record["member"], record)
        elif record_type == "promotion":
            self.view.promotions.setdefault(record["member"], record)

    def has(self, game_id: str) -> bool:
        """Whether a game with this id has been read."""
        return game_id in self._ids


def read_ledger(league_dir: str | os.PathLike) -> LedgerView:
    """Read a whole ledger at once (torn last records are reported and ignored)."""
    return LedgerReader(league_dir).refresh(final=True)
