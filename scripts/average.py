"""Average the weights of snapshots of one training line into one policy checkpoint (stochastic
weight averaging). A line's snapshots swing from one to the next; the mean of neighbours plays like
their average member or a little better, without the swings (benchmarks/RESULTS.md, twelfth session).

    python scripts/average.py runs/my-league/members/sac-*.pt --steps 4150000:4550016 --out runs/sac-avg.pt

The checkpoints must be of one network (algorithm, spec, weight names and shapes). The result keeps
the last one's config and step and lists every input's sha256 and step under ``extra``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.checkpoint import average_checkpoints, load_checkpoint, save_checkpoint
from plumbing.cli import entry_point


def _step_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition(":")
    try:
        bounds = (int(float(low)) if low else 0, int(float(high)) if high else sys.maxsize)
    except ValueError:
        bounds = None
    if not sep or bounds is None or bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH training steps (either may be empty), got {text!r}")
    return bounds


@entry_point
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="policy checkpoints (.pt) of one network")
    parser.add_argument("--out", required=True, help="where to write the averaged policy checkpoint")
    parser.add_argument(
        "--steps", type=_step_range, default=None, help="LOW:HIGH: only the checkpoints saved at these training steps"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    if any(Path(path).resolve() == out.resolve() for path in args.checkpoints):
        parser.error(f"--out {out} is one of the checkpoints to average; give a new file")
    checkpoints = [load_checkpoint(path) for path in args.checkpoints]
    if args.steps is not None:
        low, high = args.steps
        kept = [checkpoint for checkpoint in checkpoints if low <= checkpoint.step <= high]
        if not kept:
            steps = sorted(checkpoint.step for checkpoint in checkpoints)
            raise ValueError(f"no checkpoint was saved at steps {low} to {high}; the given ones were at {steps}")
        checkpoints = kept
    checkpoints.sort(key=lambda checkpoint: checkpoint.step)
    digest = save_checkpoint(out, average_checkpoints(checkpoints))
    print(
        f"averaged {len(checkpoints)} checkpoints (steps {checkpoints[0].step} to {checkpoints[-1].step}) "
        f"into {out} (weights sha256 {digest[:16]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
