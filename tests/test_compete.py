"""The competition server's client against a stand-in server over loopback, the server games in
the ledger, and the local rehearsal of the server's game format.

One Twisted reactor runs in a background thread for the whole module; the stand-in server and
the in-process clients live on it. Every wait has a timeout, and nothing asserts on timings.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from comprl_standin import StandInServer, parse_float_list
from tiny_league import tiny_league_toml
from twisted.internet import defer

from agents.checkpoint import load_checkpoint
from arena.comprl.client import ClientConfig, CompetitionClient, CompetitionError, check_policy_speed
from arena.comprl.game import GameFormat, GameTracker, looks_like_round_start, wire_action
from arena.hockey.basic_opponent import BasicOpponent
from arena.hockey.engine import HockeyEngine
from evaluation.ratings import rate_games
from league.ledger import LedgerWriter, match_game_record, read_ledger, server_game_record, snapshot_record
from league.standings import compute_standings

ROOT = Path(__file__).resolve().parents[1]
SAC = "models/sac-hockey/policy.pt"
WAIT = 90  # seconds any one exchange may take before the test fails instead of hanging


@pytest.fixture(scope="module")
def reactor():
    from twisted.internet import reactor

    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    yield reactor
    reactor.callFromThread(reactor.stop)
    thread.join(10)


def on_reactor(reactor, function, *args, timeout: float = WAIT):
    """Call ``function`` in the reactor's thread and wait for its (possibly deferred) result."""
    future = concurrent.futures.Future()

    def call():
        defer.maybeDeferred(function, *args).addCallbacks(future.set_result, lambda f: future.set_exception(f.value))

    reactor.callFromThread(call)
    return future.result(timeout=timeout)


class Counting:
    """The strong BasicOpponent, counting its resets and acts; optionally slow on one act."""

    def __init__(self, slow_act: int | None = None, slow_seconds: float = 0.0):
        self.policy = BasicOpponent(weak=False, seed=3)
        self.resets = 0
        self.acts = 0
        self.slow_act, self.slow_seconds = slow_act, slow_seconds

    def act(self, obs):
        self.acts += 1
        if self.acts == self.slow_act:
            time.sleep(self.slow_seconds)
        return self.policy.act(obs)

    def reset(self, mask):
        self.resets += 1
        self.policy.reset(mask)


def play(reactor, server: StandInServer, policy, token: str = "tok-a", **settings):
    """Start ``server``, play ``policy`` on it until the client stops; returns (outcome, results, lines)."""
    port = server.port or on_reactor(reactor, server.listen, reactor)
    results, lines = [], []
    config = ClientConfig("127.0.0.1", port, token, first_backoff=0.05, **settings)
    client = CompetitionClient(policy, config, on_game_end=results.append, log=lines.append, reactor=reactor)
    try:
        outcome = on_reactor(reactor, client.start)
    except CompetitionError as error:
        outcome = error
    return outcome, results, lines


def _sent(server, command: bytes):
    return [box for _, way, box in server.boxes if way == "sent" and box.get(b"_command") == command]


def _answers_to(server, command: bytes):
    """The client's answers to every ``command`` the server sent, matched by connection and tag."""
    asked = {(who, box[b"_ask"]) for who, way, box in server.boxes if way == "sent" and box.get(b"_command") == command}
    return [box for who, way, box in server.boxes if way == "received" and (who, box.get(b"_answer")) in asked]


