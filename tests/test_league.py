"""The league: config validation, the snapshot pool's integrity checks, the leaderboard from a
synthetic ledger, changing a collector's opponent mix, a smoke run of the default league, and a
learner killed with SIGKILL mid-league that restarts without lost or double-counted games (and a
second process for a running learner refused)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_league import league_command, tiny_league_toml

from agents.checkpoint import load_checkpoint
from agents.collect import Collector
from agents.registry import make_agent, make_policy, save_policy
from arena.hockey.constants import Mode
from league.config import DEFAULT_TOML, default_config, load_config, open_league, parse_config
from league.ledger import LedgerWriter, read_ledger
from league.pool import MemberError, Pool
from league.standings import compute_standings, write_leaderboard

ROOT = Path(__file__).resolve().parents[1]
TINY_TOML = tiny_league_toml("a")


# ---------------------------------------------------------------------------- config
def test_default_config_round_trips_through_toml():
    config = default_config()
    assert [(learner.name, learner.agent) for learner in config.learners] == [
        ("sac", "sac"),
        ("tdmpc2", "tdmpc2"),
        ("muzero", "muzero"),
    ]
    assert all(learner.init == f"models/{learner.agent}-hockey/policy.pt" for learner in config.learners)
    assert parse_config(config.to_toml()) == config
    assert "[[learners]]" in DEFAULT_TOML


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[league]\nround_steps = 'many'\n", "round_steps"),
        ("[leage]\n", "unknown section"),
        ("[league]\nminutes = nan\n", "league.minutes must be a finite number, got nan"),
        ("[matchmaking]\npfsp = inf\n", "matchmaking.pfsp must be a finite number, got inf"),
        ("[promotion]\nthreshold = 1.5\n[[learners]]\nname = 'a'\n", "threshold"),
        ("[matchmaking]\nweighting = 'soft'\n[[learners]]\nname = 'a'\n", "weighting"),
        ("[matchmaking]\nanchor_split = 'uneven'\n[[learners]]\nname = 'a'\n", "anchor_split"),
        ("[matchmaking]\nshortfall_floor = 0\n[[learners]]\nname = 'a'\n", "shortfall_floor"),
        ("[[learners]]\nname = 'a'\nagent = 'weak'\n", "learning agent"),
        ("[[learners]]\nname = 'a'\nagent = 'sacc'\n", "registered agents"),
        ("[[learners]]\nname = 'a'\nset = {gama = 0.9}\n", "gama"),
        ("[[learners]]\nname = 'a'\ntrain = {steps = 5}\n", "sets itself"),
        ("[[learners]]\nname = 'a b'\n", "letters"),
        ("[[learners]]\nname = 'a'\n[[learners]]\nname = 'a'\n", "unique"),
        ("[[learners]]\nname = 'a'\ninit = 'missing.pt'\n", "init"),
        ("[league]\n", "at least one"),
        ("[league\n", "not valid TOML"),
    ],
)
def test_malformed_config_names_the_field(text, message):
    with pytest.raises((ValueError, TypeError), match=message):
        parse_config(text, where="test.toml")


def test_a_league_directory_keeps_its_config(tmp_path):
    config_file = tmp_path / "my.toml"
    config_file.write_text(TINY_TOML)
    league = tmp_path / "league"
    created = open_league(league, config_file, create=True)
    assert open_league(league) == created  # a restart without --config uses the stored one
    with pytest.raises(FileNotFoundError, match="holds no league"):
        open_league(tmp_path / "nothing")


@pytest.mark.parametrize(
    "name", ["champion_restart", "champion_mixed", "league_vs_solo", "exploiters_ab", "exploiters_ab_main"]
)
def test_committed_league_configs_load_on_a_fresh_clone(name):
    # What their headers tell a user to run: every init checkpoint and external policy they name
    # is in the repository or in ../shared, so the league starts on a machine without runs/.
    config = load_config(ROOT / "benchmarks" / f"{name}.toml")
    assert all(learner.init_path is None or learner.init_path.is_file() for learner in config.learners)
    if name in ("champion_restart", "champion_mixed"):  # the line grows on from the committed champion
        assert config.learner("sac").init_path.resolve() == ROOT / "models" / "league-champion" / "policy.pt"


# ---------------------------------------------------------------------------- pool
def _snapshot(tmp_path: Path, pool: Pool, learner: str, step: int, seed: int) -> dict:
    agent = make_agent("sac", overrides={"hidden": (8, 8), "device": "cpu"}, seed=seed)
    path = tmp_path / f"source-{learner}-{step}.pt"
    save_policy(path, agent, step=step)
    return pool.add_snapshot(path, learner)


def test_pool_names_snapshots_by_content_and_excludes_bad_files(tmp_path):
    pool = Pool(tmp_path, ["weak", "strong"], device="cpu")
    first = _snapshot(tmp_path, pool, "a", 100, seed=0)
    again = _snapshot(tmp_path, pool, "a", 100, seed=0)
    other = _snapshot(tmp_path, pool, "a", 200, seed=1)
    assert first == again and first["member"].startswith("a-100-") and first["sha256"][:8] in first["member"]
    pool.update({r["member"]: r for r in (first, other)})
    assert pool.problem(first["member"]) is None and pool.problem("basic-weak") is None
    assert pool.policy(first["member"]).act(np.zeros((3, 18), dtype=np.float32)).shape == (3, 4)

    # another member's weights under this member's name: the hash no longer matches the ledger
    (tmp_path / first["file"]).write_bytes((tmp_path / other["file"]).read_bytes())
    assert "hash mismatch" in pool.problem(first["member"])
    with pytest.raises(MemberError, match="hash mismatch"):
        pool.policy(first["member"])
    # a swapped file that keeps the size and modification time the pool checked: refused all the same
    pool = Pool(tmp_path, ["weak", "strong"], device="cpu")
    pool.update({r["member"]: r for r in (first, other)})
    (tmp_path / first["file"]).write_bytes((tmp_path / "source-a-100.pt").read_bytes())
    assert pool.problem(first["member"]) is None
    stat = (tmp_path / first["file"]).stat()
    swapped = (tmp_path / other["file"]).read_bytes()
    assert len(swapped) == stat.st_size
    (tmp_path / first["file"]).write_bytes(swapped)
    os.utime(tmp_path / first["file"], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(MemberError, match="hash mismatch"):
        pool.match_policy(first["member"])
    (tmp_path / other["file"]).unlink()
    assert "missing" in pool.problem(other["member"])
    assert pool.playable([first["member"], other["member"], "basic-strong"])[0] == ["basic-strong"]
    with pytest.raises(MemberError, match="not a member"):
        pool.policy("nobody")


# ---------------------------------------------------------------------------- leaderboard
def test_leaderboard_files_from_a_synthetic_ledger(tmp_path):
    (tmp_path / "league.toml").write_text(TINY_TOML)
    pool = Pool(tmp_path, ["weak", "strong"], device="cpu")
    good = _snapshot(tmp_path, pool, "a", 100, seed=0)
    with LedgerWriter(tmp_path, role="test") as writer:
        writer.append(good)
        writer.append({"type": "promotion", "member": good["member"], "learner": "a", "promote": True})
        outcomes = {"basic-weak": [1] * 16 + [0] * 4, "basic-strong": [1] * 6 + [0] * 8 + [-1] * 6}
        for opponent, results in outcomes.items():
            for i, outcome in enumerate(results):
                writer.append({"type": "game", "id": f"m-{opponent}:{i}", "match": f"m-{opponent}",
                               "kind": "evaluation", "a": good["member"], "b": opponent, "outcome": outcome,
                               "a_side": "left" if i % 2 == 0 else "right"})  # fmt: skip
        writer.append({"type": "game", "id": "t:1", "match": "t", "kind": "train", "a": "a", "b": "basic-weak",
                       "outcome": -1})  # fmt: skip
    standings, paths = write_leaderboard(tmp_path)
    assert {p.name for p in paths} == {"leaderboard.md", "leaderboard.csv", "leaderboard.html", "ratings.png",
                                       "head_to_head.png", "learning_curves.png"}  # fmt: skip
    assert all(p.stat().st_size > 0 for p in paths)
    frame = pd.read_csv(tmp_path / "leaderboard.csv")
    row = frame.set_index("member").loc[good["member"]]
    assert (row.wins, row.draws, row.losses, row.games) == (22, 12, 6, 40)  # the training game is not rated
    assert row.win_vs_weak == pytest.approx(0.8) and row.games_vs_strong == 20
    assert row.status == "promoted" and row.algorithm == "sac"
    assert row.conservative == pytest.approx(row.mu - 3 * row.sigma)
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    assert list(frame["conservative"]) == sorted(frame["conservative"], reverse=True)
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert good["member"] in markdown and "80% [" in markdown and "mu-3sigma" in markdown
    assert good["member"] in (tmp_path / "leaderboard.html").read_text()
    assert (tmp_path / "ratings.png").read_bytes()[:4] == b"\x89PNG"

    # a tampered member is reported and marked, and the leaderboard is rebuilt from the ledger alone
    (tmp_path / good["file"]).write_bytes(b"not a checkpoint")
    again = compute_standings(tmp_path, ["weak", "strong"])
    assert again.frame.set_index("member").loc[good["member"], "status"] == "excluded"
    assert any("excluded" in note for note in again.notes)
    assert again.table.ratings == standings.table.ratings


# ---------------------------------------------------------------------------- collector mix
def test_changing_the_mix_lets_running_games_finish_against_their_opponent():
    opponents = {"weak": make_policy("weak", seed=0), "strong": make_policy("strong", seed=1)}
    collector = Collector(4, [("weak", opponents["weak"])], [1.0], seed=0)
    collector.start(lambda: Mode.NORMAL)
    collector.set_opponents({"strong": 1.0}, resolve=lambda label: opponents[label])
    assert collector.labels == ["strong", "weak"]  # weak is kept for the games already running
    assert [collector.labels[i] for i in collector.opponent] == ["weak"] * 4
    ended = []
    rng = np.random.default_rng(0)
    while len(ended) < 12:
        ended += collector.step(rng.uniform(-1, 1, (4, 4)).astype(np.float32), lambda: Mode.NORMAL)[-1]
    labels = [e.opponent for e in ended]
    assert labels.count("weak") == 4 and labels.count("strong") == len(labels) - 4  # each running game, once
    collector.set_opponents({"strong": 1.0}, resolve=lambda label: opponents[label])
    assert collector.labels == ["strong"]  # nothing runs against weak any more: dropped


# ---------------------------------------------------------------------------- whole league
def _league(league_dir: Path, *args: str, wait: bool = True, timeout: float = 240):
    command = league_command(league_dir, *args)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_default_league_smoke_run(tmp_path):
    result = _league(tmp_path / "league", "--minutes", "0.5")
    assert result.returncode == 0, result.stdout + result.stderr
    league = tmp_path / "league"
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"league {league}: learners sac (sac, from models/sac-hockey/policy.pt), tdmpc2 (tdmpc2")
    assert "muzero (muzero, from models/muzero-hockey/policy.pt)" in first and "budget 0.5 minutes" in first
    assert "rN = its round" in result.stdout and "leaderboard:" in result.stdout
    assert parse_config((league / "league.toml").read_text()) == default_config()
    view = read_ledger(league)
    starts = {r["learner"]: m for m, r in view.snapshots.items() if r.get("origin") == "start"}
    training = [g for g in view.games if g["kind"] == "train"]
    assert training and {g["a"] for g in training} <= {"sac", "tdmpc2", "muzero"}  # training games recorded
    assert sorted(starts) == ["muzero", "sac", "tdmpc2"]  # each starting model is a member from the first minute
    assert all(view.promotions[m]["promote"] and view.snapshots[m]["step"] == 0 for m in starts.values())
    assert starts["sac"] == f"sac-0-{load_checkpoint(ROOT / 'models/sac-hockey/policy.pt').sha256[:8]}"
    # the first round trains against the anchors and the starting models, which are rated at once
    assert all(g["b"] in ("basic-weak", "basic-strong", *starts.values()) for g in training)
    rated = {name for g in view.rated_games() for name in (g["a"], g["b"])}
    assert set(starts.values()) <= rated
    for name in ("sac", "tdmpc2", "muzero"):
        assert (league / "learners" / name / "league_state.json").is_file()
    assert (league / "leaderboard.md").is_file()


def test_sigkill_mid_league_then_restart_keeps_the_record_consistent(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    league = tmp_path / "league"
    process = _league(league, "--config", str(config), "--learner", "a", "--minutes", "0", wait=False)
    deadline = time.time() + 180
    try:  # kill it once it has finished a round and is well into the next one
        while time.time() < deadline:
            view = read_ledger(league) if (league / "ledger").is_dir() else None
            if view is not None and view.promotions and sum(g["kind"] == "train" for g in view.games) > 40:
                break
            assert process.poll() is None, process.stdout.read().decode()
            time.sleep(0.2)
        else:
            pytest.fail("the league made no progress")
        second = _league(league, "--learner", "a", "--minutes", "0.1")  # the same learner, twice at once
        assert second.returncode == 2 and "learner a is already running" in second.stderr
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = read_ledger(league)
    result = _league(league, "--learner", "a", "--minutes", "0.15")  # resumes with the stored config
    assert result.returncode == 0, result.stdout + result.stderr

    view = read_ledger(league)
    assert all("torn" in s for s in view.skipped)  # at most a torn last record of the killed process
    ids = [g["id"] for g in view.games]
    assert len(ids) == len(set(ids))
    # training games: every episode number from 1 to the last, each exactly once
    episodes = sorted(int(g["id"].rsplit(":", 1)[1]) for g in view.games if g["kind"] == "train")
    assert episodes == list(range(1, len(episodes) + 1)) and len(episodes) > len(
        [g for g in killed_at.games if g["kind"] == "train"]
    )
    # every decided candidate played all its promotion games, once, and its duel with the learner's best
    duels = 0
    for member, decision in view.promotions.items():
        played = [g for opponent in decision["gate"] for g in view.by_match.get(f"promotion:{member}:{opponent}", [])]
        assert len(played) == decision["games"] and all(g["kind"] == "promotion" for g in played)
        if "incumbent" in decision:
            assert len(view.by_match[f"promotion:{member}:{decision['incumbent']}"]) == 4  # head_to_head_games
            duels += 1
    assert duels > 0
    assert len(view.promotions) > len(killed_at.promotions)
    for member, decision in view.promotions.items():  # promoted snapshots come with a model card
        card = league / "members" / f"{member}.md"
        assert card.is_file() == decision["promote"]
        if decision["promote"]:
            text = card.read_text()
            assert "algorithm: sac" in text and "basic-strong" in text and view.snapshots[member]["sha256"] in text
    # ratings rebuild identically from the ledger
    first = compute_standings(league, ["weak", "strong"])
    second = compute_standings(league, ["weak", "strong"])
    assert first.table.ratings == second.table.ratings
    assert first.frame["games"].sum() == 2 * len(view.rated_games())
