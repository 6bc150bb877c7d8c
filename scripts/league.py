"""Run the league. For now: a short round-robin tournament of the scripted opponents.

The persistent self-play league (snapshot pool, ledger, TrueSkill, promotion) replaces this
demo; the command stays the same.
"""

from __future__ import annotations

import argparse
import itertools
import time

from arena import play_games

MEMBERS = ("strong", "weak", "random", "idle")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=100, help="games per pairing, half from each side (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="tournament seed (default 0)")
    parser.add_argument("--mode", default="normal", help="normal, train_shooting or train_defense (default normal)")
    args = parser.parse_args(argv)
    if args.games < 1:
        parser.error(f"--games must be at least 1, got {args.games}")

    start = time.perf_counter()
    score = {m: [0, 0, 0] for m in MEMBERS}  # wins, draws, losses
    print(f"round robin of {', '.join(MEMBERS)}: {args.games} games per pairing, mode {args.mode}")
    print(f"{'pairing':>18s}  {'wins':>5s} {'draws':>5s} {'losses':>6s}  {'mean length':>11s}")
    for i, (a, b) in enumerate(itertools.combinations(MEMBERS, 2)):
        result = play_games(a, b, args.games, seed=args.seed * 1000 + i, mode=args.mode)
        w, d, l = result.counts("a")
        for member, row in ((a, (w, d, l)), (b, (l, d, w))):
            score[member] = [s + r for s, r in zip(score[member], row)]
        print(f"{a + ' vs ' + b:>18s}  {w:5d} {d:5d} {l:6d}  {result.mean_length:11.1f}")
    print()
    print(f"{'member':>8s}  {'wins':>5s} {'draws':>5s} {'losses':>6s}  {'score':>6s}")
    ranking = sorted(MEMBERS, key=lambda m: -(score[m][0] + 0.5 * score[m][1]) / max(1, sum(score[m])))
    for member in ranking:
        w, d, l = score[member]
        print(f"{member:>8s}  {w:5d} {d:5d} {l:6d}  {(w + 0.5 * d) / (w + d + l):6.3f}")
    print(f"\n{time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