def test_a_full_exchange_auth_ready_a_game_of_four_rounds_end_and_the_next_game(reactor):
    server = StandInServer({"tok-a": "alice"}, bot=True, seed=1)
    policy = Counting()
    outcome, results, lines = play(reactor, server, policy, games=2)
    on_reactor(reactor, server.stop)
    counts = [sum(r.outcome == value for r in results) for value in (1, 0, -1)]
    assert str(outcome) == f"W/D/L {counts[0]}/{counts[1]}/{counts[2]}, 0 disconnected"
    assert server.kicks == [] and server.protocol_errors == []
    # auth: the token as UTF-8 text and the version as the integer 1
    (auth,) = _answers_to(server, b"Auth")
    assert auth[b"token"] == b"tok-a" and auth[b"version"] == b"1"
    # ready after auth and after the first game; after the second (the budget) it declines
    assert [ready for _, ready in server.ready_answers] == [True, True, False]
    assert len(server.games) == 2 and all(g["end"] in ("WIN", "DRAW") for g in server.games)
    for game, result in zip(server.games, results):
        seat = game["players"].index("alice")
        assert result.game_id == game["id"] and not result.disconnected
        assert (result.rounds_won, result.rounds_lost) == (game["rounds"][seat], game["rounds"][1 - seat])
        assert result.rounds_won + result.rounds_lost + result.rounds_drawn == 4
        assert result.steps == sum(game["round_lengths"])
    # every action on the wire: four texts Python parses as finite floats in [-1, 1]
    actions = [parse_float_list(box[b"action"]) for box in _answers_to(server, b"Step")]
    assert len(actions) == sum(r.steps for r in results)
    assert all(len(a) == 4 and all(-1 <= v <= 1 for v in a) for a in actions)
    # the policy starts afresh at every round: 4 rounds per game, found without any round message
    assert policy.resets == 8 and policy.acts == len(actions)
    assert [line.split(":")[0] for line in lines if line.startswith("game")] == [
        f"game {r.number} {r.game_id[:8]} vs unknown" for r in results
    ]


def test_a_wrong_token_is_tried_a_few_times_then_refused_with_a_clear_message(reactor):
    server = StandInServer({"tok-a": "alice"}, bot=True)
    outcome, results, _ = play(reactor, server, Counting(), token="wrong", auth_failures=3)
    on_reactor(reactor, server.stop)
    assert isinstance(outcome, CompetitionError) and results == []
    assert "refused the access token 3 times" in str(outcome) and "COMPRL_ACCESS_TOKEN" in str(outcome)
    errors = [box[b"msg"] for box in _sent(server, b"Error")]
    assert errors == [b"Authentication failed"] * 3 and len(server.connections) == 3


def test_a_wrong_protocol_version_is_refused_at_once(reactor):
    server = StandInServer({"tok-a": "alice"}, bot=True, version=2)
    outcome, _, _ = play(reactor, server, Counting())
    on_reactor(reactor, server.stop)
    assert isinstance(outcome, CompetitionError) and "protocol version 1" in str(outcome)
    assert len(server.connections) == 1


def test_an_unreachable_server_is_named_in_one_line(reactor):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    config = ClientConfig("127.0.0.1", port, "tok")
    client = CompetitionClient(Counting(), config, log=lambda line: None, reactor=reactor)
    with pytest.raises(CompetitionError, match=rf"cannot reach the competition server at 127.0.0.1:{port}"):
        on_reactor(reactor, client.start)


def test_a_server_restart_mid_game_is_recorded_as_a_disconnect_and_the_client_comes_back(reactor):
    server = StandInServer({"tok-a": "alice"}, bot=True, drop_at_step=30, restart_pause=0.3)
    outcome, results, lines = play(reactor, server, Counting(), games=2)
    on_reactor(reactor, server.stop)
    assert server.restarts == 1 and len(server.connections) >= 2
    assert [r.disconnected for r in results] == [True, False]
    assert results[0].why == "our connection was lost" and results[0].steps == 30
    assert server.games[0]["end"] == "DISCONNECTED" and server.games[1]["end"] in ("WIN", "DRAW")
    assert any("reconnecting" in line for line in lines)
    assert str(outcome).endswith("1 disconnected")


def test_an_opponent_that_leaves_and_a_step_after_end_game(reactor):
    """The bot leaves its first game while the client's Step is open: the client gets Ready, EndGame
    with the counts so far, then one more Step; it answers both Steps, counts the game as
    disconnected and plays the next one."""
    server = StandInServer({"tok-a": "alice"}, bot=True, bot_leaves_at_step=40, step_after_end=True)
    outcome, results, _ = play(reactor, server, Counting(), games=2)
    on_reactor(reactor, server.stop)
    assert server.kicks == []
    assert [r.disconnected for r in results] == [True, False]
    assert results[0].why == "the opponent left" and results[0].outcome == 0
    assert server.games[0]["end"] == "DISCONNECTED" and server.games[0]["disconnecter"] == "bot"
    # answered after the game ended, with valid actions: the Step left open when the bot left, and
    # the Step sent after EndGame
    after = server.games[0]["steps_after_end"]
    assert len(after) == 2 and all(len(a) == 4 and all(-1 <= v <= 1 for v in a) for _, a in after)


