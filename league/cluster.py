"""Run a league on a SLURM cluster: one batch job per learner plus one reporter job.

SLURM does the scheduling; the shared filesystem carries the league directory; the league's own
files (pool, ledger, learner leases) are the only coordination. ``write_scripts`` renders one
readable sbatch script per learner, each running the same code as a learner process on one
machine (``scripts/league.py --learner NAME``), and one for the reporter that keeps the ratings
and the leaderboard fresh. The scripts ask SLURM for a warning signal before the time limit
(``--signal=B:USR1@SECONDS``): the learner then saves its training checkpoint and requeues its
own job, which resumes from that checkpoint. ``submit`` hands the scripts to ``sbatch``;
``job_table`` reads ``squeue``/``sacct`` for ``scripts/league.py status``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from league.config import LeagueConfig
from league.layout import cluster_dir
from plumbing.files import atomic_write

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ClusterOptions:
    """What the sbatch scripts ask SLURM for (every option maps to one #SBATCH line)."""

    partition: str | None = None
    time: str = "7-00:00:00"  # a week, the usual limit of long partitions
    gpus_per_job: int = 0
    cpus_per_job: int = 2
    mem: str | None = None  # e.g. "16G"
    account: str | None = None
    qos: str | None = None
    signal_seconds: int = 300  # warning before the time limit: save and requeue
    extra_sbatch: tuple[str, ...] = ()  # more "#SBATCH ..." arguments, e.g. "--constraint=a100"
    setup: str = ""  # a shell line run first, e.g. "source ~/venvs/hockey/bin/activate"
    python: str = field(default_factory=lambda: sys.executable)
    reporter: bool = True  # also a job that keeps ratings and the leaderboard fresh
    reporter_cpus: int = 1

    def __post_init__(self):
        if self.gpus_per_job < 0 or self.cpus_per_job < 1 or self.reporter_cpus < 1:
            raise ValueError("gpus_per_job must be >= 0, cpus_per_job and reporter_cpus >= 1")
        if self.signal_seconds < 10:
            raise ValueError(f"signal_seconds must leave time to save (>= 10 s), got {self.signal_seconds}")


def job_name(league_dir: Path, role: str) -> str:
    """``league-<dir name>-<role>``: how the league's jobs are found in squeue and sacct."""
    return f"league-{league_dir.resolve().name}-{role}"


def _script(league_dir: Path, role: str, command: list[str], options: ClusterOptions, cpus: int, gpus: int) -> str:
    league_dir = league_dir.resolve()
    logs = cluster_dir(league_dir) / "logs"
    lines = [
        "#!/bin/bash",
        f"# {role} of the league in {league_dir}, written by scripts/league.py submit.",
        "# Resubmitting this script (or SLURM requeueing it) resumes from the last checkpoint.",
        f"#SBATCH --job-name={job_name(league_dir, role)}",
        f"#SBATCH --output={logs}/{role}-%j.out",
        "#SBATCH --open-mode=append",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={cpus}",
        f"#SBATCH --time={options.time}",
        # B: the signal goes to the batch shell, which exec'd python: the learner itself gets it
        f"#SBATCH --signal=B:USR1@{options.signal_seconds}",
        "#SBATCH --requeue",
    ]
    if gpus:
        lines.append(f"#SBATCH --gpus={gpus}")
    for name, value in (("partition", options.partition), ("account", options.account), ("qos", options.qos),
                        ("mem", options.mem)):  # fmt: skip
        if value:
            lines.append(f"#SBATCH --{name}={value}")
    lines += [f"#SBATCH {extra}" for extra in options.extra_sbatch]
    lines += ["", "set -euo pipefail", f"cd {shlex.quote(str(PROJECT_ROOT))}"]
    if options.setup:
        lines.append(options.setup)
    lines += [
        f"export OMP_NUM_THREADS={cpus}",
        'echo "job ${SLURM_JOB_ID} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date)"',
        "exec " + " ".join(shlex.quote(part) for part in command),
        "",
    ]
    return "\n".join(lines)


def write_scripts(league_dir: str | Path, config: LeagueConfig, options: ClusterOptions) -> list[Path]:
    """Write ``cluster/<learner>.sbatch`` for every learner (and ``cluster/reporter.sbatch``)."""
    league_dir = Path(league_dir).resolve()
    directory = cluster_dir(league_dir)
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    entry = str(PROJECT_ROOT / "scripts" / "league.py")
    paths = []
    for learner in config.learners:
        command = [options.python, entry, "--league-dir", str(league_dir), "--learner", learner.name,
                   "--minutes", "0", "--slurm"]  # fmt: skip
        text = _script(league_dir, learner.name, command, options, options.cpus_per_job, options.gpus_per_job)
        paths.append(_write(directory / f"{learner.name}.sbatch", text))
    if options.reporter:
        command = [options.python, entry, "report", "--league-dir", str(league_dir), "--minutes", "0"]
        text = _script(league_dir, "reporter", command, options, options.reporter_cpus, 0)
        paths.append(_write(directory / "reporter.sbatch", text))
    return paths


def _write(path: Path, text: str) -> Path:
    atomic_write(path, lambda file: file.write(text.encode()))
    path.chmod(0o755)
    return path


def require(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise FileNotFoundError(f"{command} not found: this machine has no SLURM client (use --dry-run to only "
                                "write the scripts)")  # fmt: skip
    return found


def submit(paths: list[Path]) -> dict[str, str]:
    """sbatch every script; returns script name -> job id."""
    sbatch = require("sbatch")
    jobs = {}
    for path in paths:
        result = subprocess.run([sbatch, "--parsable", str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"sbatch {path} failed: {result.stderr.strip() or result.stdout.strip()}")
        jobs[path.stem] = result.stdout.strip().split(";")[0]
    return jobs


def requeue_self() -> bool:
    """Ask SLURM to requeue the job this process runs in; False outside SLURM or if refused."""
    job = os.environ.get("SLURM_JOB_ID")
    scontrol = shutil.which("scontrol")
    if not job or scontrol is None:
        return False
    result = subprocess.run([scontrol, "requeue", job], capture_output=True, text=True)
    return result.returncode == 0


def job_table(league_dir: str | Path) -> list[dict]:
    """The league's jobs: queued and running ones from squeue, finished ones from sacct (where
    accounting is available). Each row: job, name, state, elapsed, reason."""
    league_dir = Path(league_dir)
    prefix = job_name(league_dir, "")
    rows: dict[str, dict] = {}
    queries = (  # finished jobs first, so that squeue's view of a running one wins
        ("sacct", ["-n", "-P", "-X", "--starttime=now-30days", "-o", "JobID,JobName%200,State,Elapsed,Reason"]),
        ("squeue", ["-h", "-o", "%i|%j|%T|%M|%R"]),
    )
    for program, arguments in queries:
        path = shutil.which(program)
        if path is None:
            continue
        result = subprocess.run([path, *arguments], capture_output=True, text=True)
        if result.returncode != 0:
            continue
        for line in result.stdout.splitlines():
            parts = line.split("|")
            if len(parts) >= 5 and parts[1].startswith(prefix):
                rows[parts[0]] = dict(zip(("job", "name", "state", "elapsed", "reason"), parts[:5]))
    return sorted(rows.values(), key=lambda row: int(row["job"].split("_")[0]) if row["job"][:1].isdigit() else 0)
