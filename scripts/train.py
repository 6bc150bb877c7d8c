"""Train one agent against a mix of opponents; also what one cluster batch job runs.

    python scripts/train.py --agent sac --opponents weak,strong --steps 1000000 --run-dir runs/sac

Options: ``--help``. A run writes RUN_DIR/policy.pt (the latest frozen policy), periodic
policies, CSV metrics and RUN_DIR/checkpoints/training.pt; ``--resume`` continues it exactly.
Ctrl-C, SIGTERM or SIGUSR1 save a checkpoint and stop.
"""

from __future__ import annotations

import sys

import tyro

from agents.train import TrainConfig, train
from evaluation.evaluate import evaluate_policy, format_table


def make_evaluator(config: TrainConfig):
    """Play the current policy against weak and strong (both sides) and return eval/ metrics."""

    def evaluator(policy, step: int) -> dict:
        rows = evaluate_policy(
            policy,
            {"weak": "weak", "strong": "strong"},
            games=config.eval_games,
            seed=config.seed + 10_007,
            n_envs=min(32, config.eval_games),
        )
        print(f"\nevaluation at step {step}:\n{format_table(rows)}", flush=True)
        metrics = {}
        for row in rows:
            for short, which in (("win", "wins"), ("draw", "draws"), ("loss", "losses")):
                metrics[f"eval/{row.opponent}/{short}_rate"] = row.total.rate(which)
            low, high = row.total.interval("wins")
            metrics[f"eval/{row.opponent}/win_ci_low"] = low
            metrics[f"eval/{row.opponent}/win_ci_high"] = high
        return metrics

    return evaluator


def main(argv=None) -> int:
    config = tyro.cli(TrainConfig, args=argv, description=__doc__.split("\n\n")[0])
    try:
        summary = train(config, evaluator=make_evaluator(config))
    except (ValueError, FileExistsError, FileNotFoundError, FloatingPointError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{summary['status']} at step {summary['step']}: policy in {summary['policy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