def test_a_slow_step_is_answered_in_time_and_a_policy_too_slow_for_the_deadline_is_refused(reactor):
    server = StandInServer({"tok-a": "alice"}, bot=True, timeout=1.5, rounds=1, round_steps=20)
    policy = Counting(slow_act=5, slow_seconds=2.5)  # one act longer than the deadline
    outcome, results, _ = play(reactor, server, policy, games=1, deadline=1.5, game_format=GameFormat(1, 20))
    on_reactor(reactor, server.stop)
    assert server.kicks == [] and len(results) == 1 and not results[0].disconnected
    assert results[0].late >= 1 and "late steps answered idle" in results[0].line(outcome)

    class Sleepy:
        def act(self, obs):
            time.sleep(0.3)
            return np.zeros((len(obs), 4), dtype=np.float32)

    with pytest.raises(ValueError, match=r"too slow for the server: one act took .* over 0.2 s"):
        check_policy_speed(Sleepy(), deadline=0.2)


def test_round_starts_are_read_from_the_observations():
    engine = HockeyEngine(seed=5)
    tracker = GameTracker("g", 1, GameFormat(rounds=4, round_steps=251))
    starts = []
    for round_number in range(3):
        engine.reset(one_starting=round_number % 2 == 1)
        left, _ = engine.views()
        assert looks_like_round_start(left)
        starts.append(tracker.observe(left))
        for _ in range(5):  # moving: not a round start
            engine.step([1.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0])
            starts.append(tracker.observe(engine.views()[0]))
    assert starts == [True, *[False] * 5] * 3 and tracker.rounds_started == 3
    idle = GameTracker("h", 1, GameFormat(rounds=2, round_steps=3))  # nobody moves: the step cap tells
    engine.reset()
    rest = engine.views()[0]
    assert [idle.observe(rest) for _ in range(6)] == [True, False, False, True, False, False]
    result = idle.finish([0.0, 0.0])
    assert not result.disconnected and result.rounds_drawn == 2 and result.outcome == 0
    short = GameTracker("i", 1, GameFormat(rounds=4, round_steps=3)).finish([1.0, 0.0])
    assert short.disconnected and short.outcome == 0


def test_actions_go_out_as_four_finite_python_floats_in_range():
    action = wire_action(np.array([[2.0, -0.5, np.float32(0.25), -3.0, 9.0]], dtype=np.float32))
    assert action == [1.0, -0.5, 0.25, -1.0] and all(type(v) is float for v in action)
    with pytest.raises(ValueError, match="4 finite"):
        wire_action([0.0, float("nan"), 0.0, 0.0])


# ------------------------------------------------------------------------------------------ the ledger
def test_server_records_have_the_agreed_schema_and_both_players_of_one_game_are_kept(tmp_path):
    record = server_game_record("sac-a-0-12345678", "g-1", None, 1, 2, 1, 1, False)
    assert record == {
        "type": "game",
        "id": "server:g-1",
        "match": "server:sac-a-0-12345678",
        "kind": "server",
        "a": "sac-a-0-12345678",
        "b": "unknown",
        "outcome": 1,
        "rounds_won": 2,
        "rounds_lost": 1,
        "rounds_drawn": 1,
        "disconnected": False,
        "server_game": "g-1",
    }
    with LedgerWriter(tmp_path, "one") as writer:
        writer.append(record)
        writer.append(server_game_record("basic-strong", "g-1", None, -1, 1, 2, 1, False))
        writer.append(record)  # the same record again: counted once
    view = read_ledger(tmp_path)
    assert [(g["a"], g["outcome"]) for g in view.games] == [("sac-a-0-12345678", 1), ("basic-strong", -1)]
    assert view.duplicates == 1 and view.skipped == [] and view.rated_games() == []


