"""Bad input on every entry point ends in one line naming what is wrong, exit code 2, and no file
left behind; a resume continues the run as stored."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agents.checkpoint import Checkpoint, save_checkpoint
from scripts import evaluate, leaderboard, league, play, shots, train

ROOT = Path(__file__).resolve().parents[1]
SAC = str(ROOT / "models" / "sac-hockey" / "policy.pt")
QUICK = ["--n-envs", "4", "--learning-starts", "100", "--eval-games", "2", "--eval-every", "0", "--no-progress"]


def _one_error_line(capsys, code: int) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.out + captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("value", "message"),
    [("gamma=high", "'gamma' must be a number, got 'high'"), ("hidden=256", "'hidden' must be a list, got 256")],
)
def test_train_refuses_wrongly_typed_settings(tmp_path, capsys, value, message):
    code = train.main(["--run-dir", str(tmp_path / "run"), "--steps", "200", "--set", value, *QUICK])
    assert message in _one_error_line(capsys, code)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[league]\nround_steps = "5000"\n', "[league]: field 'round_steps' must be an integer, got '5000'"),
        ('[[learners]]\nname = "a"\nset = {gamma = "high"}\n', "'gamma' must be a number, got 'high'"),
        ('[league]\nminutes = 1\n[[learners]]\nname = "a"\ninit = "README.md"\n', "init must be a sac policy"),
    ],
)
def test_league_refuses_a_bad_config_before_anything_starts(tmp_path, capsys, toml, message):
    config = tmp_path / "league.toml"
    config.write_text(toml)
    code = league.main(["--league-dir", str(tmp_path / "league"), "--config", str(config)])
    line = _one_error_line(capsys, code)
    assert message in line and str(config) in line
    assert not (tmp_path / "league").exists()


def _files(tmp_path: Path) -> dict[str, Path]:
    """A text file, an empty file, a run directory, a training checkpoint and another project's file."""
    run = tmp_path / "run"
    save_checkpoint(run / "policy.pt", Checkpoint("sac", {}, {}, {"w": torch.zeros(1)}))
    (run / "checkpoints").mkdir()
    torch.save({"kind": "training", "format_version": 1}, run / "checkpoints" / "training.pt")
    (tmp_path / "notes.pt").write_text("hello\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save({"model": torch.zeros(2)}, tmp_path / "other.pt")
    return {
        "is a text file": tmp_path / "notes.pt",
        "is an empty file": tmp_path / "empty.pt",
        f"is a directory, not a checkpoint file; use {run / 'policy.pt'}": run,
        f"is a training checkpoint (for resuming a run), not a policy: use {run / 'policy.pt'}": run
        / "checkpoints"
        / "training.pt",
        "PyTorch file of another project": tmp_path / "other.pt",
    }


def test_checkpoint_refusals_say_what_the_file_is_on_every_entry_point(tmp_path, capsys):
    for message, path in _files(tmp_path).items():
        before = sorted(tmp_path.rglob("*"))
        for entry in (
            lambda p: evaluate.main([str(p), "--games", "2"]),
            lambda p: shots.main([str(p), "--games", "2"]),
            lambda p: play.main(["--left", str(p), "--out", str(tmp_path / "game.gif")]),
            lambda p: train.main(["--run-dir", str(tmp_path / "new"), "--init", str(p), "--steps", "200", *QUICK]),
        ):
            assert message in _one_error_line(capsys, entry(path))
        assert sorted(tmp_path.rglob("*")) == before


def test_evaluate_refuses_a_shape_change_in_one_line(capsys):
    code = evaluate.main([SAC, "--games", "2", "--set", "hidden=[64,64]"])
    assert "hidden=[64, 64] (stored: [256, 256]) changes the networks' shapes" in _one_error_line(capsys, code)


def test_leaderboard_of_a_missing_league_and_play_without_a_display(tmp_path, capsys, monkeypatch):
    code = leaderboard.main(["--league-dir", str(tmp_path / "nothing")])
    assert "holds no league" in _one_error_line(capsys, code)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    if sys.platform.startswith("linux"):
        assert "no display" in _one_error_line(capsys, play.main(["--left", "strong", "--right", "weak"]))


def test_debug_variable_shows_the_traceback(tmp_path):
    command = [sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(tmp_path / "missing.pt"), "--games", "2"]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120)
    loud = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOCKEY_LEAGUE_DEBUG": "1"})  # fmt: skip
    assert quiet.returncode == 2 and quiet.stderr.strip().count("\n") == 0 and "does not exist" in quiet.stderr
    assert "Traceback" in loud.stderr and "does not exist" in loud.stderr


def test_a_run_too_short_to_update_says_so_and_writes_its_metrics(tmp_path, capsys):
    run = tmp_path / "run"
    assert train.main(["--run-dir", str(run), "--steps", "60", *QUICK[:2], "--eval-games", "2", "--no-progress"]) == 0
    assert "it makes no update" in capsys.readouterr().out
    rows = list(csv.DictReader((run / "train.csv").open()))
    assert rows and rows[-1]["updates"] == "0"


def test_a_resume_continues_with_the_stored_settings(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert train.main(["--run-dir", run, "--steps", "200", *QUICK, "--set", "gamma=0.95", "hidden=[64,64]"]) == 0
    assert train.main(["--run-dir", run, "--steps", "400", "--resume", "--no-progress"]) == 0
    payload = torch.load(Path(run) / "checkpoints" / "training.pt", weights_only=True)
    assert payload["counters"]["step"] == 400 and payload["train_config"]["n_envs"] == 4
    assert payload["agent_config"]["gamma"] == 0.95 and payload["agent_config"]["hidden"] == [64, 64]
    assert payload["state_dict"]["actor.net.0.weight"].shape == (64, 18)
    capsys.readouterr()
    code = train.main(["--run-dir", run, "--steps", "600", "--resume", "--set", "hidden=[32,32]"])
    assert "hidden=[32, 32] (stored: [64, 64]) changes the networks' shapes" in _one_error_line(capsys, code)
    assert train.main(["--run-dir", run, "--steps", "600", "--resume", "--no-progress", "--set", "gamma=0.9"]) == 0
    assert '"gamma": [0.95, 0.9]' in (Path(run) / "config_changes.jsonl").read_text()
    payload = torch.load(Path(run) / "checkpoints" / "training.pt", weights_only=True)
    assert payload["agent_config"]["hidden"] == [64, 64] and payload["agent_config"]["gamma"] == 0.9
