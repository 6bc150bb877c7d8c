"""The league's members: permanent anchors and immutable, content-addressed snapshots.

A snapshot is a policy checkpoint (``agents.checkpoint`` format) copied into
``LEAGUE/members/<learner>-<step>-<sha8>.pt``, where sha8 starts the sha256 of its weights; its
lineage (learner, algorithm, step, parent, config, full hash) is a ``snapshot`` record in the
ledger. Files are never rewritten. Before a snapshot is loaded its file is checked against the
ledger's hash: a missing or altered file is reported and the member is excluded, never loaded.
Any algorithm's snapshot can face any other's: all are rebuilt from their stored config.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agents.checkpoint import CheckpointError, load_checkpoint
from agents.registry import canonical_name, frozen_policy, load_external_opponent, make_policy
from league.layout import member_file, members_dir
from league.ledger import snapshot_record
from plumbing.files import atomic_write


class MemberError(ValueError):
    """A member that cannot be played: unknown, missing, or its file does not match its hash."""


def member_id(learner: str, step: int, sha256: str) -> str:
    return f"{learner}-{step}-{sha256[:8]}"


def external_member_id(name: str, sha256: str) -> str:
    return f"{name}-{sha256[:8]}"


def is_external(record: dict) -> bool:
    """Whether a ledger snapshot record is an external policy's (``league.ledger.external_record``)."""
    return record.get("origin") == "external"


class Pool:
    """Anchors plus the snapshots known from the ledger; loads members as policies on demand.

    Args:
        league_dir: the league directory.
        anchors: scripted names of the anchors (weak, strong, ...).
        device: where snapshot policies run.
        seed: seeds the anchors' generators.
    """

    def __init__(self, league_dir: str | os.PathLike, anchors, device: str = "auto", seed: int = 0):
        self.league_dir = Path(league_dir)
        self.directory = members_dir(self.league_dir)
        self.anchors = [canonical_name(a) for a in anchors]
        self.device, self.seed = device, seed
        self.snapshots: dict[str, dict] = {}
        self._checked: dict[str, tuple[tuple, str | None]] = {}
        self._policies: dict[str, object] = {}

    def update(self, snapshots: dict[str, dict]) -> None:
        """Learn about snapshots recorded in the ledger (``LedgerView.snapshots``)."""
        self.snapshots = snapshots

    def add_snapshot(self, policy_path: str | os.PathLike, learner: str, step: int | None = None,
                     origin: str | None = None) -> dict:  # fmt: skip
        """Copy a learner's policy checkpoint into the pool; returns its ``snapshot`` record (to append
        to the ledger). Adding the same weights twice gives the same member and file. ``step`` and
        ``origin`` as in ``league.ledger.snapshot_record`` (a learner's starting model: 0, "start")."""
        checkpoint = load_checkpoint(policy_path)
        digest = checkpoint.sha256
        member = member_id(learner, checkpoint.step if step is None else step, digest)
        target = self.directory / f"{member}.pt"
        if not target.exists():
            with open(policy_path, "rb") as source:
                atomic_write(target, lambda file: shutil.copyfileobj(source, file))
        return snapshot_record(member, learner, checkpoint, member_file(member), step=step, origin=origin)

    def problem(self, member: str) -> str | None:
        """Why a member cannot be played, or None. Snapshot files are verified against the
        ledger's hash (once per file version: size and modification time)."""
        if member in self.anchors:
            return None
        record = self.snapshots.get(member)
        if record is None:
            return f"{member} is not a member of this league"
        if is_external(record):
            return self._external_problem(member, record)
        path = self.league_dir / record["file"]
        try:
            stat = path.stat()
        except FileNotFoundError:
            return f"{member}: file {path} is missing"
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._checked.get(member)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            checkpoint = load_checkpoint(path)
            problem = None
            if checkpoint.sha256 != record["sha256"]:
                problem = f"{member}: {path} holds other weights than the ledger recorded (hash mismatch)"
        except CheckpointError as error:
            problem = f"{member}: {error}"
        self._checked[member] = (key, problem)
        if problem is not None:
            self._policies.pop(member, None)
        return problem

    def _external_problem(self, member: str, record: dict) -> str | None:
        """An external policy is loaded once per process and checked against the ledger's hash."""
        cached = self._checked.get(member)
        if cached is not None:
            return cached[1]
        try:
            player = load_external_opponent(record["file"], self.device)
            problem = None
            if player.sha256 != record["sha256"]:
                problem = (f"{member}: the files of {record['file']} changed since the ledger recorded them "
                           "(hash mismatch); add it again under another name to play the new version")  # fmt: skip
        except (ValueError, OSError) as error:
            problem = f"{member}: {error}"
        self._checked[member] = ((), problem)
        return problem

    def playable(self, members) -> tuple[list[str], list[str]]:
        """Split members into (playable, problems found in the others)."""
        ok, problems = [], []
        for member in members:
            problem = self.problem(member)
            if problem is None:
                ok.append(member)
            else:
                problems.append(problem)
        return ok, problems

    def policy(self, member: str):
        """The member as a ready policy (cached); raises MemberError if it cannot be played."""
        problem = self.problem(member)
        if problem is not None:
            raise MemberError(problem)
        if member not in self._policies:
            if member in self.anchors:
                self._policies[member] = make_policy(member, seed=self.seed + self.anchors.index(member))
            else:
                self._policies[member] = self._load(member)
        return self._policies[member]

    def _load(self, member: str):
        """A snapshot as a frozen policy, from the very bytes whose hash was checked against the
        ledger (a file swapped since the last check is refused, whatever its size and time)."""
        if is_external(self.snapshots[member]):
            try:
                player = load_external_opponent(self.snapshots[member]["file"], self.device)
            except (ValueError, OSError) as error:
                raise MemberError(f"{member}: {error}") from None
            if player.sha256 != self.snapshots[member]["sha256"]:
                raise MemberError(f"{member}: the files of {player.name} changed since the ledger recorded them")
            return player
        path = self.league_dir / self.snapshots[member]["file"]
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as error:
            raise MemberError(f"{member}: {error}") from None
        if checkpoint.sha256 != self.snapshots[member]["sha256"]:
            self._checked.pop(member, None)
            raise MemberError(f"{member}: {path} holds other weights than the ledger recorded (hash mismatch)")
        return frozen_policy(checkpoint, self.device, where=str(path), label=member)

    def match_policy(self, member: str):
        """What ``play_games`` should get for a member: a scripted name (seeded by the match) or a
        freshly loaded frozen policy (not the cached one a training collector may be using, so
        policies with per-game memory never share it between two sets of games)."""
        problem = self.problem(member)
        if problem is not None:
            raise MemberError(problem)
        if member in self.anchors:
            return member
        return self._load(member)
