"""Directories written by an earlier version of this code (tests/data/made-before/, made by the
version before plumbing/ existed) still rate identically and resume: a league and a training run."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from tiny_league import league_command

from league.ledger import read_ledger
from league.standings import compute_standings
from scripts import train

ROOT = Path(__file__).resolve().parents[1]
MADE_BEFORE = ROOT / "tests" / "data" / "made-before"


def test_an_old_league_rates_as_it_did_and_goes_on(tmp_path):
    league = tmp_path / "league"
    shutil.copytree(MADE_BEFORE / "league", league)
    with open(league / "leaderboard.csv") as file:
        before = {row["member"]: (float(row["mu"]), float(row["sigma"])) for row in csv.DictReader(file)}
    table = compute_standings(league, ["weak", "strong"]).table
    for member, (mu, sigma) in before.items():
        assert table.ratings[member].mu == pytest.approx(mu, abs=1e-9)
        assert table.ratings[member].sigma == pytest.approx(sigma, abs=1e-9)
    old = read_ledger(league)
    config = (league / "league.toml").read_text().replace("steps = 600", "steps = 900")
    (tmp_path / "more.toml").write_text(config)
    result = subprocess.run(league_command(league, "--config", tmp_path / "more.toml", "--minutes", "0"),
                            cwd=ROOT, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming from" in result.stdout and "finished its steps at step 900" in result.stdout
    view = read_ledger(league)
    assert not view.skipped and len(view.snapshots) == len(old.snapshots) + 1
    assert {g["id"] for g in old.games} < {g["id"] for g in view.games}


def test_an_old_training_run_resumes_with_its_stored_settings(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(MADE_BEFORE / "run", run)
    assert train.main(["--run-dir", str(run), "--steps", "600", "--resume", "--no-progress"]) == 0
    payload = torch.load(run / "checkpoints" / "training.pt", weights_only=True)
    assert payload["counters"]["step"] == 600 and payload["train_config"]["n_envs"] == 4
    assert payload["agent_config"]["gamma"] == 0.95 and payload["agent_config"]["hidden"] == [16, 16]
