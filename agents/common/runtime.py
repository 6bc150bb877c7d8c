"""The one device rule and explicit seeding (conventions 10 and 11).

``resolve_device("auto")`` picks CUDA when present, else the CPU; nothing here changes global
state at import time. ``seed_everything`` seeds Python, NumPy's legacy generator and torch once
at an entry point; ``rng_states``/``set_rng_states`` capture and restore them for exact resumes.
``load_optimizer_state`` resumes an optimizer's moments under the learning rates it was built with.
``denormals_flushed`` runs a one-thread CPU update with denormal floats read and written as zero.
(How a process stops cleanly on a signal is ``plumbing.signals``.)
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda`` without a GPU is an error that says so."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r} was requested but torch sees no CUDA GPU; use 'auto' or 'cpu'")
        return torch.device(device)
    if device == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and torch's generators (CPU and all GPUs)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_states() -> dict:
    """The global generators' states as torch-loadable data."""
    state = {
        "python": random.getstate(),
        "numpy": _plain(np.random.get_state(legacy=False)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.array(numpy_state["state"]["key"], dtype=np.uint32)}
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain(value):
    """NumPy arrays inside a nested state become lists (torch's weights_only loader refuses arrays)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: dict) -> None:
    """Load a saved optimizer state (moments, step counts) but keep each group's learning rate and
    ``capturable`` flag as the optimizer was built from the config: a resume with ``--set lr=...``
    takes the new rate, and a state saved by an update that ran eagerly resumes one recorded as a
    CUDA graph (``graph_update``), which needs capturable steps, and the reverse."""
    kept = [{key: group[key] for key in ("lr", "capturable") if key in group} for group in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for group, values in zip(optimizer.param_groups, kept):
        group.update(values)


def flushing_denormals() -> bool:
    """Whether this thread's float operations now read and write denormal numbers as zero."""
    return float(np.float32(1e-39) * np.float32(1.0)) == 0.0


@contextlib.contextmanager
def denormals_flushed(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Within: on a CPU that torch runs on one thread, this thread's float operations read and
    write denormal numbers (below 1.2e-38 in float32) as zero (``torch.set_flush_denormal``);
    afterwards the flag is as it was (off, torch's default, unless the caller had set it).

    Why: a trained network's Adam moments hold thousands of denormals (ReLU units that have all but
    died get gradients of 1e-39 and so on), and each operation on one costs the CPU a slow assist:
    SAC learners update 1.02-1.17x faster with them flushed, more the more they hold (6k-16k in
    ours; benchmarks/bench_denormals.py).
    Values below 1.2e-38 become zero; a step Adam takes changes by about 1e-30 at most (its eps is
    1e-8). One thread only: the flag belongs to a thread, torch's intra-op workers keep their own,
    and a worker started inside the block would keep it for good. Nothing else in the process (the
    game's physics) runs with it, since it is restored on return.

    Args:
        device: where the work runs; on any other than the CPU nothing changes.
        enabled: False runs the block as it is (a config switch's off).
    """
    if (
        not enabled
        or device.type != "cpu"
        or torch.get_num_threads() != 1
        or flushing_denormals()  # the caller's own setting: left as it is
        or not torch.set_flush_denormal(True)  # this CPU cannot (called last: it sets the flag)
    ):
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
