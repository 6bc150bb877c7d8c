"""A league survives what breaks it in practice: a member file lost, a malformed ledger record, a
failing report, lost training checkpoints, and a SIGKILL at any moment of a round, after which
the restarted learner writes the same ledger as a learner that was never killed."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from tiny_league import league_command, tiny_league_toml

from league.config import open_league
from league.ledger import LedgerWriter, read_ledger
from league.standings import compute_standings
from league.worker import LearnerWorker

ROOT = Path(__file__).resolve().parents[1]
STEPS = 2400  # four rounds of 600 steps, of shooting drills (short games, so that rounds end many)
TOML = (
    tiny_league_toml("a")
    .replace("round_steps = 300", "round_steps = 600")
    .replace("seed = 0\n", f"seed = 0\nsteps = {STEPS}\n")
    .replace("log_every = 100", 'log_every = 100, mode = "train_shooting"')
)


def _run_learner(league_dir: Path, toml: str = TOML) -> list[str]:
    """Run learner 'a' in this process until its steps are done; returns its log lines."""
    config_file = league_dir.parent / f"{league_dir.name}.toml"
    config_file.write_text(toml)
    config = open_league(league_dir, config_file, create=True)
    lines: list[str] = []
    threads = torch.get_num_threads()
    try:
        summary = LearnerWorker(league_dir, config, "a", log=lines.append).run()
    finally:
        torch.set_num_threads(threads)
    assert summary["status"] == "finished its steps", lines
    return lines


def _record(view) -> dict:
    """What must not differ between two ledgers of the same league (not when or by whom)."""
    games = {g["id"]: (g["kind"], g["a"], g["b"], g["outcome"], g.get("a_side"), g.get("length")) for g in view.games}
    snapshots = sorted(view.snapshots)
    promotions = {member: (r["promote"], r.get("score")) for member, r in view.promotions.items()}
    return {"games": games, "snapshots": snapshots, "promotions": promotions}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A tiny league whose only learner finished its three rounds, never interrupted."""
    league_dir = tmp_path_factory.mktemp("straight") / "league"
    _run_learner(league_dir)
    return league_dir


def _copy(league: Path, tmp_path: Path) -> Path:
    target = tmp_path / "league"
    shutil.copytree(league, target, ignore=shutil.ignore_patterns("owner.json"))
    return target


def test_a_sigkill_anywhere_in_a_round_then_a_restart_writes_the_never_killed_ledger(finished, tmp_path):
    league_dir = tmp_path / "league"
    (tmp_path / "league.toml").write_text(TOML)
    command = league_command(league_dir, "--config", tmp_path / "league.toml", "--learner", "a", "--minutes", "0")
    straight = read_ledger(finished)
    expected = _record(straight)
    # A kill while a round after the first trains: its restart replays games from the checkpoint
    # that ended the round before (promotion and evaluation matches are replayed by their ids).
    training = [g for g in straight.games if g["kind"] == "train"]
    first_round = sum(g["step"] <= 600 for g in training)
    kill_at = random.Random(os.environ.get("PYTEST_SEED", "kill")).randrange(first_round + 2, len(training) - 2)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and process.poll() is None:
            view = read_ledger(league_dir) if (league_dir / "ledger").is_dir() else None
            if view is not None and sum(g["kind"] == "train" for g in view.games) >= kill_at:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the learner finished before it could be killed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    _run_learner(league_dir)
    view = read_ledger(league_dir)
    assert all("torn" in problem for problem in view.skipped)
    assert _record(view) == expected, f"killed after {kill_at} games"


