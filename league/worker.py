"""One learner in a league: train a round, snapshot, face the promotion gate, play rating games.

This is what runs in each learner process on one machine and in each cluster batch job; learners
meet only through the league directory:

- ``learners/<name>/``: the learner's training run (``agents.train.Trainer``: checkpoints, CSV
  metrics) and ``league_state.json`` (round, phase, candidate, time spent);
- ``members/``: the snapshots (``league.pool``);
- ``ledger/<writer>.jsonl``: this process's records (``league.ledger``).

A round: choose the opponent mix (PFSP over promoted members, the learner's latest snapshot,
the anchors), train ``round_steps`` steps (every training game is recorded), save the training
checkpoint, add the policy to the pool as a candidate, let the promotion gate judge it
(``league.gate``), then play the evaluation pairings that shrink rating uncertainty most. The
phase is saved before each part, so a process killed anywhere resumes the round where it was:
training replays from the last checkpoint (those games carry the same ids as before and are
counted once), and a match already in the ledger is not played again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from agents.registry import load_external_opponent
from agents.train import KEPT_EXTERNALS, Hooks, build_trainer, kept_names
from arena.match import play_games
from evaluation.stats import WDL
from league.config import LeagueConfig, LearnerSettings, open_league
from league.gate import Gate
from league.layout import learner_dir, learner_lease_file, learner_run_dir, learner_state_file
from league.lease import Lease
from league.ledger import (
    LedgerReader,
    LedgerWriter,
    external_record,
    match_game_record,
    training_game_record,
    ungated_promotion_record,
)
from league.matchmaking import evaluation_pairings, recent_scores, training_mix
from league.pool import Pool, external_member_id, is_external
from league.promotion import even_games
from league.standings import rate_league
from plumbing.cli import entry_point
from plumbing.files import atomic_write
from plumbing.signals import stop_signals

PHASES = ("train", "promote", "evaluate")


def match_seed(league_seed: int, match_id: str) -> int:
    return (league_seed * 1_000_003 + zlib.crc32(match_id.encode())) % 2**31


class LearnerWorker:
    """Runs one learner of a league until its budget, a deadline or a stop signal.

    Args:
        league_dir: the league directory (its config already written there).
        config: the league's config.
        name: which learner.
        deadline: wall-clock time (``time.time()``) to stop by, or None.
        log: where progress lines go.
    """

    def __init__(self, league_dir, config: LeagueConfig, name: str, deadline: float | None = None, log=print,
                 lease_wait: float = 0.0):  # fmt: skip
        self.league_dir = Path(league_dir)
        self.config = config
        self.settings: LearnerSettings = config.learner(name)
        self.name = name
        self.deadline = deadline
        self.log = log
        self.run_dir = learner_dir(league_dir, name)  # this run's; set from the state in run()
        self.state_path = learner_state_file(league_dir, name)
        self.stop_reason: str | None = None
        self.timing: dict[str, float] = {}
        self.lease = Lease(learner_lease_file(league_dir, name), f"learner {name}",
                           on_lost=lambda: self.request_stop("another process took over this learner"))  # fmt: skip
        self.lease_wait = lease_wait
        self.gate = Gate(self)

    # ------------------------------------------------------------------ main loop
    def run(self) -> dict:
        """Run until the learner's budget, the deadline or a stop signal; returns a summary.

        Raises:
            LeaseError: another live process is running this learner.
        """
        self.lease.acquire(wait=self.lease_wait)
        try:
            return self._run()
        finally:
            self.lease.release()

    def _run(self) -> dict:
        config, settings = self.config, self.settings
        self.state = self._load_state()
        self.timing = dict(self.state.get("timing", {}))
        self.writer = LedgerWriter(self.league_dir, role=self.name)
        self.reader = LedgerReader(self.league_dir)
        self.pool = Pool(self.league_dir, config.league.anchors, device=settings.device,
                         seed=config.league.seed + settings.seed)  # fmt: skip
        self.refresh()
        self._build_trainer()
        if not self.trainer.has_checkpoint() and (self.state["round"] > 0 or self.state["phase"] != "train"):
            self._start_a_new_run()
            self._build_trainer()
        elif self.trainer.resumed_from is not None:
            self.log(f"[{self.name}] resuming from {self.trainer.resumed_from}")
        if settings.init and not self.trainer.has_checkpoint():
            self.log(f"[{self.name}] starting from {settings.init} (its weights and config)")
        with stop_signals(self.request_stop):
            timer = self._start_deadline_timer()
            self.trainer.open()
            for problem in self.trainer.collector.dropped:
                self.log(f"[{self.name}] excluded from the saved opponent mix: {problem}")
            self.mix_rng = np.random.default_rng([config.league.seed, settings.seed, 29])
            if "mix_rng" in self.state:
                self.mix_rng.bit_generator.state = self.state["mix_rng"]
            self._restore_round_mix()
            status = "stopped"
            try:
                if settings.init and "start" not in self.state:
                    self._enter_starting_model(self.trainer.config.init)
                if not self.stop_reason:
                    self._enter_externals()
                status = self._loop()
            finally:
                if timer is not None:
                    timer.cancel()
                self.save_state()
                self.trainer.close()
                self.writer.close()
        step = self.state.get("steps_before", 0) + self.trainer.step  # over all its runs
        summary = {"learner": self.name, "status": status, "step": step, "round": self.state["round"]}
        self.log(f"[{self.name}] {status} at step {step} (round {self.state['round']})")
        return summary

    def _build_trainer(self) -> None:
        """The trainer of the learner's current run (its own directory after a restart)."""
        run = self.state.get("run", 0)
        self.run_dir = self.league_dir / self.state["run_dir"] if "run_dir" in self.state else self.run_dir
        train_config = self.config.train_config(self.settings, self.run_dir, run=run)
        spent = self.state.get("cpu_seconds_before", 0.0)  # by the runs before this one
        if train_config.cpu_hours and spent:  # the learner's CPU budget covers all its runs
            left = max(train_config.cpu_hours - spent / 3600, 1e-9)  # 0 would mean no limit
            train_config = dataclasses.replace(train_config, cpu_hours=left)
        self.trainer = build_trainer(train_config,
                                     hooks=Hooks(on_episode=self._record_training_game),
                                     resolve_opponent=self.pool.policy)  # fmt: skip
        self._set_kept_labels()

    def _loop(self) -> str:
        round_steps = self.config.round_steps(self.settings)
        while True:
            state = self.state
            if state["phase"] == "train" and state.get("restart"):
                self._restart_from_start()
            limit = self.trainer.config.steps - state.get("steps_before", 0)  # the learner's steps, over its runs
            if state["phase"] == "train":
                if self.trainer.step >= limit:
                    return "finished its steps"
                if state.get("mix_round") != state["round"]:  # a resumed round keeps its checkpointed mix
                    self._set_training_mix()
                    state["mix_round"] = state["round"]
                    self.save_state()
                rounds = state["round"] + 1 - state.get("run_round", 0)  # this run's rounds, this one included
                target = min(rounds * round_steps, limit)
                started = time.perf_counter()
                before = dict(self.trainer.timing)
                status = self.trainer.train(target)
                self._account_training(before, time.perf_counter() - started)
                if status != "finished":
                    self.timed("checkpoint", self.trainer.save)
                    return status
                path = self.timed("snapshot", self.trainer.snapshot_and_evaluate)
                record = self.timed("snapshot", self.pool.add_snapshot, path, self.name)
                self.timed("ledger", self.writer.append, record)
                self.timed("checkpoint", self.trainer.save)
                state.update(phase="promote", candidate=record["member"])
                self.save_state()
            if self.stop_reason:
                return f"stopped by {self.stop_reason}"
            if state["phase"] == "promote":
                if not self.gate.judge(state["candidate"]):
                    return f"stopped by {self.stop_reason}"
                state["phase"] = "evaluate"
                self.save_state()
            if state["phase"] == "evaluate":
                if not self._evaluate(state["round"]):
                    return f"stopped by {self.stop_reason}"
                state.update(phase="train", round=state["round"] + 1, candidate=None)
                self.save_state()
            if self.stop_reason:
                return f"stopped by {self.stop_reason}"

    @property
    def run_tag(self) -> str:
        """The learner's name in game ids; a learner restarted from nothing gets a new one (name.N)."""
        run = self.state.get("run", 0)
        return self.name if run == 0 else f"{self.name}.{run}"

    def _start_a_new_run(self) -> None:
        """Every training checkpoint is lost: start the learner afresh under a new run tag, so that
        its new games never carry the ids of games already in the ledger."""
        run = self.state.get("run", 0) + 1
        self.log(f"[{self.name}] no training checkpoint is left in {self.trainer.checkpoint_path.parent} although "
                 f"round {self.state['round']} was reached: starting over from step 0 as run {run}")  # fmt: skip
        self.state = {"round": 0, "phase": "train", "candidate": None, "run": run,
                      "run_dir": str(learner_run_dir(".", self.name, run))}  # fmt: skip
        self.save_state()

    def _restart_from_start(self) -> None:
        """An exploiter restarts from its starting weights (or from scratch, with new seeds) after
        a promotion: a new run in its own directory, under a new run tag; its rounds go on."""
        run = self.state.get("run", 0) + 1
        spent = self.state.get("cpu_seconds_before", 0.0) + self.trainer.cpu_spent
        self.trainer.close()
        self.state.update(run=run, run_dir=str(learner_run_dir(".", self.name, run)), restart=False,
                          run_round=self.state["round"], cpu_seconds_before=spent,
                          steps_before=self.state.get("steps_before", 0) + self.trainer.step)  # fmt: skip
        self.state.pop("mix_round", None)
        self.save_state()
        self._build_trainer()
        self.trainer.open()
        self.trainer.save()  # the new run exists on disk before anything else happens
        start = self.settings.init or "scratch"
        self.log(f"[{self.name}] restarts from {start} as run {run} in {self.run_dir}")

    def _restore_round_mix(self) -> None:
        """A round resumed from the checkpoint that ended the round before it gets the mix it was
        given when it started (what it trained against the first time, so replayed games repeat)."""
        state = self.state
        if state["phase"] == "train" and state.get("mix_round") == state["round"] and "mix" in state:
            if self.trainer.step == state.get("mix_step"):
                playable, problems = self.pool.playable(state["mix"])
                for problem in problems:
                    self.log(f"[{self.name}] excluded: {problem}")
                mix = {member: state["mix"][member] for member in playable}
                if any(weight > 0 for weight in mix.values()):
                    self.trainer.collector.set_opponents(mix, self.pool.policy)

    # ------------------------------------------------------------------ training
    def _set_training_mix(self) -> None:
        started = time.perf_counter()
        view = self.refresh()
        mm = self.config.matchmaking
        promoted, problems = self.pool.playable(m for m, r in view.promotions.items() if r["promote"])
        for problem in problems:
            self.log(f"[{self.name}] excluded: {problem}")
        self._set_kept_labels()  # an external may have joined since the trainer was built
        own = [r for r in view.snapshots.values() if r["learner"] == self.name]
        latest = max(own, key=lambda r: r["step"])["member"] if own else None
        if latest is not None and self.pool.problem(latest) is not None:
            latest = None
        scores = recent_scores(view.games, self.name, mm.window, mm.horizon)
        shares = (mm.pfsp, mm.latest_self, mm.anchors)
        targets = self.gate.exploit_targets(view) if self.settings.role == "main-exploiter" else []
        if targets:  # a main exploiter trains against the main learners' latest snapshots only
            mix = {member: 1.0 for member in targets}
            self.trainer.collector.set_opponents(mix, self.pool.policy)
            self.state.update(mix=mix, mix_step=self.trainer.step, mix_rng=self.mix_rng.bit_generator.state)
            self._add_time("matchmaking", time.perf_counter() - started)
            return
        if self.settings.role == "league-exploiter":
            shares = (1.0, 0.0, 0.0)  # PFSP over the whole pool (anchors only while the pool is empty)
        externals = []  # with a share of their own, externals leave the PFSP pool
        if mm.externals > 0 and self.settings.role != "league-exploiter":
            externals = [m for m in promoted if is_external(view.snapshots[m])]
        mix = training_mix(
            pool=[m for m in promoted if m != latest and m not in externals],
            anchors=self.pool.anchors,
            latest_self=latest,
            scores=scores,
            shares=shares,
            weighting=mm.weighting,
            exponent=mm.exponent,
            max_opponents=mm.max_opponents,
            rng=self.mix_rng,
            anchor_split=mm.anchor_split,
            externals=externals,
            external_share=mm.externals,
            shortfall_floor=mm.shortfall_floor,
        )
        self.trainer.collector.set_opponents(mix, self.pool.policy)
        self.state.update(mix=mix, mix_step=self.trainer.step, mix_rng=self.mix_rng.bit_generator.state)
        self._add_time("matchmaking", time.perf_counter() - started)

    def _set_kept_labels(self) -> None:
        """The opponents whose games the trainer's second buffer keeps (train setting kept_opponents):
        the names it lists, "externals" standing for the league's external members (as of the last
        refresh of the ledger)."""
        names = kept_names(self.trainer.config.kept_opponents)
        if KEPT_EXTERNALS in names:
            external = {m for m, r in self.pool.snapshots.items() if is_external(r)}
            self.trainer.kept_labels = (names - {KEPT_EXTERNALS}) | external

    def _record_training_game(self, episode) -> None:
        trainer = self.trainer
        game_id = f"train:{self.run_tag}:{trainer.episodes}"
        self.writer.append(training_game_record(game_id, self.name, episode, trainer.config.seed, trainer.step))

    def _account_training(self, before: dict, elapsed: float) -> None:
        spent = {key: self.trainer.timing[key] - before.get(key, 0.0) for key in self.trainer.timing}
        self._add_time("play (training games)", spent["collect"])
        self._add_time("train (updates)", spent["update"])
        self._add_time("ledger", spent["hooks"])
        self._add_time("train (other)", max(0.0, elapsed - sum(spent.values())))

    # ------------------------------------------------------------------ promotion and evaluation
    def _enter_starting_model(self, path: str) -> None:
        """The model the learner starts from joins the league as a promoted member at step 0 and plays
        the anchors, so it is rated from the first minute and the learner's first candidate must
        match it."""
        view = self.refresh()
        record = self.pool.add_snapshot(path, self.name, step=0, origin="start")
        if record["member"] not in view.snapshots:
            self.timed("ledger", self.writer.append, record)
        if record["member"] not in view.promotions:
            self.timed("ledger", self.writer.append, ungated_promotion_record(record["member"], self.name))
            self.log(f"[{self.name}] its starting model joins the league as {record['member']}")
        self.refresh()
        if not self._rate_against_anchors(record["member"]):
            return  # stopped: entered again on the next start
        self.state["start"] = record["member"]
        self.save_state()

    def _enter_externals(self) -> None:
        """The league's external policies join as promoted members and play the anchors (once: any
        learner that starts first enters them; the ledger keeps the first records)."""
        view = self.refresh()
        for external in self.config.externals:
            player = load_external_opponent(external.spec, self.pool.device)
            member = external_member_id(external.name, player.sha256)
            if member not in view.snapshots:
                record = external_record(member, external.name, player, external.fixed_rating)
                self.timed("ledger", self.writer.append, record)
            if member not in view.promotions:
                self.timed(
                    "ledger", self.writer.append, ungated_promotion_record(member, external.name, "external policy")
                )
                self.log(f"[{self.name}] external policy {external.policy} joins the league as {member}")
            view = self.refresh()
            if not self._rate_against_anchors(member):
                return

    def _rate_against_anchors(self, member: str) -> bool:
        """A member that joins without a gate (a starting model, an external policy) plays each
        anchor once, so it is rated from the first minute; False when a stop came first."""
        games = even_games(self.config.evaluation.games_per_pair)
        for anchor in self.pool.anchors if games else ():
            if self.play(f"evaluation:start:{member}:{anchor}", member, anchor, games, "evaluation") is None:
                return False
        return True

    def _evaluate(self, round_number: int) -> bool:
        ev = self.config.evaluation
        if ev.pairs_per_round == 0 or ev.games_per_pair == 0:
            return True
        view = self.refresh()
        promoted, _ = self.pool.playable(m for m, r in view.promotions.items() if r["promote"])
        table = self.timed("ratings", rate_league, view, keep_history=False)
        started = time.perf_counter()
        pairs = evaluation_pairings(table, self.pool.anchors + promoted, ev.pairs_per_round)
        self._add_time("matchmaking", time.perf_counter() - started)
        for a, b in pairs:
            match = f"evaluation:{self.run_tag}:{round_number}:{a}:{b}"
            if self.play(match, a, b, even_games(ev.games_per_pair), "evaluation") is None:
                return False
        return True

    def play(self, match: str, a: str, b: str, games: int, kind: str) -> WDL | None:
        """Play a match unless the ledger has all its games; record each game; A's W/D/L from the
        ledger. None when a stop was requested before it started."""
        ids = [f"{match}:{i}" for i in range(games)]
        if not all(self.reader.has(game_id) for game_id in ids):
            if self.stop_reason:
                return None
            seed = match_seed(self.config.league.seed, match)

            def record(game) -> None:
                if not self.reader.has(f"{match}:{game.game}"):
                    self.writer.append(match_game_record(match, kind, a, b, game))

            started = time.perf_counter()
            player_a, player_b = self.pool.match_policy(a), self.pool.match_policy(b)
            play_games(player_a, player_b, games, seed=seed, n_envs=self.config.evaluation.n_envs, on_game_end=record)
            self._add_time(f"play ({kind} games)", time.perf_counter() - started)
        view = self.refresh()
        return WDL.from_outcomes(game["outcome"] for game in view.by_match.get(match, []))

    # ------------------------------------------------------------------ state and bookkeeping
    def refresh(self):
        started = time.perf_counter()
        view = self.reader.refresh()
        self.pool.update(view.snapshots)
        self._add_time("ledger", time.perf_counter() - started)
        return view

    def timed(self, what: str, function, *args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            self._add_time(what, time.perf_counter() - started)

    def _add_time(self, what: str, seconds: float) -> None:
        self.timing[what] = self.timing.get(what, 0.0) + seconds

    def _load_state(self) -> dict:
        if self.state_path.exists():
            try:
                return json.loads(self.state_path.read_text())
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.state_path} is not valid JSON ({error}); it is written atomically, "
                                 "so it was edited by hand: fix or delete it") from error  # fmt: skip
        return {"round": 0, "phase": "train", "candidate": None}

    def save_state(self) -> None:
        self.state["timing"] = self.timing
        run_step = self.trainer.step if hasattr(self, "trainer") else 0
        self.state["step"] = self.state.get("steps_before", 0) + run_step  # over all its runs
        text = json.dumps(self.state, indent=2) + "\n"
        atomic_write(self.state_path, lambda file: file.write(text.encode()))

    # ------------------------------------------------------------------ stopping
    def request_stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        if hasattr(self, "trainer"):
            self.trainer.request_stop(reason)

    def _start_deadline_timer(self):
        if self.deadline is None:
            return None
        timer = threading.Timer(max(0.0, self.deadline - time.time()), self.request_stop, args=("the time budget",))
        timer.daemon = True
        timer.start()
        return timer


@entry_point
def main(argv: list[str] | None = None) -> int:
    """``python -m league.worker --league-dir DIR --learner NAME [--deadline UNIX_TIME]``."""
    parser = argparse.ArgumentParser(description="Run one learner of a league (what a learner process runs).")
    parser.add_argument("--league-dir", required=True)
    parser.add_argument("--learner", required=True)
    parser.add_argument("--deadline", type=float, default=None, help="stop by this Unix time")
    args = parser.parse_args(argv)
    config = open_league(args.league_dir)
    LearnerWorker(args.league_dir, config, args.learner, deadline=args.deadline,
                  log=lambda line: print(line, flush=True)).run()  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
