"""Leaderboard reports: the standings as Markdown, CSV and HTML, with three pictures.

Pure output: the caller supplies a ``Report`` (the rows of the pool and the candidates, the
learners, the rating history, the head-to-head scores, the meta-game); this module only formats
and draws them (pandas, matplotlib with the non-interactive Agg backend) and writes every file
atomically. The HTML page is made to be read without this code at hand: a headline says who is
best, by how much and how sure; every column is explained under its table (and on hover); the
pictures are drawn at the size they are shown, so their text stays at least 10 px high on a
1400 px wide screen.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from plumbing.files import atomic_write

FIGURE_DPI = 100  # pictures are shown at their own size: a point is 100/72 px
FONT_PT = 9.0  # 12.5 px at FIGURE_DPI, above the 10 px a screen needs
MAX_FIGURE_PX = 1300  # fits a 1400 px wide window beside the page's margins
SETTLED_SIGMA = 1.0  # a rating trace starts once its sigma is below this (a fresh rating swings by several points)
TRUESKILL_BETA = 25 / 6  # the environment's beta (evaluation.ratings.make_env), for the legend's rule of thumb

# Every column shown, with what it means; the same words go under the tables and into the headers' tooltips.
LEGEND = {
    "rank": "position in the pool by mu-3sigma (the candidates are not ranked)",
    "ranks (95%)": "the ranks the member's rating allows at 95%: two members are told apart when their mu differ by "
    "more than 1.96 standard errors of the difference, sqrt(sigma_a^2 + sigma_b^2)",
    "tie": "tie group: members of a group (rows of one shade) cannot be told apart at 95% from the group's first "
    "member; '=' marks a group of more than one",
    "member": "the member's id: learner-step-hash for a learner's snapshot",
    "origin": "how it entered the league: anchor (a scripted BasicOpponent with a fixed rating), start (a learner's "
    "starting model), external (a player written with other code) or snapshot (a learner's frozen policy), after "
    "its learning algorithm",
    "status": "anchor or promoted: in the pool; rejected: refused by the promotion gate (reason given); candidate: "
    "awaiting the gate; excluded: its file is missing or changed",
    "algorithm": "the learning algorithm (or the anchor's name)",
    "step": "the learner's training step when the snapshot was frozen",
    "mu [95%]": "TrueSkill's estimate of playing strength with its 95% interval mu +- 1.96 sigma. Scale: a new member "
    "starts at 25 +- 8.3; basic-strong is fixed at 25 and basic-weak at 23; a lead of 4 points means about 3 wins "
    "in 4 decided games (draws aside)",
    "sigma": "the uncertainty of mu (anchors: fixed, none)",
    "mu-3sigma": "the conservative rating the pool is ranked by: the member is at least this strong with about "
    "99.9% confidence",
    "Nash weight": "the member's weight in the pool's Nash mixture (blank: not in its support)",
    "Nash score": "expected score ((wins + draws/2) / games) against the Nash mixture: 0.50 for the members in its "
    "support, less for those the mixture beats",
    "games": "rated games (promotion and evaluation games between frozen members)",
    "W/D/L": "rated wins, draws and losses",
    "win vs weak [95%]": "share of games won against basic-weak, with its 95% Wilson interval and the games played",
    "win vs strong [95%]": "share of games won against basic-strong, with its 95% Wilson interval and the games played",
    "at pool rank": "where the candidate's mu-3sigma would place it in the pool",
    "reason": "why the promotion gate refused it (or why it is excluded)",
}
LEARNER_LEGEND = {
    "learner": "the learner's name in league.toml",
    "algorithm": "its learning algorithm",
    "role": "main, main-exploiter or league-exploiter",
    "step": "its training step now",
    "round": "its league round (train, then promote a snapshot, then evaluate)",
    "phase": "what it is doing now: train, promote (its candidate at the gate) or evaluate",
    "candidate": "the snapshot at the gate now",
    "members": "its snapshots in the league (promoted: in the pool)",
    "best member": "its best member in the pool, with mu-3sigma",
}
SERVER_LEGEND = {
    "member": "the member that played on the competition server",
    "opponents": "distinct server opponents it met",
    "games": "games played there (never rated: the server's players are not members)",
    "W/D/L": "games won, drawn and lost",
    "score": "(wins + draws/2) / games",
    "rounds won/lost/drawn": "rounds of those games won, lost and drawn",
    "disconnects": "games that ended with a lost connection",
}


@dataclass
class Report:
    """What a leaderboard shows (built by ``league.standings``).

    Attributes:
        title: the page's title (names the league).
        frame: one row per member (``league.standings`` columns): the pool first by rank, then the candidates.
        history: (time, member, mu, sigma) after each rated game.
        head_to_head: (scores, games) square frames of the pool's top members, by rank.
        notes: lines printed under the tables.
        metagame: the pool's ``evaluation.metagame.MetaGame``, or None.
        metagame_filled: (pairs without games, pairs in all) of the meta-game's matrix.
        learners: one row per learner (``league.standings.learner_rows``).
        curves: one row per learner's member (``league.standings.learning_curves``).
        server: one row per member that played the competition server; empty if none did.
        written: when the report was written (seconds since the epoch).
        last_game: the time of the ledger's latest game, or None.
    """

    title: str
    frame: pd.DataFrame
    history: list[tuple[float, str, float, float]] = field(default_factory=list)
    head_to_head: tuple[pd.DataFrame, pd.DataFrame] = field(default_factory=lambda: (pd.DataFrame(), pd.DataFrame()))
    notes: list[str] = field(default_factory=list)
    metagame: object | None = None
    metagame_filled: tuple[int, int] = (0, 0)
    learners: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    server: pd.DataFrame = field(default_factory=pd.DataFrame)
    written: float = field(default_factory=time.time)
    last_game: float | None = None


INTEGER_COLUMNS = ("step", "rank", "rank_best", "rank_worst", "tie_group")


def leaderboard_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows (dicts with the fields of ``league.standings``) as the leaderboard's data frame; steps and
    ranks are integers (blank where a member has none)."""
    frame = pd.DataFrame(rows)
    for column in INTEGER_COLUMNS:
        if column in frame:
            frame[column] = pd.array([None if pd.isna(v) else int(v) for v in frame[column]], dtype="Int64")
    return frame


