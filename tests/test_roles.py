"""Learner roles (AlphaStar's): main exploiters train against the main learners' latest snapshots,
join the pool when they beat them and restart from their starting weights; league exploiters
train by PFSP over the whole pool."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from tiny_league import tiny_league_toml

from league.config import open_league, parse_config
from league.ledger import read_ledger
from league.worker import LearnerWorker


def _league_toml(role: str, steps: int) -> str:
    toml = tiny_league_toml("m", "x").replace("round_steps = 300", "round_steps = 800")
    gate = "threshold = 0.1\nexploiter_threshold = 0.01\nleague_exploiter_reset = 1.0\n"
    toml = toml.replace("threshold = 0.1\n", gate)
    toml = toml.replace('name = "x"\nseed = 1\n', f'name = "x"\nseed = 1\nrole = "{role}"\nsteps = {steps}\n')
    toml = toml.replace('name = "m"\nseed = 0\n', 'name = "m"\nseed = 0\nsteps = 800\n')
    return toml.replace("log_every = 100", 'log_every = 100, mode = "train_shooting"')  # short games


def _run(league: Path, toml: str, name: str) -> list[str]:
    config_file = league.parent / "league.toml"
    config_file.write_text(toml)
    config = open_league(league, config_file, create=True)
    lines: list[str] = []
    LearnerWorker(league, config, name, log=lines.append).run()
    return lines


@pytest.mark.parametrize("role", ["main-exploiter", "league-exploiter"])
def test_an_exploiter_trains_against_its_targets_joins_the_pool_and_restarts(role, tmp_path):
    league = tmp_path / "league"
    toml = _league_toml(role, steps=1600)
    _run(league, toml, "m")  # the main learner: one round, one snapshot
    view = read_ledger(league)
    main_snapshots = [m for m, r in view.snapshots.items() if r["learner"] == "m"]
    assert len(main_snapshots) == 1

    lines = _run(league, toml, "x")
    view = read_ledger(league)
    mine = [g for g in view.games if g["kind"] == "train" and g["a"] == "x"]
    opponents = {g["b"] for g in mine}
    if role == "main-exploiter":  # the main learner's latest snapshot only, once the first mix is set
        runs = 1 + max(int(g["id"].split(":")[1].partition(".")[2] or 0) for g in mine)
        assert opponents <= {"basic-weak", "basic-strong", *main_snapshots}
        assert sum(g["b"] != main_snapshots[0] for g in mine) <= 4 * runs  # the games each run started with
    else:  # PFSP over the promoted pool; the anchors only while it is empty
        pool = {m for m, r in view.promotions.items() if r["promote"]}
        assert opponents <= {"basic-weak", "basic-strong", *pool} and opponents & pool
    promoted = [m for m, r in view.promotions.items() if r["learner"] == "x" and r["promote"]]
    assert promoted, lines
    assert any("restarts from scratch as run 1" in line for line in lines), lines
    state = json.loads((league / "learners" / "x" / "league_state.json").read_text())
    assert state["run"] >= 1 and (league / state["run_dir"] / "checkpoints").is_dir()
    assert state["cpu_seconds_before"] > 0  # what the runs before the restart spent: the budget goes on
    ids = [g["id"] for g in view.games]
    assert len(ids) == len(set(ids))  # the restarted run's games have ids of their own (x.1)
    assert any(g["id"].startswith("train:x.1:") for g in mine)


def test_a_cpu_budget_covers_all_of_an_exploiters_runs(tmp_path):
    league = tmp_path / "league"
    toml = _league_toml("main-exploiter", steps=1600).replace("log_every = 100", "log_every = 100, cpu_hours = 1.0")
    config_file = tmp_path / "league.toml"
    config_file.write_text(toml)
    config = open_league(league, config_file, create=True)
    worker = LearnerWorker(league, config, "x")
    worker.pool = SimpleNamespace(policy=None)  # whom it plays does not matter here
    worker.state = {"run": 2, "run_dir": "learners/x/run-2", "cpu_seconds_before": 1800.0}
    worker._build_trainer()
    assert worker.trainer.config.cpu_hours == pytest.approx(0.5)  # half an hour left of the hour
    worker.state["cpu_seconds_before"] = 4000.0
    worker._build_trainer()
    assert 0 < worker.trainer.config.cpu_hours < 1e-6  # spent: the run stops at its first step


def test_roles_are_checked_in_the_config():
    base = tiny_league_toml("m")
    with pytest.raises(ValueError, match="role must be one of main, main-exploiter, league-exploiter"):
        parse_config(base.replace('name = "m"\n', 'name = "m"\nrole = "boss"\n'))
    with pytest.raises(ValueError, match="only in a league with a main learner"):
        parse_config(base.replace('name = "m"\n', 'name = "m"\nrole = "main-exploiter"\n'))
