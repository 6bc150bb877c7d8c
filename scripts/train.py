"""Train one agent against a mix of opponents; also what one cluster batch job runs.

    python scripts/train.py --agent sac --opponents weak,strong --steps 1000000 --run-dir runs/sac

Options: ``--help``. A run writes RUN_DIR/policy.pt (the latest frozen policy), periodic
policies, CSV metrics and RUN_DIR/checkpoints/training.pt; ``--resume`` continues it exactly,
with the settings stored in the run (an option given again changes only what it names).
Ctrl-C, SIGTERM or SIGUSR1 save a checkpoint and stop.
"""

from __future__ import annotations

import dataclasses
import sys

import tyro

from agents.train import TrainConfig, stored_train_config, train
from evaluation.evaluate import evaluate_policy, format_table
from plumbing.cli import entry_point
from plumbing.config import config_from_dict


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


def parse(argv: list[str] | None) -> TrainConfig:
    """The run's settings: the command line over the defaults, or, on a resume, over the stored run's."""
    description = __doc__.split("\n\n")[0]
    config = tyro.cli(TrainConfig, args=argv, description=description)
    if not config.resume:
        return config
    stored = stored_train_config(config.run_dir)
    if stored is None:
        return config
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    values = {key: value for key, value in stored.items() if key in known}
    defaults = config_from_dict(TrainConfig, {**values, "resume": True}, where=f"settings stored in {config.run_dir}")
    return tyro.cli(TrainConfig, args=argv, description=description, default=defaults)


@entry_point
def main(argv: list[str] | None = None) -> int:
    config = parse(argv)
    summary = train(config, evaluator=make_evaluator(config))
    print(f"{summary['status']} at step {summary['step']}: policy in {summary['policy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