def test_a_missing_member_a_malformed_record_and_a_failing_report_do_not_stop_the_league(finished, tmp_path):
    league_dir = _copy(finished, tmp_path)
    members = sorted((league_dir / "members").glob("*.pt"))
    assert members
    for path in members:  # every snapshot's file is gone, those in the learner's saved mix too
        path.unlink()
    with LedgerWriter(league_dir, role="vandal") as writer:
        writer.append({"type": "game"})  # a valid checksum, but no fields
    (league_dir / "ratings.png").unlink(missing_ok=True)
    (league_dir / "ratings.png").mkdir()  # the report cannot write its picture
    more = TOML.replace(f"steps = {STEPS}", f"steps = {STEPS + 600}")
    (tmp_path / "more.toml").write_text(more)
    result = subprocess.run(league_command(league_dir, "--config", tmp_path / "more.toml", "--minutes", "0"),
                            cwd=ROOT, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "excluded" in result.stdout and members[0].stem in result.stdout
    assert "report failed" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert "ledger: vandal" in result.stdout and "game record lacks a valid 'id'" in result.stdout
    view = read_ledger(league_dir)
    assert any("game record lacks a valid 'id'" in problem for problem in view.skipped)
    assert max(g.get("step", 0) for g in view.games if g["kind"] == "train") > STEPS
    assert len({g["id"] for g in view.games}) == len(view.games)


def test_lost_training_checkpoints_resume_from_the_one_before_or_start_a_new_run(finished, tmp_path):
    league_dir = _copy(finished, tmp_path)
    checkpoints = league_dir / "learners" / "a" / "checkpoints"
    more = TOML.replace(f"steps = {STEPS}", f"steps = {STEPS + 600}")
    (checkpoints / "training.pt").unlink()
    lines = _run_learner(league_dir, more)
    assert any(f"resuming from {checkpoints / 'training.prev.pt'}" in line for line in lines)
    before = read_ledger(league_dir)
    for path in checkpoints.iterdir():
        path.unlink()
    lines = _run_learner(league_dir, more)
    assert any("starting over from step 0 as run 1" in line for line in lines)
    view = read_ledger(league_dir)
    fresh = [g for g in view.games if g["id"].startswith("train:a.1:")]
    assert fresh and view.duplicates == before.duplicates  # the new run's games are new games
    assert len(view.games) == len(before.games) + len([g for g in view.games if g not in before.games])


def _mount_tmpfs(directory: Path, kilobytes: int, remount: bool = False) -> str | None:
    """Mount (or resize) a tmpfs of this size at ``directory``; the reason where that cannot be done here."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "a small disk needs root and mount"
    options = f"size={kilobytes}k" + (",remount" if remount else "")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], capture_output=True)
    return None if result.returncode == 0 else f"mount failed: {result.stderr.decode().strip()}"


def test_a_full_disk_stops_the_league_in_one_line_and_a_rerun_loses_nothing(finished, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    used = sum(path.stat().st_size for path in finished.rglob("*") if path.is_file()) // 1024
    problem = _mount_tmpfs(disk, used + 200)  # room for a little more than the league holds
    if problem is not None:
        pytest.skip(problem)
    try:
        league_dir = disk / "league"
        shutil.copytree(finished, league_dir, ignore=shutil.ignore_patterns("owner.json"))
        before = read_ledger(league_dir)
        more = TOML.replace(f"steps = {STEPS}", f"steps = {STEPS + 1200}")
        (tmp_path / "more.toml").write_text(more)
        command = league_command(league_dir, "--config", tmp_path / "more.toml", "--minutes", "0")
        full = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert full.returncode != 0 and "Traceback" not in full.stdout + full.stderr
        last = full.stdout.strip().splitlines()[-1]
        assert last.startswith("learner a failed (exit code 2): error: cannot write ") and "the disk is full" in last
        assert _mount_tmpfs(disk, used * 4 + 4096, remount=True) is None
        rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        after = read_ledger(league_dir)
        assert all("torn" in problem for problem in after.skipped)
        kept = {g["id"]: g for g in after.games}
        assert all(kept[g["id"]] == g for g in before.games)  # nothing recorded before is lost or changed
        assert max(g.get("step", 0) for g in after.games if g["kind"] == "train") > STEPS + 600
        ratings = [compute_standings(league_dir, ["weak", "strong"]).table.ratings for _ in range(2)]
        assert ratings[0] == ratings[1]  # rebuilt from the ledger, identically
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def _workers_of(league_dir: Path) -> list[int]:
    """Pids of live learner processes of this league (read from /proc: Linux, as on clusters)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"league.worker" in command and str(league_dir).encode() in command:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the learner processes in /proc (Linux)")
def test_sigterm_to_a_background_league_stops_its_learners_after_they_save(tmp_path):
    """A league started in the background ignores SIGINT (as a shell's `cmd &` does) and is stopped
    with kill: the manager passes SIGTERM on, so no learner is left running and each saves first."""
    league_dir = tmp_path / "league"
    (tmp_path / "league.toml").write_text(TOML)
    command = league_command(league_dir, "--config", tmp_path / "league.toml", "--minutes", "0")
    log = tmp_path / "league.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    try:
        deadline = time.time() + 180
        while time.time() < deadline and process.poll() is None and not list(league_dir.glob("members/a-*.pt")):
            time.sleep(0.1)  # the learner is in its loop once its first snapshot is out
        assert process.poll() is None, log.read_text()
        process.send_signal(signal.SIGINT)  # ignored, as in the background
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert code == 128 + signal.SIGTERM, text
    assert _workers_of(league_dir) == [], text
    assert "[a] stopped by SIGTERM" in text, text
    assert (league_dir / "learners" / "a" / "checkpoints" / "training.pt").is_file()
