"""The training checkpoint: what resuming a run needs, written and read here, side by side.

One file, ``RUN_DIR/checkpoints/training.pt``, loaded with ``torch.load(weights_only=True)``:
the training and agent configs, the weights with their sha256, the agent's optimizer state and
counters, the trainer's counters, its recent results, the collector (games in progress), every
generator and, by default, the replay buffer. ``read_training_checkpoint`` brings a file of any
earlier format version up to the current one, so the trainer reads one layout only.

Format versions:
    1: the first; fields added to it later were missing from the files made before them.
    2: every field present (``train_config.reward``, ``counters.wall_seconds``,
       ``collector.probabilities``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from agents.checkpoint import CheckpointError, read_payload, weights_sha256, wrong_file_type
from plumbing.config import config_to_dict
from plumbing.files import atomic_write

TRAINING_FORMAT_VERSION = 2
FILE_TYPE = "training"


def checkpoint_file(run_dir: str | os.PathLike) -> Path:
    """A run's training checkpoint."""
    return Path(run_dir) / "checkpoints" / "training.pt"


def previous_checkpoint(path: Path) -> Path:
    """Where the training checkpoint before ``path`` is kept."""
    return path.with_name(path.stem + ".prev" + path.suffix)


def has_checkpoint(path: Path) -> bool:
    """Whether ``path`` or the checkpoint before it exists."""
    return path.exists() or previous_checkpoint(path).exists()


def latest_checkpoint(path: Path, algorithm: str) -> tuple[dict, Path]:
    """The newest readable training checkpoint and its path: ``path``, else the one before it
    (saying why the newest could not serve).

    Raises:
        CheckpointError: neither can be read.
    """
    problems = []
    for candidate in (path, previous_checkpoint(path)):
        if not candidate.exists():
            problems.append(f"{candidate} is missing")
            continue
        try:
            payload = read_training_checkpoint(candidate, algorithm=algorithm)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if problems:
            step = payload["counters"]["step"]
            note = f"note: {problems[0]}; resuming from the checkpoint before it, {candidate} (step {step:,})"
            print(note, flush=True)
        return payload, candidate
    raise CheckpointError(f"no training checkpoint of {path.parent.parent} can be read: {'; '.join(problems)}")


def training_payload(*, train_config: dict, agent, spec: dict, counters: dict, recent: dict, latest_eval: dict,
                     collector: dict, rng: dict, buffer: dict | None, kept: dict | None = None) -> dict:  # fmt: skip
    """The checkpoint's contents (plain data and tensors) from the trainer's parts."""
    weights = {k: v.detach().cpu().clone() for k, v in agent.state_dict().items()}
    return {
        "format_version": TRAINING_FORMAT_VERSION,
        "kind": FILE_TYPE,
        "algorithm": train_config["agent"],
        "train_config": train_config,
        "agent_config": config_to_dict(agent.config),
        "spec": spec,
        "state_dict": weights,
        "weights_sha256": weights_sha256(weights),
        "agent_training": agent.training_state(),
        "counters": counters,
        "recent": recent,
        "latest_eval": latest_eval,
        "collector": collector,
        "rng": rng,
        "buffer": buffer,
        "kept": kept,  # the kept opponents' buffer (kept_opponents), if any
    }


def write_training_checkpoint(path: str | os.PathLike, payload: dict, previous: str | os.PathLike) -> None:
    """Write ``payload`` to ``path`` atomically, keeping the file it replaces as ``previous``."""
    path = Path(path)
    if path.exists():  # the last good checkpoint stays as the fallback
        os.replace(path, previous)
    atomic_write(path, lambda file: torch.save(payload, file))


def read_training_checkpoint(path: str | os.PathLike, algorithm: str | None = None) -> dict:
    """Read, verify and bring up to the current format a training checkpoint.

    Raises:
        CheckpointError: missing, unreadable, another kind or algorithm, of an unknown format
            version, or weights not matching their hash.
    """
    path = Path(path)
    payload = read_payload(path, what="training checkpoint")
    if payload.get("kind") != FILE_TYPE:
        raise wrong_file_type(path, payload, FILE_TYPE)
    version = payload.get("format_version")
    if version not in MIGRATIONS and version != TRAINING_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has training checkpoint format version {version!r}; this code reads 1 to {TRAINING_FORMAT_VERSION}"
        )
    if algorithm is not None and payload.get("algorithm") != algorithm:
        raise CheckpointError(f"{path} trains a {payload.get('algorithm')!r} agent, expected {algorithm!r}")
    if weights_sha256(payload["state_dict"]) != payload.get("weights_sha256"):
        raise CheckpointError(f"{path}: the weights do not match their sha256; the file was changed or damaged")
    while payload["format_version"] != TRAINING_FORMAT_VERSION:
        payload = MIGRATIONS[payload["format_version"]](payload)
    return payload


def _from_version_1(payload: dict) -> dict:
    """Fill the fields added after the first files were written with what those runs used."""
    payload["train_config"].setdefault("reward", "game")
    payload["counters"].setdefault("wall_seconds", 0.0)
    collector = payload["collector"]
    collector.setdefault("probabilities", [1.0] * len(collector["labels"]))
    payload["format_version"] = 2
    return payload


MIGRATIONS = {1: _from_version_1}  # format version -> the step to the next one
