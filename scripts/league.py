"""Run or resume a self-play league: learners train against a pool of promoted snapshots.

    python scripts/league.py                                  # the small default league in runs/league
    python scripts/league.py --league-dir runs/my --config league.toml --minutes 60
    python scripts/league.py --league-dir runs/my --learner sac-a   # one learner only (what a batch job runs)

    python scripts/league.py submit --league-dir runs/my --config league.toml --partition gpu --gpus-per-job 1
    python scripts/league.py status --league-dir runs/my
    python scripts/league.py report --league-dir runs/my      # keep ratings and leaderboard fresh

A league directory holds everything: league.toml, the learners' training runs, the snapshots
(members/), the match ledger (ledger/) and the leaderboard (leaderboard.md/.html/.csv, pictures).
Run the same command again and the league continues where it stopped. Ctrl-C stops cleanly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# This script shares its name with the league package: keep its own directory off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from league.cluster import ClusterOptions, job_table, requeue_self, submit, write_scripts  # noqa: E402
from league.config import open_league  # noqa: E402
from league.layout import learner_lease_file, learner_state_file  # noqa: E402
from league.lease import Lease, LeaseError  # noqa: E402
from league.ledger import read_ledger  # noqa: E402
from league.manager import run_league, run_reporter  # noqa: E402
from league.worker import LearnerWorker  # noqa: E402
from plumbing.cli import entry_point  # noqa: E402

COMMANDS = ("run", "submit", "status", "report")


def _say(line: str) -> None:
    print(line, flush=True)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="league.py [run]", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--league-dir", default="runs/league", help="the league directory (default runs/league)")
    parser.add_argument(
        "--config",
        default=None,
        help="a league TOML file; creates the league, or replaces the stored config of an existing "
        "one (default: the stored config, or the built-in default for a new league)",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="wall-time budget in minutes (0: until stopped; default: the config's [league] minutes)",
    )
    parser.add_argument(
        "--learner", default=None, help="run only this learner, in this process (what one cluster batch job runs)"
    )
    parser.add_argument(
        "--slurm",
        action="store_true",
        help="as a SLURM batch job (with --learner): on SIGUSR1 (the time-limit warning) save and "
        "requeue the job; wait for a previous job of this learner to let go of it",
    )
    args = parser.parse_args(argv)
    if args.minutes is not None and args.minutes < 0:
        parser.error(f"--minutes must be >= 0, got {args.minutes}")
    if args.slurm and args.learner is None:
        parser.error("--slurm runs one learner: give --learner NAME")
    if args.learner is None:
        return run_league(args.league_dir, args.config, minutes=args.minutes, log=_say)
    config = open_league(args.league_dir, args.config, create=True)
    minutes = config.league.minutes if args.minutes is None else args.minutes
    deadline = time.time() + 60 * minutes if minutes > 0 else None
    worker = LearnerWorker(args.league_dir, config, args.learner, deadline=deadline, log=_say,
                           lease_wait=240.0 if args.slurm else 0.0)  # fmt: skip
    summary = worker.run()
    if args.slurm and summary["status"] == "stopped by SIGUSR1":
        if requeue_self():
            _say(f"[{args.learner}] checkpoint saved; job requeued, it will resume from here")
        else:
            _say(f"[{args.learner}] checkpoint saved; could not requeue the job: resubmit its script to resume")
    return 0


def _submit(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="league.py submit",
                                     description="Write one sbatch script per learner (and one for the reporter) "
                                                 "into LEAGUE_DIR/cluster/ and submit them.")  # fmt: skip
    parser.add_argument("--league-dir", default="runs/league")
    parser.add_argument("--config", default=None, help="league TOML (creates the league or replaces its config)")
    parser.add_argument("--cluster", default="slurm", choices=["slurm"], help="the scheduler (slurm)")
    parser.add_argument("--partition", default=None)
    parser.add_argument("--time", default="7-00:00:00", help="time limit per job (default 7-00:00:00)")
    parser.add_argument("--gpus-per-job", type=int, default=0)
    parser.add_argument("--cpus-per-job", type=int, default=2)
    parser.add_argument("--mem", default=None, help="memory per job, e.g. 16G")
    parser.add_argument("--account", default=None)
    parser.add_argument("--qos", default=None)
    parser.add_argument(
        "--signal-seconds",
        type=int,
        default=300,
        help="seconds before the time limit at which a job saves and requeues (default 300)",
    )
    parser.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra #SBATCH argument, e.g. --sbatch=--constraint=a100 (repeatable)",
    )
    parser.add_argument("--setup", default="", help="a shell line run before python, e.g. 'source venv/bin/activate'")
    parser.add_argument("--python", default=sys.executable, help="the python the jobs run (default: this one)")
    parser.add_argument("--no-reporter", action="store_true", help="do not submit the reporter job")
    parser.add_argument("--dry-run", action="store_true", help="write and print the scripts, submit nothing")
    args = parser.parse_args(argv)
    config = open_league(args.league_dir, args.config, create=True)
    options = ClusterOptions(partition=args.partition, time=args.time, gpus_per_job=args.gpus_per_job,
                             cpus_per_job=args.cpus_per_job, mem=args.mem, account=args.account, qos=args.qos,
                             signal_seconds=args.signal_seconds, extra_sbatch=tuple(args.sbatch), setup=args.setup,
                             python=args.python, reporter=not args.no_reporter)  # fmt: skip
    paths = write_scripts(args.league_dir, config, options)
    if args.dry_run:
        for path in paths:
            _say(f"==> {path}\n{path.read_text()}")
        _say(f"dry run: {len(paths)} scripts written, nothing submitted")
        return 0
    jobs = submit(paths)
    for name, job in jobs.items():
        _say(f"submitted {name}: job {job}")
    _say(f"watch it: python scripts/league.py status --league-dir {args.league_dir}")
    return 0


def _status(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="league.py status", description="The league's jobs, learners, pool, "
                                                                          "and leaderboard.")  # fmt: skip
    parser.add_argument("--league-dir", default="runs/league")
    parser.add_argument("--top", type=int, default=10, help="leaderboard rows shown (default 10)")
    args = parser.parse_args(argv)
    league_dir = Path(args.league_dir)
    config = open_league(league_dir)
    view = read_ledger(league_dir)
    promoted = sum(decision["promote"] for decision in view.promotions.values())
    rated = sum(game["kind"] != "train" for game in view.games)
    _say(f"league {league_dir}: {len(config.learners)} learners, {len(view.snapshots)} snapshots "
         f"({promoted} promoted), {len(view.games)} games ({rated} rated)")  # fmt: skip
    try:
        jobs = job_table(league_dir)
    except OSError as error:
        jobs, _ = [], _say(f"jobs: cannot ask SLURM ({error})")
    if jobs:
        _say("\njobs:")
        for row in jobs:
            _say(f"  {row['job']:>10}  {row['name']:<40} {row['state']:<12} {row['elapsed']:>11}  {row['reason']}")
    _say("\nlearners:")
    for learner in config.learners:
        state_file = learner_state_file(league_dir, learner.name)
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        lease = Lease(learner_lease_file(league_dir, learner.name), learner.name)
        holder = lease.holder()
        running = "not running"
        if holder is not None:
            running = "running: " + lease.describe(holder)
        step, round_number, phase = state.get("step", 0), state.get("round", 0), state.get("phase", "-")
        progress = f"step {step:>10,}  round {round_number:>4}  phase {phase:<8}"
        _say(f"  {learner.name:<16} {learner.agent:<8} {progress}  {running}")
    board = league_dir / "leaderboard.md"
    if board.exists():
        rows = [line for line in board.read_text().splitlines() if line.startswith("|")]
        _say(f"\nleaderboard ({board}, top {args.top}):")
        for line in rows[: args.top + 2]:
            _say("  " + line)
    for problem in view.skipped:
        _say(f"ledger: {problem}")
    return 0


def _report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="league.py report", description="Keep a league's ratings and leaderboard fresh (the reporter job)."
    )
    parser.add_argument("--league-dir", default="runs/league")
    parser.add_argument("--minutes", type=float, default=0.0, help="how long (0: until stopped)")
    args = parser.parse_args(argv)
    return run_reporter(args.league_dir, minutes=args.minutes, log=_say)


@entry_point
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "run"
    handler = {"run": _run, "submit": _submit, "status": _status, "report": _report}[command]
    try:
        return handler(argv)
    except (LeaseError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
