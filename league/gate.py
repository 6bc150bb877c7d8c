"""A learner's promotion gate: whom its candidate plays, the decision its role's rule gives, and
what is written (the model card, the ledger record, one line).

The rules themselves are ``league.promotion`` (whom a candidate faces: ``promotion_gate``; the
decision: ``decide``, ``decide_exploit``); this module plays the gate's matches through the
learner's worker, which records every game in the ledger and reads a match already there instead
of playing it again, so a learner killed during its gate resumes the same gate.
"""

from __future__ import annotations

import numpy as np

from evaluation.model_card import model_card
from evaluation.stats import WDL
from league.layout import member_card_file
from league.ledger import promotion_record
from league.pool import is_external
from league.promotion import Incumbent, decide, decide_exploit, even_games, promotion_gate
from league.standings import rate_league
from plumbing.files import atomic_write


class Gate:
    """The promotion gate of one learner (``worker``: its ``league.worker.LearnerWorker``)."""

    def __init__(self, worker):
        self.worker = worker

    def judge(self, candidate: str) -> bool:
        w = self.worker
        view = w.refresh()
        if candidate in view.promotions:
            return True
        if w.settings.role != "main":
            return self._judge_exploiter(candidate, view)
        promo = w.config.promotion
        games_against, incumbent = self._choose(candidate, view)
        anchors = self.fixed_opponents(view)
        gate = list(games_against)
        results = self._play_gate(candidate, games_against)
        if results is None:
            return False
        best = None
        if incumbent is not None:
            best = self._incumbent_games(candidate, incumbent, games_against)
            if best is None:
                return False
        decision = decide(results, anchors, promo.min_games, promo.threshold, promo.confidence, incumbent=best,
                          head_to_head=promo.head_to_head, tolerance=promo.anchor_tolerance)  # fmt: skip
        self._conclude(candidate, results, decision, gate, incumbent=best)
        return True

    def exploit_targets(self, view) -> list[str]:
        """The main learners' latest playable snapshots: what a main exploiter trains against."""
        w = self.worker
        mains = {learner.name for learner in w.config.learners if learner.role == "main"}
        latest: dict[str, tuple[int, str]] = {}
        for member, record in view.snapshots.items():
            if record["learner"] in mains and w.pool.problem(member) is None:
                latest[record["learner"]] = max(latest.get(record["learner"], (-1, "")), (record["step"], member))
        return sorted(member for _, member in latest.values())

    def _judge_exploiter(self, candidate: str, view) -> bool:
        """A main exploiter's candidate plays its targets; promoted, the exploiter restarts. A league
        exploiter's faces the usual gate without the never-weaker rule and restarts by chance."""
        w = self.worker
        promo = w.config.promotion
        stored = w.state.get("gate")
        if stored is not None and stored.get("candidate") == candidate:
            games_against = {m: g for m, g in stored["games"].items() if w.pool.problem(m) is None}
        elif w.settings.role == "main-exploiter":
            games = even_games(promo.head_to_head_games)
            games_against = {member: games for member in self.exploit_targets(view)}
        else:
            games_against = self._standard(view, exclude=(candidate,))
        w.state["gate"] = {"candidate": candidate, "games": games_against, "incumbent": None}
        w.save_state()
        results = self._play_gate(candidate, games_against)
        if results is None:
            return False
        if w.settings.role == "main-exploiter":
            decision = decide_exploit(results, even_games(promo.head_to_head_games), promo.exploiter_threshold,
                                      promo.confidence)  # fmt: skip
            restart = decision.promote
        else:
            decision = decide(results, w.pool.anchors, promo.min_games, promo.threshold, promo.confidence)
            coin = np.random.default_rng([w.config.league.seed, w.settings.seed, 31, w.state["round"]])
            restart = decision.promote and coin.random() < promo.league_exploiter_reset
        self._conclude(candidate, results, decision, list(games_against), restart=restart)
        return True

    def _conclude(self, candidate: str, results: dict[str, WDL], decision, gate: list[str],
                  incumbent: Incumbent | None = None, restart: bool | None = None) -> None:  # fmt: skip
        """Write a gate's decision: the model card first (once the decision is in the ledger the
        round is done), an exploiter's restart, the ledger record, and one line."""
        w = self.worker
        if decision.promote:
            w.timed("ratings", self._write_model_card, candidate, results, decision)
        anchor_scores = {a: results[a].score for a in w.pool.anchors if a in results}
        record = promotion_record(candidate, w.name, decision, anchor_scores, gate, incumbent=incumbent)
        if restart is not None:
            w.state["restart"] = restart  # acted on when the next round starts
            w.save_state()
        w.timed("ledger", w.writer.append, record)
        role = "" if w.settings.role == "main" else f" ({w.settings.role})"
        duel = f"; {incumbent.head_to_head.score:.3f} against {incumbent.member}" if incumbent is not None else ""
        verdict = "PROMOTED" if decision.promote else "not promoted: " + "; ".join(decision.reasons)
        w.log(f"[{w.name}] {candidate}{role}: score {decision.score:.3f} (lower bound {decision.lower:.3f}) "
              f"over {decision.games} games against {len(gate)} members{duel}; {verdict}"
              + ("; restarts" if restart else ""))  # fmt: skip

    def _incumbent_games(self, candidate: str, incumbent: str, games_against: dict[str, int]) -> Incumbent | None:
        """The candidate's duel with the learner's best promoted member, and that member's games
        against the same gate (from the ledger where it already played them). None on a stop."""
        w = self.worker
        duel = w.play(f"promotion:{candidate}:{incumbent}", candidate, incumbent,
                      even_games(w.config.promotion.head_to_head_games), "promotion")  # fmt: skip
        if duel is None:
            return None
        results = self._play_gate(incumbent, games_against)
        return None if results is None else Incumbent(incumbent, duel, results)

    def _play_gate(self, member: str, games_against: dict[str, int]) -> dict[str, WDL] | None:
        """``member``'s promotion games against each gate opponent (from the ledger where already
        played); None when a stop came first."""
        w = self.worker
        results: dict[str, WDL] = {}
        for opponent, games in games_against.items():
            record = w.play(f"promotion:{member}:{opponent}", member, opponent, games, "promotion")
            if record is None:
                return None
            results[opponent] = record
        return results

    def _choose(self, candidate: str, view) -> tuple[dict[str, int], str | None]:
        """Whom the candidate plays at the gate and the learner's best promoted member it must
        match, chosen once and kept in the learner's state: a restarted promotion plays the same
        gate, though the ratings moved with its first games."""
        w = self.worker
        stored = w.state.get("gate")
        if stored is not None and stored.get("candidate") == candidate:
            playable, problems = w.pool.playable(stored["games"])
            for problem in problems:
                w.log(f"[{w.name}] excluded from the gate: {problem}")
            incumbent = stored.get("incumbent")
            if incumbent is not None and w.pool.problem(incumbent) is not None:
                w.log(f"[{w.name}] excluded from the gate: {w.pool.problem(incumbent)}")
                incumbent = None
            return {member: stored["games"][member] for member in playable}, incumbent
        table = w.timed("ratings", rate_league, view, keep_history=False)  # once for both choices
        incumbent = self.best_promoted(view, table)
        games = self._standard(view, exclude=(candidate, incumbent), table=table)
        w.state["gate"] = {"candidate": candidate, "games": games, "incumbent": incumbent}
        w.save_state()
        return games, incumbent

    def _standard(self, view, exclude: tuple, table=None) -> dict[str, int]:
        """The anchors and the pool's top-rated promoted members (none of ``exclude``), with the
        games against each (``league.promotion.promotion_gate``); ``table``: the ratings when
        already computed from ``view``."""
        w = self.worker
        promo = w.config.promotion
        if table is None:
            table = w.timed("ratings", rate_league, view, keep_history=False)
        promoted, _ = w.pool.playable(m for m, r in view.promotions.items() if r["promote"] and m not in exclude)
        fixed = [m for m in self.fixed_opponents(view) if m in w.pool.anchors or m in promoted]
        promoted = [m for m in promoted if m not in fixed]
        rating = lambda m: table.conservative(m) if m in table.ratings else None  # noqa: E731
        return promotion_gate(fixed, promoted, rating, promo.opponents, promo.min_games,
                              promo.anchor_games)  # fmt: skip

    def fixed_opponents(self, view) -> list[str]:
        """Whom every candidate faces and is compared on one by one: the anchors, and with
        ``[promotion] externals`` the league's external policies."""
        w = self.worker
        fixed = list(w.pool.anchors)
        if w.config.promotion.externals:
            fixed += sorted(m for m, r in view.snapshots.items() if is_external(r))
        return fixed

    def best_promoted(self, view, table=None) -> str | None:
        """The learner's playable promoted member with the highest rating (mu - 3 sigma; the latest
        among equals; its starting model before any promotion). Not simply the latest: a line in
        which each candidate need only match the one before can drift down by a noisy step each
        time, as the champion league's did against shabin_sac from 1.5M steps on."""
        w = self.worker
        mine = [
            (view.snapshots[m]["step"], m)
            for m, r in view.promotions.items()
            if r["promote"] and r["learner"] == w.name and m in view.snapshots
        ]
        playable = [item for item in mine if w.pool.problem(item[1]) is None]
        if not playable:
            return None
        if table is None:
            table = w.timed("ratings", rate_league, view, keep_history=False)
        rating = lambda m: table.conservative(m) if m in table.ratings else float("-inf")  # noqa: E731
        return max(playable, key=lambda item: (rating(item[1]), item[0]))[1]

    def _write_model_card(self, candidate: str, results: dict[str, WDL], decision) -> None:
        """members/<candidate>.md: algorithm, config, lineage, steps, rating and record at promotion."""
        w = self.worker
        view = w.refresh()
        table = rate_league(view, keep_history=False)
        rating = table.ratings[candidate]
        values = (rating.mu, rating.sigma, table.conservative(candidate))
        league = w.league_dir.resolve().name
        text = model_card(candidate, view.snapshots[candidate], league, values, len(view.rated_games()), decision,
                          results)  # fmt: skip
        atomic_write(member_card_file(w.league_dir, candidate), lambda file: file.write(text.encode()))
