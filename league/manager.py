"""Run a league on one machine: one process per learner, a progress line and a fresh leaderboard.

The manager starts each learner as its own process (``python -m league.worker``, the same code
a cluster batch job runs) and otherwise only reads: every ``report_every`` seconds it reads the
new ledger records, prints a status line and rewrites the leaderboard. Learners meet only
through the league directory, so the manager can die without harm; run it again and the
league continues. Ctrl-C, SIGTERM or SIGUSR1 to the manager makes every learner save and stop
(the manager passes the signal on); at the time budget the manager sends SIGTERM, which does the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from league.config import LeagueConfig, open_league
from league.layout import learner_dir, learner_state_file
from league.ledger import RATED_KINDS, LedgerReader
from league.pool import Pool
from league.standings import write_leaderboard
from plumbing.cli import one_line
from plumbing.signals import stop_signals

STOP_GRACE_SECONDS = 120.0  # a learner may be mid-match or writing a checkpoint when asked to stop


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class LeagueManager:
    """Starts the learners of a league and reports on it until they stop or time runs out.

    Args:
        league_dir: the league directory.
        config: its config (``open_league``).
        minutes: wall-time budget (None: the config's; 0: until stopped).
        log: where progress lines go.
        stop_grace: seconds the learners get to save their state once asked to stop, before they are killed.
    """

    def __init__(
        self,
        league_dir,
        config: LeagueConfig,
        minutes: float | None = None,
        log=print,
        stop_grace: float = STOP_GRACE_SECONDS,
    ):
        self.league_dir = Path(league_dir)
        self.stop_grace = stop_grace
        self.config = config
        self.minutes = config.league.minutes if minutes is None else minutes
        self.log = log
        self.reader = LedgerReader(self.league_dir)
        self.pool = Pool(self.league_dir, config.league.anchors)
        self.processes: dict[str, subprocess.Popen] = {}
        self.readers: list[threading.Thread] = []
        self.causes: dict[str, str] = {}  # learner -> its first error line
        self._skipped_reported = 0
        self.started = time.time()
        self.deadline = self.started + 60 * self.minutes if self.minutes > 0 else None
        self.report_seconds = 0.0

    def run(self) -> int:
        names = [learner.name for learner in self.config.learners]
        budget = f"{self.minutes:g} minutes" if self.deadline else "until stopped (Ctrl-C)"
        learners = ", ".join(f"{learner.name} ({learner.agent}"
                             + (f", from {learner.init})" if learner.init else ", from scratch)")
                             for learner in self.config.learners)  # fmt: skip
        self.log(f"league {self.league_dir}: learners {learners}; anchors {', '.join(self.config.league.anchors)}; "
                 f"budget {budget}")  # fmt: skip
        self.log(f"a status line every {self.config.league.report_every:g} s: [elapsed] games played (rated: between "
                 "frozen members) | members (promoted) | per learner: steps trained and rN = its round | "
                 "top 3 by TrueSkill mu - 3 sigma")  # fmt: skip
        for name in names:
            self.processes[name] = self._spawn(name)
        # A stop signal is relayed to every learner: Ctrl-C in a terminal reaches them anyway, but a
        # league started in the background (SIGINT ignored) or stopped with kill gets only SIGTERM.
        stop: list[str] = []
        terminated = False
        try:
            with stop_signals(stop.append):
                next_report = time.time() + self.config.league.report_every
                while any(p.poll() is None for p in self.processes.values()) and not stop:
                    time.sleep(0.5)
                    if time.time() >= next_report:
                        self.safe_report()
                        next_report = time.time() + self.config.league.report_every
                    if self.deadline is not None and time.time() >= self.deadline and not terminated:
                        self._signal_all(signal.SIGTERM)  # the learners' own timers normally got there first
                        terminated = True
                    if self.deadline is not None and time.time() >= self.deadline + self.stop_grace:
                        self._signal_all(signal.SIGKILL)
                if stop:
                    self.log(f"stopping ({stop[0]}): every learner saves its state")
                    self._signal_all(getattr(signal, stop[0]))
                    self._wait_all()
        finally:
            self._signal_all(signal.SIGTERM)
            self._wait_all()
        for reader in self.readers:
            reader.join(timeout=5.0)
        self.safe_report(final=True)
        failed = {n: p.returncode for n, p in self.processes.items() if p.returncode not in (0, -2, -15)}
        for name, code in failed.items():
            self.log(f"learner {name} failed (exit code {code}): {self.causes.get(name, 'see its lines above')}")
        if failed:
            return 1
        return 128 + getattr(signal, stop[0]) if stop else 0

    def _spawn(self, name: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "league.worker", "--league-dir", str(self.league_dir), "--learner", name]
        if self.deadline is not None:
            command += ["--deadline", repr(self.deadline)]
        learner_dir(self.league_dir, name).mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        root = str(Path(__file__).resolve().parents[1])
        environment["PYTHONPATH"] = root + os.pathsep + environment.get("PYTHONPATH", "")
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1)  # fmt: skip
        reader = threading.Thread(target=self._relay, args=(name, process), daemon=True)
        reader.start()
        self.readers.append(reader)
        return process

    def _relay(self, name: str, process: subprocess.Popen) -> None:
        """Pass a learner's lines on, each naming the learner, and keep its error line as the cause of a failure."""
        for line in process.stdout:
            line = line.rstrip()
            if not line:
                continue
            if line.startswith(("error:", "internal error:")):
                self.causes.setdefault(name, line)
            self.log(line if line.startswith(f"[{name}]") else f"[{name}] {line}")

    def _signal_all(self, number: int) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    process.send_signal(number)
                except ProcessLookupError:
                    pass

    def _wait_all(self) -> None:
        limit = time.time() + self.stop_grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, limit - time.time()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def safe_report(self, final: bool = False) -> bool:
        """``report``, with a failure logged in one line (and retried at the next report) instead of
        raised: the reports are derived from the ledger, and the learners never wait for them."""
        try:
            self.report(final=final)
        except Exception as error:  # any failure of a report; the training it reports on goes on
            self.log(f"report failed ({type(error).__name__}: {one_line(error)}); the learners go on, next try "
                     f"in {self.config.league.report_every:g} s")  # fmt: skip
            return False
        return True

    def report(self, final: bool = False) -> None:
        """One status line, and the leaderboard files rewritten."""
        started = time.perf_counter()
        view = self.reader.refresh(final=final)
        for problem in view.skipped[self._skipped_reported :]:  # each once, as it is found
            self.log(f"ledger: {problem}")
        self._skipped_reported = len(view.skipped)
        standings, _ = write_leaderboard(self.league_dir, view, self.pool)
        self.report_seconds += time.perf_counter() - started
        frame = standings.frame
        promoted = int((frame["status"] == "promoted").sum()) if len(frame) else 0
        rated = sum(g["kind"] in RATED_KINDS for g in view.games)
        top = ", ".join(f"{row.member} {row.conservative:.1f}" for row in frame.head(3).itertuples() if row.games > 0)
        latest: dict[str, int] = {}  # a learner's step when its latest training game ended
        for game in view.games:
            if game["kind"] == "train":
                latest[game["a"]] = max(latest.get(game["a"], 0), game.get("step", 0))
        steps = []
        for learner in self.config.learners:
            state = learner_state_file(self.league_dir, learner.name)
            round_number = json.loads(state.read_text()).get("round", 0) if state.exists() else 0
            steps.append(f"{learner.name} {latest.get(learner.name, 0) / 1000:.0f}k r{round_number}")
        elapsed = _format_duration(time.time() - self.started)
        self.log(f"[{elapsed}] games {len(view.games)} ({rated} rated) | members {len(frame)} "
                 f"({promoted} promoted) | {' '.join(steps)} | top (mu-3sigma): {top or '-'}")  # fmt: skip
        if final:
            self.log(
                f"leaderboard: {self.league_dir / 'leaderboard.md'} (also .html, .csv, ratings.png, head_to_head.png)"
            )


def run_league(
    league_dir, config_path=None, minutes: float | None = None, log=print, stop_grace: float = STOP_GRACE_SECONDS
) -> int:
    """Create or resume the league in ``league_dir`` and run it; returns an exit status. ``stop_grace``:
    the seconds the learners get to save their state once asked to stop, before they are killed."""
    config = open_league(league_dir, config_path, create=True)
    return LeagueManager(league_dir, config, minutes=minutes, log=log, stop_grace=stop_grace).run()


def run_reporter(league_dir, minutes: float = 0.0, log=print) -> int:
    """Refresh the ratings and the leaderboard every ``report_every`` seconds until the time is up
    or a stop signal (SIGINT, SIGTERM, SIGUSR1) arrives; what a cluster's reporter job runs."""
    config = open_league(league_dir)
    manager = LeagueManager(league_dir, config, minutes=minutes, log=log)
    stopped: list[str] = []
    with stop_signals(stopped.append):
        while not stopped and (manager.deadline is None or time.time() < manager.deadline):
            manager.safe_report()
            end = time.time() + config.league.report_every
            while not stopped and time.time() < end:
                time.sleep(0.2)
    return 0 if manager.safe_report(final=True) else 1
