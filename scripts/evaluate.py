"""Evaluate a player head to head against opponents: score, wins, draws and losses with 95% intervals, both sides.

    python scripts/evaluate.py runs/sac/policy.pt --opponents weak,strong --games 1000 [--json]
    python scripts/evaluate.py models/tdmpc2-hockey/policy.pt --set mpc=True   # TD-MPC2 with planning
    python scripts/evaluate.py models/sac-hockey/policy.pt \
        --opponents models/muzero-hockey/policy.pt,py:../shared/external/shabin_sac.py:load
    python scripts/evaluate.py runs/sac/policy.pt --format server   # the competition server's 4-round games

The player and its opponents are checkpoint paths or external policies (py:PATH.py:FUNCTION);
opponents may also be scripted names (weak, strong, random, idle). Half of the games are played
from each side; the table shows the score (wins + draws/2) / games, the overall rates and the win
rate per side and by first possession. ``--format server`` plays the competition server's games
instead: 4 rounds, the puck's starting half alternating, sides kept, won by more round wins.
"""

from __future__ import annotations

import argparse
import sys

from agents.checkpoint import load_checkpoint
from agents.external import is_external, load_external
from agents.registry import load_policy, make_policy
from evaluation.evaluate import evaluate_policy, evaluate_server_format, format_table, to_json
from plumbing.cli import entry_point


@entry_point
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkpoint", help="policy checkpoint (.pt) or external policy (py:PATH.py:FUNCTION) to evaluate"
    )
    parser.add_argument("--opponents", default="weak,strong",
                        help="comma-separated scripted names, checkpoint paths or py:PATH.py:FUNCTION")  # fmt: skip
    parser.add_argument("--games", type=int, default=1000, help="games per opponent (half from each side)")
    parser.add_argument("--seed", type=int, default=0, help="match seed")
    parser.add_argument("--n-envs", type=int, default=64, help="games played at once")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--mode", default="normal", help="normal, train_shooting or train_defense")
    parser.add_argument(
        "--format",
        choices=("game", "server"),
        default="game",
        help="game: single games; server: the competition server's 4-round games (a rehearsal)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="change the checkpoint's stored agent config, e.g. mpc=True num_samples=512")  # fmt: skip
    args = parser.parse_args(argv)
    if args.games < 1:
        parser.error(f"--games must be positive, got {args.games}")
    if is_external(args.checkpoint):
        if args.set:
            raise ValueError("--set changes a checkpoint's stored config; an external policy has none")
        checkpoint, policy = None, load_external(args.checkpoint)
    else:
        checkpoint = load_checkpoint(args.checkpoint)
        policy = load_policy(args.checkpoint, device=args.device, overrides=tuple(args.set))
    identity = (
        {"algorithm": "external", "step": None, "weights_sha256": policy.sha256}
        if checkpoint is None
        else {"algorithm": checkpoint.algorithm, "step": checkpoint.step, "weights_sha256": checkpoint.sha256}
    )
    names = [name.strip() for name in args.opponents.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--opponents {args.opponents!r} names no opponent; e.g. --opponents weak,strong")
    opponents = {name: make_policy(name, seed=args.seed + 1 + i, device=args.device) for i, name in enumerate(names)}
    n_envs = min(args.n_envs, args.games)
    if args.format == "server":
        if args.mode != "normal":
            raise ValueError(f"--format server plays normal games (the server's); got --mode {args.mode}")
        rows = evaluate_server_format(policy, opponents, games=args.games, seed=args.seed, n_envs=n_envs)
    else:
        rows = evaluate_policy(policy, opponents, games=args.games, seed=args.seed, n_envs=n_envs, mode=args.mode)
    if args.json:
        print(
            to_json(
                rows,
                checkpoint=args.checkpoint,
                **identity,
                games_per_opponent=args.games,
                format=args.format,
                seed=args.seed,
                config_overrides=args.set,
            )
        )
    else:
        print(
            f"{args.checkpoint}: {identity['algorithm']}"
            + (f" at step {identity['step']}" if checkpoint is not None else f" (sha256 {policy.sha256[:12]})")
            + ", "
            f"{args.games} {'server-format ' if args.format == 'server' else ''}games per opponent "
            f"(half from each side), seed {args.seed}" + (f", config changed: {' '.join(args.set)}" if args.set else "")
        )
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
