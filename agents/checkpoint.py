"""Checkpoints that describe themselves: one file format for every algorithm.

A policy checkpoint holds the algorithm's name, its full config, the observation/action spec,
the weights, the training step, the parent checkpoint, a format version and a sha256 of the
weights. Loading uses ``torch.load(weights_only=True)`` (no pickled code), checks the version and
the hash, and hands back plain data from which the registry rebuilds the agent.

Writes are atomic: a temporary file in the same directory is written, flushed, fsynced and
renamed over the target, so a crash leaves either the old file or the new one, never half of
one (conventions: SB3#171, tdmpc2#78 are what this avoids).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from plumbing.files import atomic_write

FORMAT_VERSION = 1
_POLICY_FILE = "policy"  # the file type, stored under the payload key "kind" (kept: files on disk carry it)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: missing, truncated, tampered with, or of another kind."""


@dataclass
class Checkpoint:
    """The contents of a policy checkpoint.

    Attributes:
        algorithm: registry name of the agent ("sac", "tdmpc2", ...).
        config: the agent's full config as plain data (dataclasses.asdict).
        spec: the observation/action spec as plain data.
        state_dict: the weights (name -> tensor).
        step: training step at which it was saved.
        parent: sha256 of the checkpoint it was trained from, or None.
        extra: small plain-data notes (e.g. evaluation results).
    """

    algorithm: str
    config: dict
    spec: dict
    state_dict: dict[str, torch.Tensor]
    step: int = 0
    parent: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return weights_sha256(self.state_dict)


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """A hash of the weights that depends on names, dtypes, shapes and values only (not on the
    device, the order of the dict or the serialisation)."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: hash the raw 16-bit patterns
            tensor = tensor.view(torch.int16)
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> str:
    """Write a policy checkpoint atomically; returns the sha256 of its weights."""
    weights = {name: tensor.detach().to("cpu").clone() for name, tensor in checkpoint.state_dict.items()}
    digest = weights_sha256(weights)
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": _POLICY_FILE,
        "algorithm": checkpoint.algorithm,
        "config": checkpoint.config,
        "spec": checkpoint.spec,
        "step": int(checkpoint.step),
        "parent": checkpoint.parent,
        "extra": checkpoint.extra,
        "weights_sha256": digest,
        "state_dict": weights,
    }
    atomic_write(path, lambda file: torch.save(payload, file))
    return digest


def average_checkpoints(checkpoints: list[Checkpoint]) -> Checkpoint:
    """The checkpoint whose weights are the mean of the given ones' (stochastic weight averaging:
    Izmailov et al. 2018, for snapshots of one training line, which lie close enough together that
    their mean is a good policy too; measured on our SAC line in benchmarks/RESULTS.md).

    Floating-point tensors are averaged in float64 and stored in their own dtype; other tensors
    (counters) are the last checkpoint's. Algorithm, config, spec and step are the last one's, its
    parent the last one's weights; ``extra["averaged"]`` lists every input's sha256 and step.

    Raises:
        CheckpointError: no checkpoints, or two that differ in algorithm, spec, weight names,
            shapes or dtypes (a mean of different networks is not a network).
    """
    if not checkpoints:
        raise CheckpointError("nothing to average: give at least one checkpoint")
    last = checkpoints[-1]
    for other in checkpoints[:-1]:
        if other.algorithm != last.algorithm:
            raise CheckpointError(f"cannot average a {other.algorithm!r} checkpoint with a {last.algorithm!r} one")
        if other.spec != last.spec:
            raise CheckpointError(f"cannot average checkpoints of different specs: {other.spec} and {last.spec}")
        if sorted(other.state_dict) != sorted(last.state_dict):
            names = sorted(set(other.state_dict) ^ set(last.state_dict))
            raise CheckpointError(f"cannot average networks with different weights: only one of them has {names[:3]}")
        for name, tensor in other.state_dict.items():
            mine = last.state_dict[name]
            if tensor.shape != mine.shape or tensor.dtype != mine.dtype:
                raise CheckpointError(
                    f"cannot average networks of different sizes: {name} is {tuple(tensor.shape)} {tensor.dtype} "
                    f"in one and {tuple(mine.shape)} {mine.dtype} in another"
                )
    weights = {}
    for name, tensor in last.state_dict.items():
        if tensor.is_floating_point():
            total = sum(checkpoint.state_dict[name].to("cpu", torch.float64) for checkpoint in checkpoints)
            weights[name] = (total / len(checkpoints)).to(tensor.dtype)
        else:
            weights[name] = tensor.detach().to("cpu").clone()
    averaged = [{"sha256": checkpoint.sha256, "step": checkpoint.step} for checkpoint in checkpoints]
    return Checkpoint(
        algorithm=last.algorithm,
        config=last.config,
        spec=last.spec,
        state_dict=weights,
        step=last.step,
        parent=last.sha256,
        extra={"averaged": averaged},
    )


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format
_PICKLE_MAGIC = b"\x80"  # PyTorch's legacy format and plain pickles


def _describe_unreadable(path: Path, error: Exception) -> str:
    """Why ``torch.load`` refused a file, said by what the file is (never suggesting unsafe loading)."""
    head = path.read_bytes()[:512]
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC):
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            return (
                "it holds pickled Python objects, which are refused so that loading runs no code (a file of "
                "another project, or a tampered one)"
            )
        return "it is truncated or corrupted"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not a PyTorch file"
    return "it is a text file, not a checkpoint"


def read_payload(path: str | os.PathLike, what: str = "checkpoint") -> dict:
    """``torch.load(path, weights_only=True)`` with errors that say what the file is instead.

    Raises:
        CheckpointError: missing, a directory, empty, text, truncated, holding pickled code, or not a dict.
    """
    path = Path(path)
    if path.is_dir():
        inside = [p for p in (path / "policy.pt", path / "checkpoints" / "training.pt") if p.is_file()]
        hint = f"; use {inside[0]}" if inside else ""
        raise CheckpointError(f"{what} {path} is a directory, not a checkpoint file{hint}")
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{what} {path} is an empty file")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{what} {path} cannot be read: {_describe_unreadable(path, error)}") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is a PyTorch file of another project (it holds a {type(payload).__name__})")
    return payload


def wrong_file_type(path: Path, payload: dict, wanted: str) -> CheckpointError:
    file_type = payload.get("kind")
    if file_type == "training" and wanted == _POLICY_FILE:
        policy = path.parent.parent / "policy.pt"
        hint = f"use {policy}" if policy.is_file() else "use the run's policy.pt"
        return CheckpointError(f"{path} is a training checkpoint (for resuming a run), not a policy: {hint}")
    if file_type == _POLICY_FILE and wanted == "training":
        return CheckpointError(
            f"{path} is a policy checkpoint, not a training checkpoint (RUN_DIR/checkpoints/training.pt)"
        )
    keys = ", ".join(sorted(map(str, payload))[:5])
    return CheckpointError(
        f"{path} is a PyTorch file of another project, not a hockey-league {wanted} checkpoint (its keys: {keys})"
    )


def load_checkpoint(path: str | os.PathLike, algorithm: str | None = None) -> Checkpoint:
    """Read and verify a policy checkpoint.

    Args:
        path: the checkpoint file.
        algorithm: if given, refuse a checkpoint of another algorithm.

    Raises:
        CheckpointError: the file is missing, unreadable (truncated, corrupted, pickled code),
            of an unknown format version, of another algorithm, or its weights do not match
            their recorded sha256.
    """
    path = Path(path)
    payload = read_payload(path)
    if payload.get("kind") != _POLICY_FILE:
        raise wrong_file_type(path, payload, _POLICY_FILE)
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; this code reads {FORMAT_VERSION}")
    missing = [key for key in ("algorithm", "config", "spec", "state_dict", "weights_sha256") if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks the fields {missing}")
    if algorithm is not None and payload["algorithm"] != algorithm:
        raise CheckpointError(f"{path} holds a {payload['algorithm']!r} agent, expected {algorithm!r}")
    digest = weights_sha256(payload["state_dict"])
    if digest != payload["weights_sha256"]:
        raise CheckpointError(
            f"{path}: the weights' sha256 is {digest[:16]}..., the file records {payload['weights_sha256'][:16]}...; "
            "the file was modified or corrupted"
        )
    return Checkpoint(
        algorithm=payload["algorithm"],
        config=payload["config"],
        spec=payload["spec"],
        state_dict=payload["state_dict"],
        step=int(payload.get("step", 0)),
        parent=payload.get("parent"),
        extra=payload.get("extra", {}),
    )
