"""The cluster runner: the generated sbatch scripts, and an end-to-end league on a real SLURM.

The end-to-end test needs a running SLURM (``sudo tools/slurm_local.sh up`` starts a one-node
cluster on localhost; CI does this) and is skipped with the reason otherwise. It submits a tiny
league of two learners and the reporter, lets them play, makes one learner's job requeue itself
through the time-limit signal and requeues the other from outside, and checks that both resume
from their checkpoints, the pool grows, and the ledger and ratings stay consistent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_league import tiny_league_toml

from league.ledger import read_ledger
from league.standings import compute_standings

ROOT = Path(__file__).resolve().parents[1]


def _league(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "league.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_league_toml("a", "b", report_every=3))
    return path


def test_submit_dry_run_writes_readable_scripts(tmp_path):
    league = tmp_path / "league"
    result = _league("submit", "--league-dir", str(league), "--config", str(_config(tmp_path)), "--dry-run",
                     "--partition", "gpu", "--gpus-per-job", "1", "--cpus-per-job", "4", "--time", "2-00:00:00",
                     "--account", "rl-course", "--qos", "long", "--sbatch=--constraint=a100",
                     "--setup", "source ~/venv/bin/activate")  # fmt: skip
    assert result.returncode == 0, result.stderr
    scripts = sorted(p.name for p in (league / "cluster").glob("*.sbatch"))
    assert scripts == ["a.sbatch", "b.sbatch", "reporter.sbatch"]
    text = (league / "cluster" / "a.sbatch").read_text()
    for line in ("#SBATCH --job-name=league-league-a", "#SBATCH --partition=gpu", "#SBATCH --gpus=1",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --time=2-00:00:00", "#SBATCH --account=rl-course",
                 "#SBATCH --qos=long", "#SBATCH --constraint=a100", "#SBATCH --signal=B:USR1@300",
                 "#SBATCH --requeue", "source ~/venv/bin/activate"):  # fmt: skip
        assert line in text.splitlines(), line
    assert "--learner a --minutes 0 --slurm" in text and text.splitlines()[-1].startswith("exec ")
    reporter = (league / "cluster" / "reporter.sbatch").read_text()
    assert " report --league-dir " in reporter and "--gpus" not in reporter
    assert "dry run: 3 scripts written" in result.stdout
    bad = _league("submit", "--league-dir", str(league), "--cpus-per-job", "0", "--dry-run")
    assert bad.returncode == 2 and "cpus_per_job" in bad.stderr


def _slurm_problem() -> str | None:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "no SLURM client on this machine (sudo tools/slurm_local.sh up starts a one-node cluster)"
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    if state.returncode != 0 or not any(s in state.stdout for s in ("idle", "mixed", "allocated")):
        return f"SLURM is not usable here ({(state.stderr or state.stdout).strip() or 'no usable node'})"
    return None


def _wait(condition, seconds: float, what: str):
    end = time.time() + seconds
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")


def _jobs(league: Path) -> dict[str, tuple[str, str]]:
    """learner or reporter -> (job id, state) from squeue."""
    out = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T"], capture_output=True, text=True).stdout
    prefix = f"league-{league.name}-"
    return {name[len(prefix):]: (job, state) for job, name, state in
            (line.split("|") for line in out.splitlines()) if name.startswith(prefix)}  # fmt: skip


def _decided(league: Path, learner: str) -> int:
    return sum(1 for d in read_ledger(league).promotions.values() if d["learner"] == learner)


@pytest.mark.skipif(_slurm_problem() is not None, reason=str(_slurm_problem()))
def test_league_on_a_real_slurm_survives_requeues(tmp_path):
    league = tmp_path / f"slurm{os.getpid()}"
    result = _league("submit", "--league-dir", str(league), "--config", str(_config(tmp_path)), "--cpus-per-job", "1",
                     "--time", "00:30:00")  # fmt: skip
    assert result.returncode == 0, result.stderr
    try:
        jobs = _wait(lambda: (j := _jobs(league)) and all(j.get(n, ("", ""))[1] == "RUNNING" for n in "ab") and j,
                     120, "both learner jobs to run")  # fmt: skip
        _wait(lambda: _decided(league, "a") >= 1 and _decided(league, "b") >= 1, 120, "a first promotion decision each")
        before = {name: _decided(league, name) for name in "ab"}
        # a: the warning SLURM sends before the time limit; b: requeued from outside
        subprocess.run(["scancel", "--signal=USR1", "--batch", jobs["a"][0]], check=True)
        subprocess.run(["scontrol", "requeue", jobs["b"][0]], check=True)
        for name in "ab":  # requeued jobs wait for a begin time; let them start now
            _wait(lambda n=name: _jobs(league).get(n, ("", ""))[1] == "PENDING", 60, f"{name} to be requeued")
            subprocess.run(["scontrol", "update", f"JobId={jobs[name][0]}", "StartTime=now"], check=False)
        logs = league / "cluster" / "logs"
        for name in "ab":
            _wait(
                lambda n=name: "(restart 1)" in (logs / f"{n}-{jobs[n][0]}.out").read_text(), 120, f"{name} to restart"
            )
        _wait(lambda: all(_decided(league, n) > before[n] + 1 for n in "ab"), 120, "new rounds after the restarts")
        assert "job requeued, it will resume" in (logs / f"a-{jobs['a'][0]}.out").read_text()
        status = _league("status", "--league-dir", str(league))
        assert status.returncode == 0 and "RUNNING" in status.stdout and "running: host" in status.stdout
    finally:
        subprocess.run(["scancel", *[job for job, _ in _jobs(league).values()]], check=False)
        _wait(lambda: not _jobs(league), 60, "the jobs to end")

    view = read_ledger(league)
    assert all("torn" in problem for problem in view.skipped)
    for name in "ab":
        episodes = sorted(int(g["id"].rsplit(":", 1)[1]) for g in view.games if g["kind"] == "train" and g["a"] == name)
        assert episodes == list(range(1, len(episodes) + 1))  # nothing lost, nothing counted twice
    for member, decision in view.promotions.items():
        played = [g for opponent in decision["gate"] for g in view.by_match.get(f"promotion:{member}:{opponent}", [])]
        assert len(played) == decision["games"]
    assert sum(d["promote"] for d in view.promotions.values()) > 2  # the pool grew
    first, second = compute_standings(league, ["weak", "strong"]), compute_standings(league, ["weak", "strong"])
    assert first.table.ratings == second.table.ratings
    assert not (league / "learners" / "a" / "owner.json").exists()  # leases released at the end