def test_server_games_change_no_rating_and_no_rank(tmp_path):
    def league(directory: Path, server_games: bool) -> Path:
        directory.mkdir()
        (directory / "league.toml").write_text(tiny_league_toml("a"))

        class Game:
            def __init__(self, game, outcome):
                self.game, self.seed, self.one_starting, self.a_side = game, 0, True, "left"
                self.outcome, self.length, self.mode = outcome, 100, "normal"

        with LedgerWriter(directory, "test") as writer:
            for number, outcome in enumerate([1, 0, -1, 1, 1, 0]):
                for a, b in (("x", "basic-weak"), ("y", "basic-strong"), ("x", "y")):
                    writer.append(
                        {
                            **match_game_record(f"m-{a}-{b}", "evaluation", a, b, Game(number, outcome)),
                            "time": float(number),
                        }
                    )
                if server_games:
                    writer.append({**server_game_record("x", f"s{number}", None, 1, 3, 0, 1, False), "time": 0.5})
                    writer.append({**server_game_record("z", f"s{number}", None, -1, 0, 3, 1, False), "time": 0.5})
        return directory

    plain, mixed = league(tmp_path / "plain", False), league(tmp_path / "mixed", True)
    tables = [rate_games((g["a"], g["b"], g["outcome"]) for g in read_ledger(d).rated_games()) for d in (plain, mixed)]
    assert tables[0].ratings == tables[1].ratings and tables[0].ranking() == tables[1].ranking()
    frames = [compute_standings(d, ["weak", "strong"]).frame for d in (plain, mixed)]
    columns = ["member", "mu", "sigma"]
    assert frames[0][columns].reset_index(drop=True).equals(frames[1][columns].reset_index(drop=True))


