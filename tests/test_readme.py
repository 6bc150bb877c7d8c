"""Every command and Python example the README shows runs as written, with small budgets.

The README's shell commands are read from its ```bash blocks and its examples from its ```python
blocks. Each command is run with only its budgets shrunk (steps, games, minutes) by the rules in
``BUDGETS``; a command that no rule knows fails the test, so the README cannot drift from the code.
Installation lines (pip) are what CI runs literally; the one-node SLURM recipe has its own test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_league import tiny_league_toml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NOT_RUN_HERE = ("pip install", "sudo tools/slurm_local.sh")  # CI installs; tests/test_cluster.py starts SLURM


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def readme_commands() -> list[str]:
    """The shell commands of the README, continuation lines joined and comments dropped."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for command in line.split("&&"):
                command = re.sub(r"\s+#.*$", "", command).strip()
                if command and not command.startswith(NOT_RUN_HERE) and command != "python -m pytest -q":
                    commands.append(command)
    return commands


def _shrunk(command: str) -> list[str]:
    """The command as this test runs it: the same program and options, small budgets."""
    argv = shlex.split(command)
    assert argv[0] == "python", f"README command {command!r} does not start with python"
    script = _program(argv)
    rules = BUDGETS.get(script)
    assert rules is not None, f"README command {command!r}: no budget rule for {script} in tests/test_readme.py"
    argv = [sys.executable, *argv[1:]]
    for option, value in rules.items():
        if option in argv:
            argv[argv.index(option) + 1] = value
        elif not option.startswith("+"):
            argv += [option, value]
    for option, value in rules.items():
        if option.startswith("+") and option[1:] not in argv:
            argv += [option[1:]] + ([value] if value else [])
    return argv


def _program(argv: list[str]) -> str:
    """The script, with its subcommand where it has one (``scripts/league.py submit``)."""
    if len(argv) > 2 and argv[2] in ("submit", "status", "report"):
        return f"{argv[1]} {argv[2]}"
    return argv[1]


# script -> option -> the small value it runs with; "+--flag" adds a flag (with a value, unless empty).
BUDGETS = {
    "scripts/train.py": {
        "--steps": "200",
        "--learning-starts": "100",
        "--n-envs": "4",
        "--eval-games": "2",
        "+--no-progress": "",
    },
    "scripts/evaluate.py": {"--games": "4"},
    "scripts/shots.py": {"--games": "4"},
    "scripts/play.py": {"--games": "1", "--max-frames": "5", "+--fps": "1000"},
    "scripts/league.py": {"--minutes": "0.05"},
    "scripts/league.py submit": {"+--dry-run": ""},  # writes and prints the batch scripts; no SLURM here
    "scripts/league.py status": {},
    "scripts/leaderboard.py": {},
    "benchmarks/bench_env.py": {"--steps": "300", "--repeats": "1"},
    "benchmarks/bench_agents.py": {
        "--threads": "1",
        "--rounds": "1",
        "--updates": "2",
        "--tdmpc2": "cpu",
        "+--no-muzero": "",
    },
    "benchmarks/bench_league.py": {"--minutes": "0.25", "--rate-games": "50", "+--config": "league.toml"},
    "benchmarks/gpu.py": {"--device": "cpu", "+--quick": ""},
}


def _workdir(tmp_path: Path) -> dict:
    """A directory laid out as the README assumes (scripts/, models/, benchmarks/ and a league.toml),
    and the environment the commands run in there."""
    for name in ("scripts", "models", "benchmarks"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "league.toml").write_text(tiny_league_toml("a"))
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "SDL_VIDEODRIVER": "dummy",  # the window command, without a screen
        "PYTHONUNBUFFERED": "1",
    }


def test_the_readme_shows_the_commands_this_test_knows():
    commands = readme_commands()
    scripts = {_program(shlex.split(command)) for command in commands}
    assert {"scripts/league.py", "scripts/train.py", "scripts/leaderboard.py"} <= scripts
    assert scripts <= set(BUDGETS), f"commands without a budget rule: {sorted(scripts - set(BUDGETS))}"


def test_every_readme_command_and_example_runs(tmp_path):
    env = _workdir(tmp_path)
    commands = readme_commands()
    # The cluster commands name a shared filesystem; here the league lives in the working directory.
    commands = [c.replace("/shared/leagues/main", "runs/cluster-league") for c in commands]
    for command in commands:
        argv = _shrunk(command)
        if "benchmarks/gpu.py" in argv:
            argv += ["--out", str(tmp_path / "gpu")]
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"README command {command!r} failed:\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, command
    assert (tmp_path / "runs" / "league" / "leaderboard.md").is_file()
    assert (tmp_path / "match.gif").is_file() and (tmp_path / "runs" / "sac" / "policy.pt").is_file()
    for example in _blocks("python"):
        example = re.sub(r"n_games=\d+", "n_games=4", example)
        result = subprocess.run(
            [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"README example failed:\n{example}\n{result.stderr}"


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("*.py")))
def test_every_script_starts_from_its_own_directory(script):
    """Python puts a script's directory first on the import path: no script may hide a package."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
