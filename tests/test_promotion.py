"""The promotion gate never lets a learner's line go backwards: a candidate must match its
learner's best promoted member (or starting model) head to head, against the anchors and against
the pool's top."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_league import tiny_league_toml

from agents.registry import make_agent, save_policy
from evaluation.stats import WDL
from league.config import open_league
from league.ledger import LedgerReader, LedgerWriter, read_ledger, ungated_promotion_record
from league.pool import Pool
from league.promotion import Incumbent, decide
from league.worker import LearnerWorker

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ["basic-weak", "basic-strong"]


def _results(weak: WDL, strong: WDL, top: WDL) -> dict[str, WDL]:
    return {"basic-weak": weak, "basic-strong": strong, "sac-800-aaaa": top}


def _decide(candidate: dict[str, WDL], duel: WDL, incumbent: dict[str, WDL]):
    return decide(candidate, ANCHORS, min_games=20, threshold=0.3, incumbent=Incumbent("sac-400-bbbb", duel, incumbent))


def test_a_candidate_at_least_as_strong_as_the_best_is_promoted():
    incumbent = _results(WDL(18, 2, 0), WDL(14, 4, 2), WDL(10, 0, 10))
    decision = _decide(_results(WDL(19, 1, 0), WDL(15, 3, 2), WDL(11, 2, 7)), WDL(12, 4, 4), incumbent)
    assert decision.promote, decision.reasons


def test_a_candidate_that_loses_to_the_best_or_falls_behind_it_is_refused():
    incumbent = _results(WDL(18, 2, 0), WDL(14, 4, 2), WDL(10, 0, 10))
    strong_enough = _results(WDL(19, 1, 0), WDL(15, 3, 2), WDL(11, 2, 7))
    lost_duel = _decide(strong_enough, WDL(6, 4, 10), incumbent)
    assert not lost_duel.promote and lost_duel.reasons == [
        "head to head against sac-400-bbbb: score 0.400 over 20 games, 0.5 needed"
    ]
    worse_at_strong = _decide(_results(WDL(19, 1, 0), WDL(2, 4, 14), WDL(11, 2, 7)), WDL(12, 4, 4), incumbent)
    assert not worse_at_strong.promote
    assert [r.split(":")[0] for r in worse_at_strong.reasons] == ["weaker than sac-400-bbbb against basic-strong"]
    worse_at_top = _decide(_results(WDL(19, 1, 0), WDL(15, 3, 2), WDL(1, 2, 17)), WDL(12, 4, 4), incumbent)
    assert [r.split(":")[0] for r in worse_at_top.reasons] == ["weaker than sac-400-bbbb against sac-800-aaaa"]
    # without an incumbent only the pool bound counts, as before
    assert decide(strong_enough, ANCHORS, min_games=20, threshold=0.3).promote


def test_a_collapse_against_one_strong_member_is_not_averaged_away_by_the_others():
    """The champion league's line lost shabin_sac (0.8 -> 0.14) while its score against the pool's
    top together held: each top member is now compared on its own."""
    top = ["shabin-1", "sac-a", "sac-b", "sac-c", "sac-d"]
    incumbent = {"basic-weak": WDL(36, 2, 2), "basic-strong": WDL(30, 6, 4),
                 "shabin-1": WDL(11, 1, 2), **{m: WDL(6, 2, 6) for m in top[1:]}}  # fmt: skip
    collapsed = {**incumbent, "shabin-1": WDL(2, 0, 12), **{m: WDL(10, 2, 2) for m in top[1:]}}

    def together(results):
        return sum((results[m] for m in top), WDL(0, 0, 0)).score

    assert together(collapsed) > together(incumbent)  # against the pool's top together it even looks better
    decision = decide(collapsed, ANCHORS, min_games=20, threshold=0.3,
                      incumbent=Incumbent("sac-best", WDL(10, 0, 10), incumbent))  # fmt: skip
    assert [r.split(":")[0] for r in decision.reasons] == ["weaker than sac-best against shabin-1"]
    level = {**incumbent, "shabin-1": WDL(9, 1, 4)}  # a little behind, within the noise of 14 games
    assert decide(level, ANCHORS, min_games=20, threshold=0.3,
                  incumbent=Incumbent("sac-best", WDL(10, 0, 10), incumbent)).promote  # fmt: skip


def test_a_weaker_candidate_is_refused_against_the_starting_model(tmp_path):
    """A learner starts from the shipped SAC; an untrained snapshot of it must not be promoted."""
    league = tmp_path / "league"
    toml = (
        tiny_league_toml("a")
        .replace("head_to_head = 0.0", "head_to_head = 0.5")
        .replace('device = "cpu"', 'device = "cpu"\ninit = "models/sac-hockey/policy.pt"')
        .replace("set = {batch_size = 16, hidden = [16, 16]}\n", "")
    )
    config_file = tmp_path / "league.toml"
    config_file.write_text(toml)
    config = open_league(league, config_file, create=True)
    worker = LearnerWorker(league, config, "a", log=lambda line: None)
    worker.state = worker._load_state()
    worker.writer, worker.reader = LedgerWriter(league, role="a"), LedgerReader(league)
    worker.pool = Pool(league, config.league.anchors, device="cpu")
    worker.refresh()
    worker._enter_starting_model(str(ROOT / "models" / "sac-hockey" / "policy.pt"))
    start = worker.state["start"]
    assert worker.gate.best_promoted(worker.refresh()) == start

    untrained = make_agent("sac")  # the shipped model's architecture, untrained
    path = tmp_path / "candidate.pt"
    save_policy(path, untrained, step=300)
    record = worker.pool.add_snapshot(path, "a")
    worker.writer.append(record)
    assert worker.gate.judge(record["member"])
    worker.writer.close()

    view = read_ledger(league)
    decision = view.promotions[record["member"]]
    assert decision["promote"] is False and decision["incumbent"] == start and decision["head_to_head"] < 0.5
    assert any(reason.startswith(f"head to head against {start}") for reason in decision["reasons"])
    assert len(view.by_match[f"promotion:{record['member']}:{start}"]) == 4
    rated = {name for game in view.rated_games() for name in (game["a"], game["b"])}
    assert start in rated and view.snapshots[start]["origin"] == "start"


def test_an_external_policy_is_a_rated_member_and_a_training_opponent_and_a_changed_one_is_excluded(tmp_path):
    from test_external import _player

    source = _player(tmp_path / "player")
    league = tmp_path / "league"
    toml = tiny_league_toml("a").replace("round_steps = 300", "round_steps = 400")
    toml = toml.replace("seed = 0\n", "seed = 0\nsteps = 800\n")  # two rounds of shooting drills: short games
    toml = toml.replace("log_every = 100", 'log_every = 100, mode = "train_shooting"')
    toml = toml.replace(
        "[league]", "[matchmaking]\npfsp = 0.8\nlatest_self = 0.0\nanchors = 0.2\nexternals = 0.3\n[league]"
    )
    toml += f'\n[[externals]]\nname = "forward"\nplayer = "py:{source}:load"\n'  # the key's earlier name reads too
    config_file = tmp_path / "league.toml"
    config_file.write_text(toml)
    config = open_league(league, config_file, create=True)
    assert [e.name for e in config.externals] == ["forward"]
    worker = LearnerWorker(league, config, "a", log=lambda line: None)
    worker.run()

    view = read_ledger(league)
    member = next(m for m, r in view.snapshots.items() if r.get("origin") == "external")
    mix = worker.state["mix"]  # its own share, outside PFSP: 0.3 against the anchors' 0.2
    assert mix[member] == pytest.approx(1.5 * sum(mix[a] for a in ("basic-weak", "basic-strong")))
    assert member.startswith("forward-") and view.snapshots[member]["config"]["files"] == ["player.py", "speed.txt"]
    assert view.promotions[member]["promote"]
    rated = {name for game in view.rated_games() for name in (game["a"], game["b"])}
    assert member in rated
    assert any(g["kind"] == "train" and g["b"] == member for g in view.games)  # the learner trained against it

    (tmp_path / "player" / "speed.txt").write_text("-1.0")  # the player's files change: not the same member
    pool = Pool(league, config.league.anchors, device="cpu")
    pool.update(view.snapshots)
    assert "changed since the ledger recorded them" in pool.problem(member)


def test_bad_externals_in_a_league_config_are_refused_in_one_line(tmp_path):
    import pytest

    from league.config import parse_config

    base = tiny_league_toml("a")
    cases = {
        '[[externals]]\nname = "x"\npolicy = "py:missing.py:load"\n': "does not exist",
        '[[externals]]\nname = "a"\npolicy = "py:../shared/external/shabin_sac.py:load"\n': "unique",
        '[[externals]]\nname = "x y"\npolicy = "py:../shared/external/shabin_sac.py:load"\n': "letters, digits",
        '[[externals]]\nname = "x"\n': "policy",
        '[[externals]]\nname = "x"\npolicy = "shabin.py"\n': "expected py:PATH.py:FUNCTION",
    }
    for extra, message in cases.items():
        with pytest.raises(ValueError, match=message):
            parse_config(base + extra)


def _worker_with_members(tmp_path, toml: str, outcomes: tuple[int, int], before=None):
    """A learner "a" of a league from ``toml`` whose ledger holds two promoted members (steps 100 and
    200), each with 30 games against the strong bot ending as ``outcomes`` says (1 won, -1 lost);
    ``before(writer)`` writes first. Returns the worker and the two members."""
    league = tmp_path / "league"
    (tmp_path / "league.toml").write_text(toml)
    config = open_league(league, tmp_path / "league.toml", create=True)
    worker = LearnerWorker(league, config, "a", log=lambda line: None)
    worker.state = worker._load_state()
    worker.reader, worker.pool = LedgerReader(league), Pool(league, config.league.anchors, device="cpu")
    members = []
    with LedgerWriter(league, role="test") as writer:
        if before is not None:
            before(writer)
        for step, seed in ((100, 1), (200, 2)):
            path = tmp_path / f"p{step}.pt"
            save_policy(path, make_agent("sac", overrides={"hidden": [8, 8], "device": "cpu"}, seed=seed), step=step)
            record = worker.pool.add_snapshot(path, "a")
            writer.append(record)
            writer.append(ungated_promotion_record(record["member"], "a", "a test"))
            members.append(record["member"])
        for number in range(30):
            for member, outcome in zip(members, outcomes):
                writer.append({"type": "game", "id": f"e:{member}:{number}", "match": f"e:{member}",
                               "kind": "evaluation", "a": member, "b": "basic-strong", "outcome": outcome,
                               "time": float(number)})  # fmt: skip
    return worker, members


def test_the_incumbent_is_the_learners_best_rated_member_not_its_latest(tmp_path):
    # the earlier member beats the strong bot, the later one loses to it
    worker, members = _worker_with_members(tmp_path, tiny_league_toml("a"), outcomes=(1, -1))
    assert worker.gate.best_promoted(worker.refresh()) == members[0]


@pytest.mark.parametrize("externals", [False, True])
def test_with_externals_on_the_gate_faces_every_external_and_judges_the_candidate_against_it(externals, tmp_path):
    from test_external import _player

    from agents.external import load_external
    from league.ledger import external_record
    from league.pool import external_member_id

    source = _player(tmp_path / "player")
    toml = tiny_league_toml("a").replace("opponents = 2", f"opponents = 1\nexternals = {str(externals).lower()}")
    toml += f'\n[[externals]]\nname = "outsider"\npolicy = "py:{source}:load"\n'
    player = load_external(f"py:{source}:load")
    outsider = external_member_id("outsider", player.sha256)

    def enter_outsider(writer):
        writer.append(external_record(outsider, "outsider", player))
        writer.append(ungated_promotion_record(outsider, "outsider", "external policy"))

    # both members beat the strong bot, so both outrank the unrated outsider
    worker, members = _worker_with_members(tmp_path, toml, outcomes=(1, 1), before=enter_outsider)
    assert worker.config.promotion.externals is externals
    view = worker.refresh()
    worker.pool.update(view.snapshots)

    gate = worker.gate._standard(view, exclude=(members[1],))
    assert (outsider in gate) is externals and members[0] in gate  # the one top-rated member besides
    fixed = worker.gate.fixed_opponents(view)
    assert set(fixed) == set(ANCHORS) | ({outsider} if externals else set())
    if externals:
        assert gate[outsider] == gate["basic-strong"] == 4  # anchor_games
        # a candidate as good as the incumbent everywhere but against the outsider is refused there
        even, lost, won = WDL(10, 0, 10), WDL(0, 0, 20), WDL(20, 0, 0)
        mine = {"basic-weak": even, "basic-strong": even, members[0]: even, outsider: lost}
        theirs = {**mine, outsider: won}
        decision = decide(mine, fixed, min_games=20, threshold=0.1,
                          incumbent=Incumbent(members[1], even, theirs))  # fmt: skip
        assert not decision.promote and any(outsider in reason for reason in decision.reasons), decision.reasons