# ------------------------------------------------------------------------------------------ the command line
def _readme_command() -> str:
    """The compete command of the README's server section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Play on the competition server", 1)[1].split("\n## ", 1)[0]
    (command,) = [
        line
        for line in re.findall(r"```sh\n(.*?)```", section, flags=re.S)[0].splitlines()
        if line.startswith("python scripts/compete.py")
    ]
    return re.sub(r"\s+#.*$", "", command)


def test_two_compete_clients_play_each_other_through_the_stand_in_and_the_ledger_holds_both(reactor, tmp_path):
    league = tmp_path / "runs" / "league"
    league.mkdir(parents=True)
    (league / "league.toml").write_text(tiny_league_toml("a"))
    checkpoint = load_checkpoint(ROOT / SAC)
    member = f"sac-0-{checkpoint.sha256[:8]}"
    with LedgerWriter(league, "test") as writer:
        writer.append(snapshot_record(member, "sac", checkpoint, f"members/{member}.pt", step=0, origin="start"))
    (tmp_path / "models").symlink_to(ROOT / "models")
    server = StandInServer({"tok-a": "alice", "tok-b": "bob"}, seed=2)
    port = on_reactor(reactor, server.listen, reactor)
    command = _readme_command()
    assert "--league-dir" in command
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COMPRL_SERVER_URL": "127.0.0.1",
        "COMPRL_SERVER_PORT": str(port),
    }
    argv = [sys.executable, str(ROOT / shlex.split(command)[1]), *shlex.split(command)[2:], "--games", "1"]
    argv[argv.index("--league-dir") + 1] = "runs/league"
    runs = []
    for policy, token in ((SAC, "tok-a"), ("strong", "tok-b")):
        line = [policy if word.endswith(".pt") else word for word in argv]
        runs.append(
            subprocess.Popen(
                line,
                cwd=tmp_path,
                env={**environment, "COMPRL_ACCESS_TOKEN": token},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [run.communicate(timeout=WAIT) for run in runs]
    on_reactor(reactor, server.stop)
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, out + err
        assert "game 1 " in out and "stopped after 1 games" in out and "Traceback" not in err
    assert server.kicks == [] and len(server.games) == 1 and server.games[0]["end"] in ("WIN", "DRAW")
    games = read_ledger(league).games
    assert sorted(g["a"] for g in games) == sorted([member, "basic-strong"])
    mine, theirs = sorted(games, key=lambda g: g["a"] != member)
    assert mine["server_game"] == theirs["server_game"] == server.games[0]["id"]
    assert mine["id"] == f"server:{server.games[0]['id']}" and mine["match"] == f"server:{member}"
    assert (mine["rounds_won"], mine["rounds_lost"]) == (theirs["rounds_lost"], theirs["rounds_won"])
    assert mine["outcome"] == -theirs["outcome"] and not mine["disconnected"] and mine["b"] == "unknown"
    seat = server.games[0]["players"].index("alice")
    assert mine["rounds_won"] == server.games[0]["rounds"][seat]
    # The league's leaderboard shows both in its server section, apart from the rated pool.
    shown = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py"), "--league-dir", str(league),
                            "--quiet"], capture_output=True, text=True, timeout=WAIT)  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    board = (league / "leaderboard.md").read_text()
    section = board[board.index("## Games on the competition server") :]
    assert member in section and "basic-strong" in section


def test_compete_names_what_is_wrong_in_one_line(tmp_path):
    from scripts import compete

    def error_of(*argv, **environment):
        saved = {k: os.environ.pop(k, None) for k in ("COMPRL_SERVER_URL", "COMPRL_SERVER_PORT", "COMPRL_ACCESS_TOKEN")}
        os.environ.update(environment)
        try:
            return compete.main(list(argv))
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None)
                if value is not None:
                    os.environ[key] = value

    assert error_of("weak", "--token", "t") == 2  # no server
    assert error_of("weak", "--server-url", "h", "--server-port", "99999", "--token", "t") == 2
    assert error_of("weak", COMPRL_SERVER_URL="h") == 2  # no token
    assert error_of("nope", "--server-url", "h", "--token", "t") == 2
    assert error_of("weak", "--server-url", "h", "--token", "t", "--league-dir", str(tmp_path / "none")) == 2


def test_compete_without_twisted_says_how_to_install_it():
    code = (
        "import sys, runpy; sys.modules['twisted'] = None; sys.argv = ['compete.py', 'weak']; "
        "runpy.run_path('scripts/compete.py', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2 and "pip install -e .[server]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ the rehearsal
def test_the_rehearsal_plays_four_rounds_with_the_puck_half_alternating_and_sides_kept(capsys):
    from arena.server_format import play_server_games
    from scripts import evaluate

    class Watching:
        """The weak bot, noting where the puck lies (own frame) on the first step after each reset."""

        def __init__(self):
            self.policy, self.fresh, self.puck_x = BasicOpponent(weak=True, seed=0), False, []

        def reset(self, mask):
            self.fresh = self.fresh or bool(np.asarray(mask).any())
            self.policy.reset(mask)

        def act(self, obs):
            if self.fresh:
                self.puck_x.append(float(obs[0, 12]))
                self.fresh = False
            return self.policy.act(obs)

    watching = Watching()
    records = play_server_games(watching, "strong", n_games=2, seed=3, n_envs=1)
    assert [r.a_side for r in records] == ["left", "right"]
    for record in records:
        assert record.rounds_won + record.rounds_lost + record.rounds_drawn == 4
        assert record.outcome == np.sign(record.rounds_won - record.rounds_lost)
    # rounds 1 and 3 start in player 2's half: the opponent's for player 1, its own for player 2
    signs = [int(np.sign(x)) for x in watching.puck_x]
    assert signs == [1, -1, 1, -1, -1, 1, -1, 1]
    assert evaluate.main([SAC, "--format", "server", "--games", "2", "--opponents", "weak"]) == 0
    assert "rounds won / drawn / lost" in capsys.readouterr().out


def test_sigterm_finishes_the_game_in_progress_then_compete_exits_cleanly(reactor):
    server = StandInServer({"tok-a": "alice"}, bot=True, seed=4)
    port = on_reactor(reactor, server.listen, reactor)
    argv = [
        sys.executable,
        str(ROOT / "scripts" / "compete.py"),
        "strong",
        "--server-url",
        "127.0.0.1",
        "--server-port",
        str(port),
        "--token",
        "tok-a",
    ]
    run = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not any(b"action" in box for _, _, box in list(server.boxes)):
            time.sleep(0.05)  # until the client has answered a Step: a game is in progress
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=WAIT)
    finally:
        run.kill()
    on_reactor(reactor, server.stop)
    assert run.returncode == 0, out + err
    assert "stopping after this game" in out and "game 1 " in out and "stopped after 1 games" in out
    assert len(server.games) == 1 and server.games[0]["end"] in ("WIN", "DRAW") and server.kicks == []