# ---------------------------------------------------------------------------- cells
def _rate_cell(rate: float, low: float, high: float, games: int) -> str:
    if not games:
        return "-"
    return f"{rate:.0%} [{low * 100:.0f}-{high * 100:.0f}] n={games}"


def _number(value, spec: str = "{:.2f}") -> str:
    return "" if value is None or pd.isna(value) else spec.format(value)


def _step(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{int(value):,}"


def _stamp(seconds: float | None) -> str:
    return "-" if seconds is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def _column(frame: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    return frame[name] if name in frame else pd.Series([default] * len(frame), index=frame.index)


def _rating_cells(frame: pd.DataFrame) -> dict[str, list[str]]:
    fixed = _column(frame, "origin", "").eq("anchor")
    return {
        "mu [95%]": [
            f"{mu:.2f} (fixed)" if f else f"{mu:.2f} [{lo:.2f}, {hi:.2f}]"
            for mu, lo, hi, f in zip(frame["mu"], _column(frame, "mu_low"), _column(frame, "mu_high"), fixed)
        ],
        "sigma": ["fixed" if f else f"{s:.2f}" for s, f in zip(frame["sigma"], fixed)],
        "mu-3sigma": [f"{c:.2f}" for c in frame["conservative"]],
    }


def _wdl_cells(frame: pd.DataFrame) -> dict[str, list]:
    cells: dict[str, list] = {
        "games": list(frame["games"]),
        "W/D/L": [f"{w}/{d}/{l}" for w, d, l in zip(frame["wins"], frame["draws"], frame["losses"])],
    }
    for anchor in ("weak", "strong"):
        cells[f"win vs {anchor} [95%]"] = [
            _rate_cell(r, lo, hi, n)
            for r, lo, hi, n in zip(
                frame[f"win_vs_{anchor}"],
                frame[f"win_vs_{anchor}_low"],
                frame[f"win_vs_{anchor}_high"],
                frame[f"games_vs_{anchor}"],
            )
        ]
    return cells


def _origin(origin: str, algorithm: str) -> str:
    return origin if origin in ("anchor", "external", "") else f"{algorithm} {origin}"


def pool_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The pool as people read it: ranks with their 95% range, tie groups, ratings, Nash, records."""
    pool = frame[_column(frame, "section", "pool") == "pool"]
    sizes = _column(pool, "tie_group", 1).value_counts()
    shown = {
        "rank": [_number(r, "{:d}") for r in _column(pool, "rank")],
        "ranks (95%)": [
            f"{b}" if b == w else f"{b}-{w}"
            for b, w in zip(_column(pool, "rank_best", 0), _column(pool, "rank_worst", 0))
        ],
        "tie": [f"{'=' if sizes.get(g, 1) > 1 else ''}{g}" for g in _column(pool, "tie_group", 1)],
        "member": list(pool["member"]),
        "origin": [_origin(o, a) for o, a in zip(_column(pool, "origin", ""), pool["algorithm"])],
        "step": [_step(s) for s in pool["step"]],
        **_rating_cells(pool),
        "Nash weight": [_number(w if w > 1e-6 else np.nan, "{:.3f}") for w in _column(pool, "nash_weight", 0.0)],
        "Nash score": [_number(s, "{:.3f}") for s in _column(pool, "nash_score")],
        **_wdl_cells(pool),
    }
    return pd.DataFrame(shown)


def candidate_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The members outside the pool, on the pool's scale but not ranked among it."""
    candidates = frame[_column(frame, "section", "pool") != "pool"]
    pool = frame[_column(frame, "section", "pool") == "pool"]
    above = np.sort(pool["conservative"].to_numpy())[::-1]
    shown = {
        "member": list(candidates["member"]),
        "status": list(candidates["status"]),
        "algorithm": list(candidates["algorithm"]),
        "step": [_step(s) for s in candidates["step"]],
        **_rating_cells(candidates),
        "at pool rank": [int(np.sum(above > c)) + 1 for c in candidates["conservative"]],
        **_wdl_cells(candidates),
        "reason": list(_column(candidates, "reason", "")),
    }
    return pd.DataFrame(shown)


def learner_table(learners: pd.DataFrame) -> pd.DataFrame:
    if learners.empty:
        return pd.DataFrame(columns=list(LEARNER_LEGEND))
    return pd.DataFrame(
        {
            "learner": learners["learner"],
            "algorithm": learners["algorithm"],
            "role": learners["role"],
            "step": [_step(s) for s in learners["step"]],
            "round": [_number(r, "{}") for r in learners["round"]],
            "phase": learners["phase"],
            "candidate": learners["candidate"],
            "members": [f"{m} ({p} promoted)" for m, p in zip(learners["members"], learners["promoted"])],
            "best member": [
                f"{m} ({c:.2f})" if m else "-" for m, c in zip(learners["best_member"], learners["best_conservative"])
            ],
        }
    )


def server_table(server: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member": server["member"],
            "opponents": server["opponents"],
            "games": server["games"],
            "W/D/L": [f"{w}/{d}/{l}" for w, d, l in zip(server["wins"], server["draws"], server["losses"])],
            "score": server["score"].map("{:.3f}".format),
            "rounds won/lost/drawn": [
                f"{w}/{l}/{d}" for w, l, d in zip(server["rounds_won"], server["rounds_lost"], server["rounds_drawn"])
            ],
            "disconnects": server["disconnects"],
        }
    )


# ---------------------------------------------------------------------------- what a reader asks first
def headline(frame: pd.DataFrame, head_to_head: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> list[str]:
    """Who is best, by how much and how sure, in a few sentences."""
    pool = frame[_column(frame, "section", "pool") == "pool"]
    if pool.empty or not (pool["games"] > 0).any():
        return ["No rated games yet: every member still has its starting rating."]
    first = pool.iloc[0]
    lines = [
        f"Best by mu-3sigma: {first['member']} (mu-3sigma {first['conservative']:.2f}; "
        f"mu {first['mu']:.2f}, 95% interval [{first['mu_low']:.2f}, {first['mu_high']:.2f}])."
    ]
    error = [1.96 * math.hypot(first["sigma"], sigma) for sigma in pool["sigma"]]
    apart = [abs(first["mu"] - mu) > e for mu, e in zip(pool["mu"], error)]
    tied = pool[[not a for a in apart]].iloc[1:]
    if len(tied):
        names = ", ".join(tied["member"].iloc[:5]) + (f" and {len(tied) - 5} more" if len(tied) > 5 else "")
        worst = int(_column(pool, "rank_worst", len(tied) + 1).iloc[0])
        lines.append(
            f"It cannot be told apart at 95% from {len(tied)} other member(s): {names}; any of them may "
            f"be the strongest (its rank at 95% lies in 1-{worst})."
        )
    else:
        lines.append("It is ahead of every other member at 95%.")
    rest = pool[apart]
    if len(rest):
        nxt = rest.iloc[0]
        lines.append(
            f"Its mu leads {nxt['member']}, the best member it is told apart from, by "
            f"{first['mu'] - nxt['mu']:.2f} +- {1.96 * math.hypot(first['sigma'], nxt['sigma']):.2f} (95%)."
        )
    if len(pool) > 1:
        second = pool.iloc[1]
        scores, counts = head_to_head if head_to_head is not None else (pd.DataFrame(), pd.DataFrame())
        a, b = first["member"], second["member"]
        if a in scores.index and b in scores.columns and counts.loc[a, b] > 0:
            lines.append(
                f"Head to head against the second, {b}: score {scores.loc[a, b]:.2f} over "
                f"{int(counts.loc[a, b])} games."
            )
    for anchor in ("strong", "weak"):
        if first[f"games_vs_{anchor}"]:
            lines.append(
                f"Against basic-{anchor} it wins {first[f'win_vs_{anchor}']:.0%} "
                f"[{first[f'win_vs_{anchor}_low']:.0%}, {first[f'win_vs_{anchor}_high']:.0%}] of "
                f"{first[f'games_vs_{anchor}']} games."
            )
            break
    return lines


def metagame_lines(metagame, filled: tuple[int, int]) -> list[str]:
    """The pool's Nash equilibrium in words, next to TrueSkill's ranking."""
    if metagame is None:
        return ["The pool has fewer than two members: no meta-game yet."]
    support = metagame.support()
    weights = ", ".join(f"{member} {weight:.3f}" for member, weight in support)
    lines = [f"Nash mixture of the pool (the mixture no member beats): {weights}."]
    outside = [(m, 0.5 + p) for m, p in zip(metagame.members, metagame.payoff) if m not in dict(support)]
    if outside:
        member, score = max(outside, key=lambda item: item[1])
        lines.append(f"Every other member scores below 0.5 against it; the closest is {member} at {score:.3f}.")
    lines.append(
        "Unlike TrueSkill, the mixture makes no assumption that strength is transitive: a member in its "
        "support that TrueSkill ranks low beats some style the members above it do not."
    )
    predicted, pairs = filled
    lines.append(
        f"Scores are measured from the ledger for {pairs - predicted} of {pairs} pairs; the {predicted} "
        f"pairs that never played use TrueSkill's predicted score."
    )
    return lines


# ---------------------------------------------------------------------------- Markdown
def markdown_table(shown: pd.DataFrame, right: tuple[str, ...] = ()) -> str:
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---:" if c in right else "---" for c in shown.columns) + "|"
    body = ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _markdown_legend(legend: dict[str, str], columns) -> list[str]:
    return [f"- **{name}**: {legend[name]}" for name in columns if name in legend]


RIGHT = (
    "rank",
    "ranks (95%)",
    "tie",
    "step",
    "mu [95%]",
    "sigma",
    "mu-3sigma",
    "Nash weight",
    "Nash score",
    "games",
    "W/D/L",
    "at pool rank",
    "opponents",
    "score",
    "rounds won/lost/drawn",
    "disconnects",
    "round",
)


def to_markdown(frame: pd.DataFrame) -> str:
    """The pool's table as Markdown."""
    return markdown_table(pool_table(frame), RIGHT)


def render_markdown(report: Report) -> str:
    pool, candidates = pool_table(report.frame), candidate_table(report.frame)
    md = [
        f"# {report.title}",
        "",
        f"Written {_stamp(report.written)}; latest game in the ledger {_stamp(report.last_game)}.",
        "",
        *headline(report.frame, report.head_to_head),
        "",
        "## The pool",
        "",
        "Anchors, starting models, externals and promoted snapshots, ranked by mu-3sigma.",
        "",
        markdown_table(pool, RIGHT),
        "",
        "### The meta-game",
        "",
        *[f"- {line}" for line in metagame_lines(report.metagame, report.metagame_filled)],
        "",
        f"## Candidates outside the pool ({len(candidates)})",
        "",
        "Rejected by the promotion gate, awaiting it, or excluded; rated on the pool's scale, never ranked in it.",
        "",
        markdown_table(candidates, RIGHT) if len(candidates) else "None.",
        "",
        "## Learners",
        "",
        markdown_table(learner_table(report.learners), RIGHT) if len(report.learners) else "None.",
        "",
        "![learning curves](learning_curves.png)",
        "",
    ]
    if len(report.server):
        md += [
            "## Games on the competition server",
            "",
            markdown_table(server_table(report.server), RIGHT),
            "",
            *_markdown_legend(SERVER_LEGEND, SERVER_LEGEND),
            "",
        ]
    md += [
        "## Head to head",
        "",
        "![head to head](head_to_head.png)",
        "",
        "## Ratings over time",
        "",
        "![ratings over time](ratings.png)",
        "",
        "## What the columns mean",
        "",
        *_markdown_legend(LEGEND, list(pool.columns) + ["at pool rank", "reason"]),
        *_markdown_legend(LEARNER_LEGEND, LEARNER_LEGEND),
        "",
        "## Notes",
        "",
        *[f"- {line}" for line in report.notes],
        "",
    ]
    return "\n".join(md)


# ---------------------------------------------------------------------------- HTML
STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;font-size:13px;margin:16px 20px;color:#222;max-width:1360px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:26px 0 6px} h3{font-size:15px;margin:14px 0 4px}
p.stamp{color:#555;margin:0 0 10px} div.headline{background:#eef4fb;border-left:4px solid #3a78c2;padding:8px 12px}
div.headline p{margin:3px 0}
table{border-collapse:collapse;margin:6px 0} td,th{padding:3px 6px;border-bottom:1px solid #ddd;white-space:nowrap}
th{text-align:left;background:#f3f3f3;cursor:help;white-space:normal;vertical-align:bottom}
th.num,td.num{text-align:right}
tr.shade td{background:#f6f6fa} td.reason{white-space:normal;min-width:240px;font-size:12px}
dl.legend{font-size:13px;color:#333;display:grid;grid-template-columns:max-content auto;gap:2px 12px}
dl.legend dt{font-weight:bold} dl.legend dd{margin:0}
details>summary{cursor:pointer;font-size:18px;font-weight:bold;margin:26px 0 6px}
img{max-width:100%;display:block;margin:6px 0}
"""


def html_table(
    shown: pd.DataFrame,
    legend: dict[str, str],
    right: tuple[str, ...] = RIGHT,
    shade: list[bool] | None = None,
    css: str = "",
) -> str:
    """A table whose headers carry their legend as a tooltip; ``shade`` marks rows drawn shaded."""
    head = "".join(
        f'<th class="{"num" if c in right else ""}" title="{html.escape(legend.get(c, ""))}">{html.escape(c)}</th>'
        for c in shown.columns
    )
    rows = []
    for index, row in enumerate(shown.itertuples(index=False)):
        cells = []
        for column, value in zip(shown.columns, row):
            kind = "num" if column in right else ("reason" if column == "reason" else "")
            cells.append(f'<td class="{kind}">{html.escape(str(value))}</td>')
        rows.append(f'<tr class="{"shade" if shade and shade[index] else ""}">{"".join(cells)}</tr>')
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def html_legend(legend: dict[str, str], columns) -> str:
    items = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(legend[c])}</dd>" for c in columns if c in legend)
    return f'<dl class="legend">{items}</dl>'


def render_html(report: Report) -> str:
    pool, candidates = pool_table(report.frame), candidate_table(report.frame)
    groups = list(_column(report.frame[_column(report.frame, "section", "pool") == "pool"], "tie_group", 1))
    shade = [group % 2 == 0 for group in groups]
    para = "".join
    parts = [
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="stamp">Written {_stamp(report.written)}; latest game in the ledger {_stamp(report.last_game)}.</p>',
        f'<div class="headline" id="headline">{para(f"<p>{html.escape(s)}</p>" for s in headline(report.frame, report.head_to_head))}</div>',  # noqa: E501
        '<section id="pool"><h2>The pool</h2>',
        "<p>Anchors, starting models, externals and promoted snapshots, ranked by mu-3sigma; rows of one shade form "
        "a tie group. Hover over a header for its meaning, or read the list below the table.</p>",
        html_table(pool, LEGEND, shade=shade, css="pool"),
        html_legend(LEGEND, pool.columns),
        "<h3>The meta-game</h3>",
        para(f"<p>{html.escape(s)}</p>" for s in metagame_lines(report.metagame, report.metagame_filled)),
        "</section>",
        f'<section id="candidates"><details><summary>Candidates outside the pool ({len(candidates)})</summary>',
        "<p>Rejected by the promotion gate, awaiting it, or excluded: rated on the pool's scale, never ranked in "
        "it.</p>",
        html_table(candidates, LEGEND, css="candidates") if len(candidates) else "<p>None.</p>",
        html_legend(LEGEND, ["at pool rank", "status", "reason"]),
        "</details></section>",
        '<section id="learners"><h2>Learners</h2>',
        html_table(learner_table(report.learners), LEARNER_LEGEND, css="learners")
        if len(report.learners)
        else "<p>None.</p>",
        html_legend(LEARNER_LEGEND, LEARNER_LEGEND),
        "<h3>Learning curves</h3><p>Each learner's members by training step (top axis: hours since the league's "
        "first snapshot): left, mu-3sigma (filled: in the pool; hollow: rejected); right, win rates against the "
        "anchors and the score against the pool's best member.</p>",
        '<img src="learning_curves.png" alt="learning curves">',
        "</section>",
    ]
    if len(report.server):
        parts += [
            '<section id="server"><h2>Games on the competition server</h2>',
            "<p>Games against the server's opponents: counted here, never rated and never in the pool's tables.</p>",
            html_table(server_table(report.server), SERVER_LEGEND, css="server"),
            html_legend(SERVER_LEGEND, SERVER_LEGEND),
            "</section>",
        ]
    parts += [
        '<section id="head-to-head"><h2>Head to head</h2><p>Each cell: the row member\'s score against the column '
        "member ((wins + draws/2) / games) and the games played; the pool's top members by rank.</p>",
        '<img src="head_to_head.png" alt="head to head"></section>',
        "<section id=\"ratings\"><h2>Ratings over time</h2><p>mu-3sigma of the pool's top members over the league's "
        f"hours, each drawn from its first settled rating (sigma below {SETTLED_SIGMA:g}); the anchors are fixed.</p>",
        '<img src="ratings.png" alt="ratings over time"></section>',
        '<section id="notes"><h2>Notes</h2>',
        "<ul>" + para(f"<li>{html.escape(line)}</li>" for line in report.notes) + "</ul></section>",
    ]
    body = "\n".join(parts)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(report.title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


# ---------------------------------------------------------------------------- pictures
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT_PT, "axes.titlesize": FONT_PT + 1, "legend.fontsize": FONT_PT})
    return plt


def _empty(axis, text: str) -> None:
    axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes)
    axis.set_axis_off()


def rating_traces(
    history: list[tuple[float, str, float, float]], members: list[str], k: float = 3.0
) -> dict[str, list[tuple[float, float]]]:
    """(hours since the first rated game, mu - k sigma) of each of ``members`` that has settled.

    Games of one match share a time and are rated one after another, so each member gets one point
    per time step (a 300th of the league's span): the state after the step's games, not their
    zigzag. A trace starts at the member's first settled state (sigma at most ``SETTLED_SIGMA``):
    a fresh rating swings by several points over its first games, which drawn would be a spike."""
    start = min((h[0] for h in history), default=0.0)
    bucket = max(1.0, (max((h[0] for h in history), default=0.0) - start) / 300)
    traces = {}
    for member in members:
        states = _last_per_bucket([(t, mu, s) for t, m, mu, s in history if m == member], start, bucket)
        settled = next((i for i, (_, _, s) in enumerate(states) if s <= SETTLED_SIGMA), None)
        if settled is not None:
            traces[member] = [((t - start) / 3600, mu - k * s) for t, mu, s in states[settled:]]
    return traces


def plot_ratings(
    history: list[tuple[float, str, float, float]],
    members: list[str],
    anchors: dict[str, float],
    path: Path,
    k: float = 3.0,
) -> None:
    """mu - k sigma of ``members`` over the league's hours (``rating_traces``), the anchors as lines."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(12, 5), dpi=FIGURE_DPI)
    colours = plt.get_cmap("tab10" if len(members) <= 10 else "tab20")
    traces = rating_traces(history, members, k)
    for index, member in enumerate(members):
        if member in traces:
            hours, values = zip(*traces[member])
            axis.plot(
                hours, values, label=member, linewidth=1.6, color=colours(index % colours.N), drawstyle="steps-post"
            )
    for name, mu in anchors.items():
        axis.axhline(mu, color="grey", linestyle=":", linewidth=1)
        axis.annotate(
            f"{name} (fixed)",
            (0, mu),
            xycoords=("axes fraction", "data"),
            xytext=(4, 3),
            textcoords="offset points",
            color="dimgray",
        )
    if not traces:
        _empty(axis, "no settled ratings yet")
    else:
        axis.set_xlabel("hours since the league's first rated game")
        axis.set_ylabel(f"TrueSkill mu - {k:g} sigma")
        axis.set_title("Ratings of the pool's top members over time")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    figure.tight_layout()
    _save_figure(figure, path)
    plt.close(figure)


def _last_per_bucket(states: list[tuple[float, float, float]], start: float, bucket: float) -> list:
    """The last of ``states`` (time, mu, sigma) in each time step of ``bucket`` seconds."""
    last: dict[int, tuple[float, float, float]] = {}
    for state in states:
        last[int((state[0] - start) // bucket)] = state
    return [last[key] for key in sorted(last)]


def plot_head_to_head(scores: pd.DataFrame, games: pd.DataFrame, path: Path) -> float:
    """Heatmap of row's score against column (wins + draws/2 per game), with game counts, at a
    readable size for any number of members (the caller picks the top N).

    Returns:
        the cells' text height in px as drawn (the picture is shown at its own size)."""
    plt = _pyplot()
    n = len(scores)
    label_in = 0.075 * max([len(str(m)) for m in scores.index] or [4]) + 0.4
    cell_in = min(0.9, (MAX_FIGURE_PX / FIGURE_DPI - label_in - 1.2) / max(n, 1))
    width = label_in + cell_in * max(n, 4) + 1.2
    figure, axis = plt.subplots(figsize=(width, label_in + cell_in * max(n, 4) + 0.6), dpi=FIGURE_DPI)
    if scores.empty:
        _empty(axis, "no rated games between pool members yet")
        _save_figure(figure, path)
        plt.close(figure)
        return FONT_PT * FIGURE_DPI / 72
    image = axis.imshow(scores.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1)
    axis.set_xticks(range(n), labels=scores.columns, rotation=60, ha="right", rotation_mode="anchor")
    axis.set_yticks(range(n), labels=scores.index)
    text_pt = FONT_PT if cell_in >= 0.5 else max(7.5, FONT_PT * cell_in / 0.5)
    for i in range(n):
        for j in range(n):
            value, count = scores.iat[i, j], games.iat[i, j]
            if not (isinstance(value, float) and math.isnan(value)):
                axis.text(
                    j, i, f"{value:.2f}\n{int(count)}", ha="center", va="center", fontsize=text_pt, linespacing=1.0
                )
    axis.set_title("Head to head: row's score against column (games below), by rank")
    figure.colorbar(image, ax=axis, fraction=0.035, pad=0.02)
    figure.tight_layout()
    _save_figure(figure, path)
    plt.close(figure)
    return text_pt * FIGURE_DPI / 72


def plot_learning_curves(curves: pd.DataFrame, path: Path) -> None:
    """Per learner: its members' mu-3sigma by training step, and their win rates against the anchors
    and score against the pool's best member; the top axis gives the hours since the league began."""
    plt = _pyplot()
    learners = list(dict.fromkeys(curves["learner"])) if len(curves) else []
    figure, axes = plt.subplots(
        max(1, len(learners)), 2, figsize=(12.5, 3.8 * max(1, len(learners))), dpi=FIGURE_DPI, squeeze=False
    )
    if not learners:
        _empty(axes[0, 0], "no learner has a member yet")
        axes[0, 1].set_axis_off()
    start = np.nanmin(curves["time"].to_numpy(dtype=float)) if len(curves) and curves["time"].notna().any() else None
    for row, learner in enumerate(learners):
        mine = curves[curves["learner"] == learner].sort_values("step")
        steps = mine["step"].to_numpy(dtype=float)
        left, right = axes[row]
        in_pool = mine["status"].isin(("promoted", "anchor")).to_numpy()
        left.plot(steps, mine["conservative"], color="tab:blue", linewidth=1.2)
        left.scatter(steps[in_pool], mine["conservative"][in_pool], color="tab:blue", zorder=3, label="in the pool")
        left.scatter(
            steps[~in_pool],
            mine["conservative"][~in_pool],
            facecolors="white",
            edgecolors="tab:blue",
            zorder=3,
            label="rejected or pending",
        )
        left.set_title(f"{learner}: rating by training step")
        left.set_ylabel("mu - 3 sigma")
        for name, column, colour in (
            ("win vs basic-weak", "win_vs_weak", "tab:green"),
            ("win vs basic-strong", "win_vs_strong", "tab:orange"),
            ("score vs the pool's best", "score_vs_best", "tab:red"),
        ):
            values = mine[column].to_numpy(dtype=float)
            keep = ~np.isnan(values)
            if keep.any():
                right.plot(steps[keep], values[keep], marker="o", markersize=4, color=colour, label=name)
        right.set_ylim(-0.02, 1.02)
        right.set_title(f"{learner}: against the anchors and the pool's best")
        right.set_ylabel("win rate / score")
        for axis in (left, right):
            axis.set_xlabel("training step")
            axis.grid(alpha=0.3)
            axis.legend(loc="best")
            axis.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if x >= 1e6 else f"{x:,.0f}"))
            _hours_axis(axis, steps, mine["time"].to_numpy(dtype=float), start)
    figure.tight_layout()
    _save_figure(figure, path)
    plt.close(figure)


def _hours_axis(axis, steps: np.ndarray, times: np.ndarray, start: float | None) -> None:
    """A top axis with the hours since ``start`` at which the learner reached each step."""
    from matplotlib.ticker import MaxNLocator

    keep = ~np.isnan(times)
    if start is None or keep.sum() < 2 or len(np.unique(steps[keep])) < 2:
        return
    order = np.argsort(steps[keep])
    xs = steps[keep][order]
    hours = np.maximum.accumulate((times[keep][order] - start) / 3600)
    if hours[-1] <= hours[0]:
        return
    top = axis.secondary_xaxis("top", functions=(lambda s: np.interp(s, xs, hours), lambda h: np.interp(h, hours, xs)))
    ticks = [h for h in MaxNLocator(6).tick_values(hours[0], hours[-1]) if hours[0] <= h <= hours[-1]]
    top.set_xticks(ticks)  # beyond the learner's last snapshot the hours are unknown
    top.set_xlabel("hours since the league began", fontsize=FONT_PT - 0.5)


def _save_figure(figure, path: Path) -> None:
    atomic_write(path, lambda file: figure.savefig(file, format="png"))


# ---------------------------------------------------------------------------- files
REPORT_NAMES = (
    "leaderboard.md",
    "leaderboard.csv",
    "leaderboard.html",
    "ratings.png",
    "head_to_head.png",
    "learning_curves.png",
)


def write_reports(directory: str | Path, report: Report, plot_members: int = 10) -> list[Path]:
    """Write leaderboard.{md,csv,html}, ratings.png, head_to_head.png and learning_curves.png into ``directory``.

    Args:
        report: what to show (``Report``).
        plot_members: how many of the pool's top members (anchors aside) the ratings picture shows.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in REPORT_NAMES}
    markdown = render_markdown(report)
    atomic_write(paths["leaderboard.md"], lambda f: f.write(markdown.encode()))
    csv_text = report.frame.to_csv(index=False)
    atomic_write(paths["leaderboard.csv"], lambda f: f.write(csv_text.encode()))
    page = render_html(report)
    atomic_write(paths["leaderboard.html"], lambda f: f.write(page.encode()))
    frame = report.frame
    pool = frame[_column(frame, "section", "pool") == "pool"] if len(frame) else frame
    anchors = {
        m: mu
        for m, mu, o in zip(pool.get("member", []), pool.get("mu", []), _column(pool, "origin", ""))
        if o == "anchor"
    }
    top = [m for m in pool.get("member", []) if m not in anchors][:plot_members]
    plot_ratings(report.history, top, anchors, paths["ratings.png"])
    plot_head_to_head(*report.head_to_head, paths["head_to_head.png"])
    plot_learning_curves(report.curves, paths["learning_curves.png"])
    return list(paths.values())
