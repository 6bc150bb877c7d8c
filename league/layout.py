"""Where everything of a league lives in its directory: the one place that names its files.

LEAGUE/league.toml                      the config
LEAGUE/learners/<name>/                 a learner's training run (checkpoints, metrics)
LEAGUE/learners/<name>/run-<n>/         the runs of a learner restarted from its starting weights
LEAGUE/learners/<name>/league_state.json   its round, phase and opponent mix
LEAGUE/learners/<name>/owner.json       the lease of the process running it
LEAGUE/members/<member>.pt, .md         snapshots and the model cards of promoted ones
LEAGUE/ledger/<writer>.jsonl            the match ledger, one file per writing process
LEAGUE/cluster/                         batch scripts and their logs (SLURM)
LEAGUE/leaderboard.md .csv .html, ratings.png, head_to_head.png, learning_curves.png   the reports
    (named by evaluation.report.REPORT_NAMES, which writes them into any directory)
"""

from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "league.toml"
LEARNERS_DIR = "learners"
MEMBERS_DIR = "members"
LEDGER_DIR = "ledger"
CLUSTER_DIR = "cluster"


def config_file(league_dir: str | Path) -> Path:
    return Path(league_dir) / CONFIG_FILE


def learner_dir(league_dir: str | Path, name: str) -> Path:
    """A learner's training run directory."""
    return Path(league_dir) / LEARNERS_DIR / name


def learner_run_dir(league_dir: str | Path, name: str, run: int) -> Path:
    """The directory of a learner's ``run``-th training run (0: the learner's own directory)."""
    return learner_dir(league_dir, name) if run == 0 else learner_dir(league_dir, name) / f"run-{run}"


def learner_state_file(league_dir: str | Path, name: str) -> Path:
    return learner_dir(league_dir, name) / "league_state.json"


def learner_lease_file(league_dir: str | Path, name: str) -> Path:
    return learner_dir(league_dir, name) / "owner.json"


def members_dir(league_dir: str | Path) -> Path:
    return Path(league_dir) / MEMBERS_DIR


def member_file(member: str) -> str:
    """A snapshot's file, relative to the league directory (as the ledger records it)."""
    return f"{MEMBERS_DIR}/{member}.pt"


def member_card_file(league_dir: str | Path, member: str) -> Path:
    return members_dir(league_dir) / f"{member}.md"


def ledger_dir(league_dir: str | Path) -> Path:
    return Path(league_dir) / LEDGER_DIR


def cluster_dir(league_dir: str | Path) -> Path:
    return Path(league_dir) / CLUSTER_DIR
