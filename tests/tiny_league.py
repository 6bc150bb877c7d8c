"""The tiny league the league and cluster tests run: rounds of 300 steps, small SAC learners on CPU,
a lenient promotion gate so that the pool grows within seconds."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = """
[league]
round_steps = 300
minutes = 0
report_every = {report_every}
[promotion]
min_games = 8
anchor_games = 4
opponents = 2
threshold = 0.1
head_to_head_games = 4
head_to_head = 0.0
[evaluation]
pairs_per_round = 1
games_per_pair = 4
n_envs = 4
"""
LEARNER = """
[[learners]]
name = "{name}"
seed = {seed}
device = "cpu"
train = {{n_envs = 4, learning_starts = 100, buffer_size = 4000, updates_per_step = 0.05, log_every = 100}}
set = {{batch_size = 16, hidden = [16, 16]}}
"""


def tiny_league_toml(*learners: str, report_every: float = 2) -> str:
    """The config text with one small SAC learner per name (seeds 0, 1, ...)."""
    text = SETTINGS.format(report_every=report_every)
    return text + "".join(LEARNER.format(name=name, seed=seed) for seed, name in enumerate(learners))


def league_command(league_dir, *args) -> list[str]:
    """``python scripts/league.py --league-dir LEAGUE_DIR ARGS...``, for a subprocess run from ROOT."""
    return [sys.executable, str(ROOT / "scripts" / "league.py"), "--league-dir", str(league_dir), *map(str, args)]
