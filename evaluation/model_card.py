"""The model card of a promoted league member: what it is, where it came from and how it played.

A Markdown page beside the member's checkpoint: algorithm, learner, training steps, the weights'
hash and its parent's, its TrueSkill rating at promotion, the promotion match per opponent with
95% intervals, and its full config.
"""

from __future__ import annotations

import json
import time

from evaluation.stats import WDL


def model_card(member: str, snapshot: dict, league: str, rating: tuple[float, float, float], rated_games: int,
                decision, results: dict[str, WDL]) -> str:  # fmt: skip
    """The card's Markdown.

    Args:
        member: the member's id.
        snapshot: its snapshot record (algorithm, learner, step, sha256, parent, config).
        league: the league's name.
        rating: (mu, sigma, mu - 3 sigma) at promotion.
        rated_games: how many rated games that rating comes from.
        decision: the promotion decision (score, lower bound, games).
        results: opponent -> the candidate's record against it at the gate.
    """
    mu, sigma, conservative = rating
    lines = [
        f"# {member}",
        "",
        f"- algorithm: {snapshot['algorithm']}",
        f"- learner: {snapshot['learner']} (league {league})",
        f"- training steps: {snapshot['step']:,}",
        f"- weights sha256: {snapshot['sha256']}",
        f"- parent: {snapshot['parent'] or 'none (trained from scratch)'}",
        f"- promoted: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- TrueSkill at promotion: mu {mu:.2f}, sigma {sigma:.2f}, "
        f"mu - 3 sigma {conservative:.2f} (from {rated_games} rated games)",
        f"- promotion: score {decision.score:.3f}, lower 95% bound {decision.lower:.3f} over {decision.games} "
        f"games against {', '.join(results)}",
        "",
        "| opponent | games | W | D | L | win rate [95% CI] |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for opponent, record in results.items():
        low, high = record.interval("wins")
        lines.append(
            f"| {opponent} | {record.games} | {record.wins} | {record.draws} | {record.losses} | "
            f"{record.rate('wins'):.0%} [{low:.0%}, {high:.0%}] |"
        )
    lines += ["", "Config:", "", "```json", json.dumps(snapshot["config"], indent=2), "```", ""]
    return "\n".join(lines)
