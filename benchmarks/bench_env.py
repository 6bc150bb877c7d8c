"""Engine speed: steps per second for random stepping, strong-vs-strong play, and the match runner.

Run: python benchmarks/bench_env.py [--steps 20000] [--repeats 3]

Measures on one core, as the spec measured the original (shared/specs/hockey.md section 8.1:
15.3k steps/s random stepping, 7.6k steps/s strong-vs-strong with both decisions). Prints the
median of the repeats as a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from arena import hockey_v0, play_games
from arena.hockey import BasicOpponent, HockeyEngine


def random_engine(steps: int) -> float:
    """HockeyEngine.step with pre-generated random actions, resetting when a game ends."""
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, 8)).astype(np.float32).tolist()
    engine = HockeyEngine(seed=0)
    engine.reset()
    start = time.perf_counter()
    for row in actions:
        engine.step(row[:4], row[4:])
        engine.views()  # both observations, as a learner would read them
        if engine.done:
            engine.reset()
    return steps / (time.perf_counter() - start)


def random_pettingzoo(steps: int) -> float:
    """The PettingZoo parallel env: dict actions in, observations/rewards/infos dicts out."""
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, 2, 4)).astype(np.float32)
    env = hockey_v0.parallel_env()
    env.reset(seed=0)
    start = time.perf_counter()
    for pair in actions:
        env.step({"player_0": pair[0], "player_1": pair[1]})
        if not env.agents:
            env.reset()
    return steps / (time.perf_counter() - start)


def strong_vs_strong(steps: int) -> float:
    """One game at a time: both strong opponents decide, then the engine steps (the spec's loop)."""
    engine = HockeyEngine(seed=0)
    engine.reset()
    left, right = BasicOpponent(weak=False, seed=1), BasicOpponent(weak=False, seed=2)
    start = time.perf_counter()
    for _ in range(steps):
        obs_left, obs_right = engine.views()
        engine.step(left.act(np.array([obs_left], dtype=np.float32))[0].tolist(),
                    right.act(np.array([obs_right], dtype=np.float32))[0].tolist())  # fmt: skip
        if engine.done:
            engine.reset()
            left.reset(np.ones(1, bool))
            right.reset(np.ones(1, bool))
    return steps / (time.perf_counter() - start)


def match_runner(steps: int) -> tuple[float, float]:
    """play_games strong vs strong over 16 environments: (steps/s, games/s)."""
    n_games = max(16, steps // 150)
    start = time.perf_counter()
    result = play_games("strong", "strong", n_games=n_games, seed=0, n_envs=16)
    elapsed = time.perf_counter() - start
    return sum(r.length for r in result.records) / elapsed, n_games / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20000, help="steps per measurement (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; the median is reported (default 3)")
    args = parser.parse_args()

    runs: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        runs.setdefault("random stepping, engine (steps/s)", []).append(random_engine(args.steps))
        runs.setdefault("random stepping, PettingZoo env (steps/s)", []).append(random_pettingzoo(args.steps))
        runs.setdefault("strong vs strong incl. both decisions, one game (steps/s)", []).append(
            strong_vs_strong(args.steps)
        )
        steps_per_s, games_per_s = match_runner(args.steps)
        runs.setdefault("match runner strong vs strong, 16 envs (steps/s)", []).append(steps_per_s)
        runs.setdefault("match runner strong vs strong, 16 envs (games/s)", []).append(games_per_s)

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, one process")
    print("| measurement | runs | median |")
    print("|---|---|---|")
    for name, values in runs.items():
        shown = " / ".join(f"{v:,.0f}" if v > 100 else f"{v:.1f}" for v in values)
        median = statistics.median(values)
        print(
            f"| {name} | {shown} | **{median:,.0f}** |" if median > 100 else f"| {name} | {shown} | **{median:.1f}** |"
        )


if __name__ == "__main__":
    main()
