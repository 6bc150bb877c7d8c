"""Leaderboard reports: a ratings table as Markdown, CSV and HTML, with two pictures.

Pure output: the caller supplies the table (one row per member), the rating history and the
head-to-head scores; this module only formats and draws them (pandas, matplotlib with the
non-interactive Agg backend) and writes every file atomically.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from plumbing.files import atomic_write

DISPLAY_COLUMNS = ["rank", "member", "status", "algorithm", "step", "mu", "sigma", "mu-3sigma", "games", "W", "D", "L",
                   "win vs weak [95% CI]", "win vs strong [95% CI]"]  # fmt: skip


def _rate_cell(rate: float, low: float, high: float, games: int) -> str:
    if not games:
        return "-"
    return f"{rate:.0%} [{low:.0%}, {high:.0%}] n={games}"


def leaderboard_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows (dicts with the numeric fields of ``league.standings``) as the leaderboard's data frame."""
    return pd.DataFrame(rows)


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: rounded numbers, win rates with their intervals."""
    if frame.empty:
        return pd.DataFrame(columns=DISPLAY_COLUMNS)
    shown = pd.DataFrame({
        "rank": frame["rank"],
        "member": frame["member"],
        "status": frame["status"],
        "algorithm": frame["algorithm"],
        "step": [("-" if pd.isna(s) else f"{int(s):,}") for s in frame["step"]],
        "mu": frame["mu"].map("{:.2f}".format),
        "sigma": frame["sigma"].map("{:.2f}".format),
        "mu-3sigma": frame["conservative"].map("{:.2f}".format),
        "games": frame["games"],
        "W": frame["wins"],
        "D": frame["draws"],
        "L": frame["losses"],
    })  # fmt: skip
    for anchor in ("weak", "strong"):
        shown[f"win vs {anchor} [95% CI]"] = [
            _rate_cell(r, lo, hi, n)
            for r, lo, hi, n in zip(
                frame[f"win_vs_{anchor}"], frame[f"win_vs_{anchor}_low"], frame[f"win_vs_{anchor}_high"],
                frame[f"games_vs_{anchor}"],
            )
        ]  # fmt: skip
    return shown


def to_markdown(frame: pd.DataFrame) -> str:
    shown = _display(frame)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---:" if c in ("rank", "games", "W", "D", "L") else "---" for c in shown.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def plot_ratings(history: list[tuple[int, str, float, float]], members: list[str], path: Path, k: float = 3.0) -> None:
    """mu over rated games for ``members``, with the mu - k sigma band's lower edge dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5), dpi=100)
    plotted = 0
    for member in members:
        points = [(n, mu, sigma) for n, m, mu, sigma in history if m == member]
        if not points:
            continue
        plotted += 1
        xs = [p[0] for p in points]
        (line,) = axis.plot(xs, [p[1] for p in points], label=member, linewidth=1.5)
        axis.plot(xs, [p[1] - k * p[2] for p in points], linestyle="--", linewidth=0.8, color=line.get_color())
    axis.set_xlabel("rated games in the ledger")
    axis.set_ylabel("TrueSkill mu (dashed: mu - 3 sigma)")
    axis.set_title("Ratings over time")
    axis.grid(alpha=0.3)
    if plotted:
        axis.legend(fontsize=7, loc="best")
    else:
        axis.text(0.5, 0.5, "no rated games yet", ha="center", va="center", transform=axis.transAxes)
    figure.tight_layout()
    _save_figure(figure, path)
    plt.close(figure)


def plot_head_to_head(scores: pd.DataFrame, games: pd.DataFrame, path: Path) -> None:
    """Heatmap of row's score against column (wins + draws/2 per game), with game counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.7 * len(scores) + 2)
    figure, axis = plt.subplots(figsize=(size + 1.5, size), dpi=100)
    if scores.empty:
        axis.text(0.5, 0.5, "no rated games yet", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        _save_figure(figure, path)
        plt.close(figure)
        return
    image = axis.imshow(scores.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1)
    axis.set_xticks(range(len(scores.columns)), labels=scores.columns, rotation=60, ha="right", fontsize=7)
    axis.set_yticks(range(len(scores.index)), labels=scores.index, fontsize=7)
    for i in range(len(scores.index)):
        for j in range(len(scores.columns)):
            value, n = scores.iat[i, j], games.iat[i, j]
            if not (isinstance(value, float) and math.isnan(value)):
                axis.text(j, i, f"{value:.2f}\n{int(n)}", ha="center", va="center", fontsize=6)
    axis.set_title("Head to head: row's score against column (games below)")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    figure.tight_layout()
    _save_figure(figure, path)
    plt.close(figure)


def _save_figure(figure, path: Path) -> None:
    atomic_write(path, lambda file: figure.savefig(file, format="png"))


def write_reports(
    directory: str | Path,
    frame: pd.DataFrame,
    history: list[tuple[int, str, float, float]],
    head_to_head: tuple[pd.DataFrame, pd.DataFrame],
    title: str = "Leaderboard",
    notes: list[str] | None = None,
    plot_members: int = 8,
) -> list[Path]:
    """Write leaderboard.{md,csv,html}, ratings.png and head_to_head.png into ``directory``.

    Args:
        frame: the leaderboard rows, best first (``leaderboard_frame``).
        history: (game number, member, mu, sigma) after each rated game (``RatingTable.history``).
        head_to_head: (scores, games) square frames indexed by member.
        notes: lines printed under the table (settings, excluded members, ...).
        plot_members: how many of the top members the ratings picture shows.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    notes = notes or []
    paths = {name: directory / name for name in
             ("leaderboard.md", "leaderboard.csv", "leaderboard.html", "ratings.png", "head_to_head.png")}  # fmt: skip
    table_md = to_markdown(frame)
    md = [f"# {title}", "", table_md, "", *[f"- {line}" for line in notes], "",
          "![ratings over time](ratings.png)", "", "![head to head](head_to_head.png)", ""]  # fmt: skip
    atomic_write(paths["leaderboard.md"], lambda f: f.write("\n".join(md).encode()))
    csv_text = frame.to_csv(index=False)
    atomic_write(paths["leaderboard.csv"], lambda f: f.write(csv_text.encode()))
    shown = _display(frame)
    body = shown.to_html(index=False, border=0, classes="leaderboard")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table.leaderboard{{border-collapse:collapse}}
table.leaderboard td,table.leaderboard th{{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}}
table.leaderboard td:nth-child(-n+4){{text-align:left}}</style>
</head><body><h1>{html.escape(title)}</h1>
{body}
<ul>{"".join(f"<li>{html.escape(line)}</li>" for line in notes)}</ul>
<h2>Ratings over time</h2><img src="ratings.png" alt="ratings over time">
<h2>Head to head</h2><img src="head_to_head.png" alt="head to head">
</body></html>
"""
    atomic_write(paths["leaderboard.html"], lambda f: f.write(page.encode()))
    top = list(frame["member"][:plot_members]) if len(frame) else []
    plot_ratings(history, top, paths["ratings.png"])
    plot_head_to_head(*head_to_head, paths["head_to_head.png"])
    return list(paths.values())
