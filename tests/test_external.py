"""External policies (agents/external.py): any Python file's policy plays, with a content identity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_league import league_command, tiny_league_toml

from agents.checkpoint import load_checkpoint
from agents.external import load_external
from agents.registry import make_agent, make_policy, save_policy
from agents.training_checkpoint import read_training_checkpoint
from arena.match import play_games
from league.config import parse_config
from league.layout import learner_dir
from league.ledger import read_ledger
from league.pool import Pool

ROOT = Path(__file__).resolve().parents[1]
SHABIN = ROOT.parent / "shared" / "external" / "shabin_sac.py"

PLAYER = """
import numpy as np

class Forward:
    def __init__(self, speed):
        self.speed = speed
        self.resets = 0

    def reset(self, mask):
        self.resets += 1

    def act(self, obs):
        actions = np.zeros((len(obs), 4), dtype=np.float32)
        actions[:, 0] = self.speed
        return actions

def load():
    with open(__file__.replace("player.py", "speed.txt")) as file:
        return Forward(float(file.read()))

def broken():
    return Forward(float("nan"))

def wrong_shape():
    class Wrong:
        def act(self, obs):
            return np.zeros((len(obs), 3))
    return Wrong()
"""


def _player(folder: Path, speed: str = "0.5") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "player.py").write_text(PLAYER)
    (folder / "speed.txt").write_text(speed)
    return folder / "player.py"


@pytest.mark.skipif(not SHABIN.exists(), reason="../shared/external is not beside this checkout")
def test_the_shipped_tournament_agent_plays_as_an_opponent():
    shabin = make_policy(f"py:{SHABIN}:load")
    assert shabin.files == ["shabin_sac.py", "weights/shabin_sac.npz", "weights/shabin_sac.pth"]
    result = play_games(shabin, "strong", n_games=8, seed=0, n_envs=8)
    assert result.n_games == 8 and result.wins >= 6  # it beats the strong bot nearly always


def test_identity_covers_the_files_the_player_reads_and_changes_with_them(tmp_path):
    source = _player(tmp_path / "a")
    first, again = load_external(f"py:{source}:load"), load_external(f"py:{source}:load")
    assert first.files == ["player.py", "speed.txt"] and first.sha256 == again.sha256
    copy = _player(tmp_path / "b")  # the same files elsewhere: the same player
    assert load_external(f"py:{copy}:load").sha256 == first.sha256
    (tmp_path / "a" / "speed.txt").write_text("0.25")
    changed = load_external(f"py:{source}:load")
    assert changed.sha256 != first.sha256
    actions = changed.act(np.zeros((3, 18), dtype=np.float32))
    assert actions.shape == (3, 4) and np.all(actions[:, 0] == 0.25)
    changed.reset(np.ones(3, dtype=bool))
    assert changed.policy.resets == 2  # the check at load, and this one


def test_bad_external_policies_are_refused_in_one_line(tmp_path):
    source = _player(tmp_path / "a")
    cases = {
        f"py:{source}": "expected py:PATH.py:FUNCTION",
        f"py:{tmp_path / 'a' / 'speed.txt'}:load": "is not a .py file",
        f"py:{tmp_path / 'missing.py'}:load": "does not exist",
        f"py:{source}:absent": "has no function absent()",
        f"py:{source}:broken": "NaN or inf actions",
        f"py:{source}:wrong_shape": "shape (2, 3), expected (2, 4)",
    }
    for text, message in cases.items():
        with pytest.raises((ValueError, FileNotFoundError), match=message.replace("(", r"\(").replace(")", r"\)")):
            load_external(text)
    (tmp_path / "a" / "speed.txt").write_text("fast")
    with pytest.raises(ValueError, match="failed to load: ValueError"):
        load_external(f"py:{source}:load")


def test_evaluate_plays_an_external_policy_from_the_command_line(tmp_path):
    source = _player(tmp_path / "a")
    result = subprocess.run(
        [sys.executable, "scripts/evaluate.py", "models/sac-hockey/policy.pt", "--opponents", f"py:{source}:load",
         "--games", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"py:{source}:load" in result.stdout


def test_an_external_policy_with_a_fixed_rating_keeps_it_while_the_others_move(tmp_path):
    from league.ledger import LedgerWriter, external_record
    from league.standings import rate_league

    text = f'[[learners]]\nname = "a"\n[[externals]]\nname = "fwd"\npolicy = "py:{_player(tmp_path / "p")}:load"\n'
    text += "fixed_rating = 31.5\n"
    config = parse_config(text)
    assert config.externals[0].fixed_rating == 31.5
    assert parse_config(config.to_toml()).externals == config.externals  # kept in the league's league.toml
    player = load_external(config.externals[0].spec)
    league = tmp_path / "league"
    with LedgerWriter(league, "test") as writer:
        writer.append(external_record("fwd-1", "fwd", player, config.externals[0].fixed_rating))
        for number in range(20):  # it loses every game to a newcomer and to the strong bot
            for opponent in ("newcomer", "basic-strong"):
                writer.append({"type": "game", "id": f"{opponent}:{number}", "match": f"evaluation:{opponent}",
                               "kind": "evaluation", "a": opponent, "b": "fwd-1", "outcome": 1,
                               "time": float(number)})  # fmt: skip
    table = rate_league(read_ledger(league))
    assert table.ratings["fwd-1"].mu == 31.5 and table.ratings["basic-strong"].mu == 25.0
    assert table.ratings["newcomer"].mu > 31.5  # beating a pinned 31.5 twenty times lifts it above
    with pytest.raises(ValueError, match="fixed_rating"):
        parse_config(text.replace("31.5", '"high"'))


def test_a_league_learner_keeps_its_games_against_the_externals_in_a_buffer_of_their_own(tmp_path):
    text = tiny_league_toml("a").replace("[league]", '[league]\nanchors = ["weak"]')
    text = text.replace("log_every = 100}", 'log_every = 100, kept_opponents = "externals", kept_share = 0.25}')
    text = text.replace('device = "cpu"', 'device = "cpu"\nsteps = 600')
    text += (
        f'[matchmaking]\nexternals = 0.5\n[[externals]]\nname = "fwd"\npolicy = "py:{_player(tmp_path / "p")}:load"\n'
    )
    (tmp_path / "league.toml").write_text(text)
    league = tmp_path / "league"
    result = subprocess.run(league_command(league, "--config", tmp_path / "league.toml", "--minutes", "0"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    payload = read_training_checkpoint(learner_dir(league, "a") / "checkpoints" / "training.pt", "sac")
    kept, main = payload["kept"], payload["buffer"]
    # the external's games (about half of them) and only those: fewer rows than the main buffer's
    assert 0 < kept["rows"] < main["rows"] * main["n_envs"]


def test_a_policy_checkpoint_is_a_league_external_named_by_its_weights(tmp_path):
    checkpoint = tmp_path / "friend.pt"
    save_policy(checkpoint, make_agent("sac", overrides={"hidden": (8, 8), "device": "cpu"}, seed=3), step=7)
    text = tiny_league_toml("a").replace("[league]", '[league]\nanchors = ["weak"]')
    text = text.replace('device = "cpu"', 'device = "cpu"\nsteps = 600')
    text += f'[matchmaking]\nexternals = 0.5\n[[externals]]\nname = "friend"\npolicy = "{checkpoint}"\n'
    (tmp_path / "league.toml").write_text(text)
    league = tmp_path / "league"
    result = subprocess.run(league_command(league, "--config", tmp_path / "league.toml", "--minutes", "0"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    view = read_ledger(league)
    (member,) = [m for m, r in view.snapshots.items() if r.get("origin") == "external"]
    sha256 = load_checkpoint(checkpoint).sha256
    assert member == f"friend-{sha256[:8]}" and view.snapshots[member]["file"] == str(checkpoint.resolve())
    assert any(member in (g["a"], g["b"]) for g in view.rated_games())  # it played

    # other weights under the same file: the member is excluded, naming the mismatch
    save_policy(checkpoint, make_agent("sac", overrides={"hidden": (8, 8), "device": "cpu"}, seed=4), step=7)
    pool = Pool(league, ["weak"], device="cpu")
    pool.update(view.snapshots)
    assert "hash mismatch" in pool.problem(member)

    # a file that is neither kind, or is missing, is refused in one line when the config is read
    (tmp_path / "noise.pt").write_bytes(bytes(range(256)))
    refused = {tmp_path / "league.toml": "or a policy checkpoint file", tmp_path / "no.pt": "does not exist",
               tmp_path / "noise.pt": "cannot be read"}  # fmt: skip
    for policy, message in refused.items():
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            parse_config(text.replace(str(checkpoint), str(policy)))
