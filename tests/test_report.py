"""The leaderboard as a reader sees it: the meta-game's Nash equilibrium, ranks with their
uncertainty, the sections (pool, candidates, learners, competition server), learning curves and
rating traces, a readable payoff matrix, and the page rendered in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser_check import find_chromium, inspect_page, screenshot
from PIL import Image
from tiny_league import tiny_league_toml

from agents.registry import make_agent, save_policy
from evaluation.metagame import nash_averaging, nash_equilibrium
from evaluation.report import SETTLED_SIGMA, plot_head_to_head, rating_traces
from league.ledger import LedgerWriter
from league.pool import Pool
from league.standings import rank_ranges, write_leaderboard

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- the meta-game
def test_nash_of_rock_paper_scissors_is_uniform_and_of_a_dominant_pool_is_its_dominant_member():
    rps = np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])  # row's score against column
    game = nash_averaging(["rock", "paper", "scissors"], rps)
    np.testing.assert_allclose(game.mixture, [1 / 3, 1 / 3, 1 / 3], atol=1e-9)
    np.testing.assert_allclose(game.payoff, 0.0, atol=1e-9)  # no member beats the mixture
    assert game.value == pytest.approx(0.0, abs=1e-9)

    # "best" beats everyone; the other three are rock-paper-scissors among themselves
    dominant = np.array([[0.5, 0.9, 0.8, 0.7], [0.1, 0.5, 1.0, 0.0], [0.2, 0.0, 0.5, 1.0], [0.3, 1.0, 0.0, 0.5]])
    game = nash_averaging(["best", "rock", "paper", "scissors"], dominant)
    assert game.support() == [("best", pytest.approx(1.0))]
    np.testing.assert_allclose(game.payoff, [0.0, -0.4, -0.3, -0.2], atol=1e-9)  # score against it, minus 1/2


def test_nash_of_a_non_square_game_and_bad_matrices():
    # matching pennies with a dominated third row: the row player mixes its first two rows evenly
    mixture, value = nash_equilibrium(np.array([[1.0, -1.0], [-1.0, 1.0], [-2.0, -2.0]]))
    np.testing.assert_allclose(mixture, [0.5, 0.5, 0.0], atol=1e-9)
    assert value == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="missing"):
        nash_equilibrium(np.array([[0.0, np.nan], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        nash_equilibrium(np.zeros((0, 3)))


# ---------------------------------------------------------------------------- ranks with uncertainty
def test_members_that_cannot_be_told_apart_share_a_rank_range_and_a_tie_group():
    # best first: two close at the top, then one far below, then a fixed anchor
    ranges, groups = rank_ranges([35.0, 34.9, 30.0, 25.0], [0.7, 0.7, 0.7, 0.0])
    assert ranges == [(1, 2), (1, 2), (3, 3), (4, 4)]
    assert groups == [1, 1, 2, 3]
    ranges, groups = rank_ranges([30.0, 29.0, 28.0], [3.0, 3.0, 3.0])  # wide intervals: nobody told apart
    assert ranges == [(1, 3)] * 3 and groups == [1, 1, 1]


# ---------------------------------------------------------------------------- a league's leaderboard
def _member(league: Path, pool: Pool, step: int, seed: int) -> dict:
    agent = make_agent("sac", overrides={"hidden": (8, 8), "device": "cpu"}, seed=seed)
    path = league / f"source-{step}.pt"
    save_policy(path, agent, step=step)
    return pool.add_snapshot(path, "a")


def _games(writer: LedgerWriter, match: str, a: str, b: str, outcomes: list[int], start: float) -> None:
    for i, outcome in enumerate(outcomes):
        writer.append(
            {
                "type": "game",
                "id": f"{match}:{i}",
                "match": match,
                "kind": "evaluation",
                "a": a,
                "b": b,
                "outcome": outcome,
                "time": start + i,
            }
        )


@pytest.fixture(scope="module")
def league(tmp_path_factory) -> Path:
    """A league whose two promoted members tie at the top, with a rejected candidate rated above
    them both, a pending one, and games on the competition server."""
    directory = tmp_path_factory.mktemp("reports") / "league"
    directory.mkdir()
    (directory / "league.toml").write_text(tiny_league_toml("a"))
    pool = Pool(directory, ["weak", "strong"], device="cpu")
    first, rejected, second, pending = (
        _member(directory, pool, step, seed) for seed, step in enumerate((100, 200, 300, 400))
    )
    t = 1_800_000_000.0
    with LedgerWriter(directory, role="test") as writer:
        for number, record in enumerate((first, rejected, second, pending)):
            writer.append({**record, "time": t + 1000 * number})
        for member, promote in ((first["member"], True), (rejected["member"], False), (second["member"], True)):
            writer.append(
                {
                    "type": "promotion",
                    "member": member,
                    "learner": "a",
                    "promote": promote,
                    "reasons": [] if promote else ["weaker than its best member against basic-strong"],
                }
            )
        for member in (first["member"], second["member"]):
            _games(writer, f"w-{member}", member, "basic-weak", [1] * 36 + [0] * 4, t)
            _games(writer, f"s-{member}", member, "basic-strong", [1] * 24 + [0] * 10 + [-1] * 6, t + 100)
        _games(writer, "h2h", first["member"], second["member"], [1, -1, 0, 0] * 10, t + 200)
        _games(writer, "r", rejected["member"], "basic-strong", [1] * 40, t + 300)
        _games(writer, "p", pending["member"], "basic-weak", [0] * 4, t + 400)
        for i, (outcome, disconnected) in enumerate(((1, False), (-1, False), (0, True))):
            writer.append(
                {
                    "type": "game",
                    "kind": "server",
                    "id": f"server:g{i}",
                    "match": f"server:{first['member']}",
                    "a": first["member"],
                    "b": "TeamX",
                    "outcome": outcome,
                    "rounds_won": 3 if outcome > 0 else 1,
                    "rounds_lost": 3 if outcome < 0 else 1,
                    "rounds_drawn": 0,
                    "disconnected": disconnected,
                    "server_game": f"g{i}",
                    "time": t + 500 + i,
                }
            )
    return directory


def test_the_pool_ranks_its_tie_as_one_and_candidates_stay_outside_it(league, tmp_path):
    standings, paths = write_leaderboard(league)
    frame = standings.frame.set_index("member")
    pool = standings.frame[standings.frame["section"] == "pool"]
    promoted = pool[pool["status"] == "promoted"]
    assert len(promoted) == 2 and set(pool["status"]) == {"promoted", "anchor"}
    assert list(promoted["rank"]) == [1, 2]  # the rejected member is rated higher but not ranked among them
    assert list(promoted["rank_best"]) == [1, 1] and list(promoted["rank_worst"]) == [2, 2]
    assert promoted["tie_group"].nunique() == 1
    rejected = frame[frame["status"] == "rejected"]
    assert len(rejected) == 1 and rejected["conservative"].iloc[0] > promoted["conservative"].max()
    assert rejected["section"].iloc[0] == "candidates" and pd.isna(rejected["rank"].iloc[0])
    assert "weaker than its best member" in rejected["reason"].iloc[0]
    assert (frame[frame["status"] == "candidate"]["section"] == "candidates").all()
    sections = list(standings.frame["section"])
    assert sections == sorted(sections, key=lambda s: s != "pool")  # the pool first, then the candidates
    # anchors are fixed: no sigma to show or to rank by
    anchors = frame.loc[["basic-weak", "basic-strong"]]
    assert (anchors["sigma"] == 0).all() and (anchors["conservative"] == anchors["mu"]).all()

    html = (league / "leaderboard.html").read_text()
    markdown = (league / "leaderboard.md").read_text()
    assert "cannot be told apart at 95%" in html and "=1" in html
    for text in (html, markdown):
        # named by its directory, with the parent's name in front of a directory called just "league"
        assert "League league" not in text and f"Leaderboard of the league {league.parent.name}/league" in text
        assert "Written " in text and "What the columns mean" in markdown
        assert "mu-3sigma" in text and "the conservative rating the pool is ranked by" in text
        assert "Nash mixture of the pool" in text
    # the candidates' table comes after the pool's, the learners' after both
    assert html.index('id="pool"') < html.index('id="candidates"') < html.index('id="learners"')
    assert html.index(promoted["member"].iloc[-1]) < html.index(rejected.index[0])
    csv = (league / "leaderboard.csv").read_text()
    assert ",100," in csv and "100.0" not in csv  # integer steps


def test_server_games_are_shown_apart_and_never_rated(league):
    standings, _ = write_leaderboard(league)
    assert "TeamX" not in standings.table.ratings and "TeamX" not in set(standings.frame["member"])
    server = standings.server.set_index("member")
    assert len(server) == 1
    member = server.index[0]
    row = server.loc[member]
    assert (row.games, row.wins, row.draws, row.losses, row.disconnects) == (3, 1, 1, 1, 1)
    assert (row.rounds_won, row.rounds_lost, row.rounds_drawn) == (5, 5, 0)
    games = standings.frame.set_index("member")["games"]
    assert games.loc[member] == 80 + 40  # the anchors and the head to head; the server's 3 are apart
    html = (league / "leaderboard.html").read_text()
    assert 'id="server"' in html and "1/1/1" in html and member in html
    assert "Games on the competition server" in (league / "leaderboard.md").read_text()


def test_a_league_without_server_games_has_no_server_section(tmp_path):
    shutil.copytree(ROOT / "tests" / "data" / "made-before" / "league", tmp_path / "league")
    standings, paths = write_leaderboard(tmp_path / "league")  # a ledger written before these reports
    assert standings.server.empty and 'id="server"' not in (tmp_path / "league" / "leaderboard.html").read_text()
    assert all(p.stat().st_size > 0 for p in paths)


def test_each_learner_has_a_curve_by_step_and_where_it_stands(league):
    standings, _ = write_leaderboard(league)
    curve = standings.curves[standings.curves["learner"] == "a"]
    assert list(curve["step"]) == [100, 200, 300, 400]
    assert curve.set_index("step").loc[100, "win_vs_weak"] == pytest.approx(0.9)
    assert curve.set_index("step").loc[200, "win_vs_strong"] == pytest.approx(1.0)
    learners = standings.learners.set_index("learner")
    assert learners.loc["a", "members"] == 4 and learners.loc["a", "promoted"] == 2
    assert learners.loc["a", "phase"] == "not started"  # no state file: the league never ran it


def test_a_rating_trace_starts_settled_so_a_new_member_draws_no_spike():
    history = [(0.0, "old", 30.0, 0.8)]
    # the new member's first games: a fresh rating (sigma 8) swings up to 38 before it settles near 28
    history += [
        (10.0 * i, "new", mu, sigma)
        for i, (mu, sigma) in enumerate(
            [(38.0, 6.0), (35.0, 4.0), (31.0, 2.5), (29.0, 1.5), (28.5, 0.9), (28.2, 0.8)], 1
        )
    ]
    history += [(3600.0, "old", 30.1, 0.8), (3600.0, "new", 28.0, 0.8)]
    traces = rating_traces(history, ["old", "new"])
    new = traces["new"]
    assert new[0][1] == pytest.approx(28.5 - 3 * 0.9)  # its first state with sigma <= SETTLED_SIGMA
    assert max(value for _, value in new) < 26.0 and SETTLED_SIGMA <= 1.0
    assert traces["old"][-1] == (pytest.approx(1.0), pytest.approx(30.1 - 2.4))


def test_a_twenty_member_payoff_matrix_fits_1400_px_with_text_of_10_px(tmp_path):
    members = [f"sac-{k * 50000}-{k:08x}" for k in range(20)]
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(rng.uniform(0, 1, (20, 20)), index=members, columns=members)
    games = pd.DataFrame(rng.integers(10, 400, (20, 20)), index=members, columns=members)
    text_px = plot_head_to_head(scores, games, tmp_path / "h2h.png")
    width, height = Image.open(tmp_path / "h2h.png").size
    assert text_px >= 10 and width <= 1360 and height <= 1400


# ---------------------------------------------------------------------------- in a real browser
def test_the_page_in_headless_chromium_has_its_sections_loads_its_images_and_clips_no_text(league):
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium-headless-shell; .ci/run installs it)")
    write_leaderboard(league)
    seen = inspect_page(league / "leaderboard.html", width=1400, browser=browser)
    assert seen["sections"] == ["pool", "candidates", "learners", "server", "head-to-head", "ratings", "notes"]
    assert {image["src"] for image in seen["images"]} == {"learning_curves.png", "head_to_head.png", "ratings.png"}
    assert all(image["loaded"] for image in seen["images"]), seen["images"]
    # shown at their own size, so the pictures' 12 px text is not shrunk below 10 px
    assert all(image["shown"] >= 0.8 * image["natural"] for image in seen["images"]), seen["images"]
    assert seen["clipped"] == [] and seen["too_wide"] == [], (seen["clipped"], seen["too_wide"])
    assert seen["page_width"] <= seen["window_width"]
    shot = screenshot(league / "leaderboard.html", league / "shot.png", width=1400, browser=browser)
    assert Image.open(shot).size[0] == 1400
