"""A whole update as one CUDA graph, a refused step decided on the device, and metrics read late.

On a GPU a small network's update is bound by kernel launches, Python and waits for the device,
not by arithmetic: TD-MPC2 ``5M`` made 44 updates per second on an H200 (benchmarks/RESULTS.md,
"GPU check"), 23 ms for work the card does in about one. Three pieces let an agent run its whole
update (losses, backward, clipping, optimizer steps, target updates) as one replayed graph:

- ``UpdateGraph`` calls an update function eagerly for its first calls, then records it once as
  a CUDA graph and from then on copies the new inputs into the recorded ones and replays it: one
  launch per update instead of hundreds. On the CPU it simply calls the function, so the CPU
  runs, and tests, the very function the GPU replays.
- ``gated_step`` and ``gated_lerp_`` apply an optimizer step or a Polyak update unless a flag
  computed on the device says not to, so a non-finite loss still changes nothing without the host
  waiting to look at it.
- ``DeferredMetrics`` keeps an update's metrics as one device tensor and converts them to floats
  at the first read, which is also where a refused update raises its ``FloatingPointError``.

What a recorded function must obey: no waits for the device (no ``.item()``, ``float(tensor)``,
``.tolist()``, no Python branch on a tensor's value, no tensors built from host data), inputs
and output tensors of fixed shapes, and no random draws (the caller draws from the agent's
generator, in the order the eager update draws, and passes the draws in). Anything that replaces
a tensor the graph reads or writes (loading an optimizer state) must call ``reset``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import torch

GRAPH_SAFE_COMPILE_MODES = {
    "default": "default",
    "reduce-overhead": "default",  # the graph is ours: torch.compile's own CUDA graphs cannot nest inside it
    "max-autotune": "max-autotune-no-cudagraphs",
}
"""The torch.compile mode a config's ``compile_mode`` becomes for code inside an ``UpdateGraph``."""


class UpdateGraph:
    """Call ``function(*inputs) -> Tensor`` eagerly ``warmup`` times, then record it as a CUDA graph and replay it.

    Each call returns a fresh tensor (a copy of the recorded output). Calls with other input
    shapes or dtypes warm up and record anew. On a non-CUDA device every call is a plain call.

    Args:
        function: the update; see the module docstring for what it must obey.
        device: where the update runs.
        warmup: eager calls before recording (lazy initialisation, optimizer states and
            torch.compile's compilation happen in these, never inside the recording).
    """

    def __init__(self, function: Callable[..., torch.Tensor], device: torch.device, warmup: int = 3):
        self.function, self.device, self.warmup = function, torch.device(device), warmup
        self._side: torch.cuda.Stream | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the recorded graph: the next calls warm up and record anew."""
        self._graph: torch.cuda.CUDAGraph | None = None
        self._inputs: list[torch.Tensor] = []
        self._output: torch.Tensor | None = None
        self._key: tuple | None = None
        self._calls = 0

    @property
    def recorded(self) -> bool:
        """Whether calls now replay a recorded graph."""
        return self._graph is not None

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.device.type != "cuda":
            return self.function(*inputs)
        key = tuple((tuple(t.shape), t.dtype, t.device) for t in inputs)
        if key != self._key:
            self.reset()
            self._key = key
        if self._graph is None:
            if self._calls < self.warmup:
                self._calls += 1
                return self._eager(inputs)
            self._record(inputs)
        else:
            for recorded, value in zip(self._inputs, inputs):
                recorded.copy_(value)
        self._graph.replay()
        return self._output.clone()

    def _eager(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        # On a side stream, as PyTorch's CUDA-graph notes advise for warm-up; the two waits (a few
        # warm-up calls only) keep every tensor's lifetime simple across the two streams.
        if self._side is None:
            self._side = torch.cuda.Stream(self.device)
        torch.cuda.synchronize(self.device)
        with torch.cuda.stream(self._side):
            output = self.function(*inputs)
        torch.cuda.synchronize(self.device)
        return output

    def _record(self, inputs: Sequence[torch.Tensor]) -> None:
        self._inputs = [t.detach().clone() for t in inputs]
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):  # waits for the copies above, then records without running
            self._output = self.function(*self._inputs)
        self._graph = graph


def gated_step(optimizer: torch.optim.Optimizer, refuse: torch.Tensor) -> None:
    """``optimizer.step()``, except that where ``refuse`` (a bool tensor on the device) is True it
    changes nothing: no weight, moment or step count moves. Decided on the device, without a wait.

    It sets the skip flag that fused Adam reads (the one ``torch.amp.GradScaler`` sets after an
    overflow), so the optimizer must be a fused Adam.
    """
    if not optimizer.defaults.get("fused"):
        raise ValueError(f"gated_step needs a fused optimizer (fused=True), got {type(optimizer).__name__}")
    optimizer.found_inf = refuse.float()
    try:
        optimizer.step()
    finally:
        del optimizer.found_inf


def gated_lerp_(targets: list[torch.Tensor], sources: list[torch.Tensor], weight: float, refuse: torch.Tensor):
    """``targets += weight * (sources - targets)`` (Polyak), or no change where ``refuse`` is True."""
    with torch.no_grad():
        ends = [torch.where(refuse, target, source) for target, source in zip(targets, sources)]
        torch._foreach_lerp_(targets, ends, weight)


class DeferredMetrics(Mapping[str, float]):
    """An update's metrics by name, kept as one device tensor until the first read.

    Reading (any value, ``items()``, ``dict(...)``) converts them to floats once and calls
    ``check`` on them first, which raises ``FloatingPointError`` for an update whose step was
    refused; every later read raises again. Iterating over the names alone does not wait.
    """

    def __init__(self, names: Sequence[str], values: torch.Tensor, check: Callable[[dict[str, float]], None]):
        self._names, self._values, self._check = tuple(names), values, check
        self._floats: dict[str, float] | None = None

    def _read(self) -> dict[str, float]:
        if self._floats is None:
            floats = dict(zip(self._names, self._values.tolist()))
            self._check(floats)
            self._floats = floats
        return self._floats

    def __getitem__(self, name: str) -> float:
        return self._read()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"DeferredMetrics({dict(zip(self._names, self._values.tolist()))})"
