"""Network blocks shared by the agents: plain MLPs and fused ensembles of MLPs.

An ensemble of E MLPs is stored as stacked weights (E, in, out). On a GPU it is evaluated with
one batched matrix multiply per layer, so SAC's twin critics (and TD-MPC2's five Q-functions)
cost one kernel per layer instead of E; on a CPU, where the batched multiply and its backward
copies cost more than the kernel launches they save, each member runs its own addmm.
``EnsembleMLP.forward`` can also run with detached parameters, which the actor loss uses to take
gradients through the critic's input without computing (and then discarding) gradients for the
critic's weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional


def _tanh_softplus(s: torch.Tensor) -> torch.Tensor:
    """tanh(softplus(x)) from s = sigmoid(x): with u = 1 - s, (1 - u^2) / (1 + u^2) = s (2 - s) / (1 + u^2)."""
    u = 1.0 - s
    return s * (2.0 - s) / (u * u + 1.0)


class _SigmoidMish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * _tanh_softplus(torch.sigmoid(x))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        t = _tanh_softplus(s)
        return grad * (t + x * s * (1.0 - t * t))  # d/dx tanh(softplus(x)) = (1 - t^2) sigmoid(x)


def mish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Mish, x * tanh(softplus(x)) (Misra 2019), TD-MPC2's activation.

    On CPU it is computed through one vectorised sigmoid: PyTorch's CPU Mish kernel (tanh and
    log1p per element) was 40% of a TD-MPC2 update and of a plan, and this form is about twice
    as fast eagerly and fuses into one loop under torch.compile. Elsewhere PyTorch's fused
    kernel is used (``inplace`` applies only there).
    """
    if x.device.type != "cpu":
        return functional.mish(x, inplace=inplace)
    return _SigmoidMish.apply(x)


class Mish(nn.Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mish(x, self.inplace)


ACTIVATIONS = {"relu": nn.ReLU, "mish": Mish, "elu": nn.ELU}
_FUNCTIONS = {"relu": functional.relu, "mish": mish, "elu": functional.elu}


def mlp(
    in_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str = "relu", layer_norm: bool = False
) -> nn.Sequential:
    """in -> hidden... -> out with the activation (and optionally LayerNorm) after each hidden layer."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if layer_norm:
            layers.append(nn.LayerNorm(size))
        layers.append(ACTIVATIONS[activation](inplace=True))
        width = size
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class EnsembleMLP(nn.Module):
    """E independent MLPs in stacked weights: input (B, in) or (E, B, in) -> (E, B, out).

    Each member is initialised like ``nn.Linear`` (uniform in +-1/sqrt(fan_in)).
    """

    def __init__(self, members: int, in_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
        self.members = members
        self.activation = _FUNCTIONS[activation]
        sizes = [in_dim, *hidden, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor, detach_params: bool = False) -> torch.Tensor:
        if x.device.type == "cpu":  # CPU: one addmm per member beats a batched matmul (benchmarks/RESULTS.md)
            return self._forward_per_member(x, detach_params)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            if detach_params:
                weight, bias = weight.detach(), bias.detach()
            # (B, in) @ (E, in, out) broadcasts to (E, B, out); baddbmm fuses the bias for 3-d input.
            x = torch.baddbmm(bias, x, weight) if x.dim() == 3 else torch.matmul(x, weight) + bias
            if i < last:
                x = self.activation(x)
        return x

    def _forward_per_member(self, x: torch.Tensor, detach_params: bool) -> torch.Tensor:
        last = len(self.weights) - 1
        xs = list(x) if x.dim() == 3 else [x] * self.members
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            if detach_params:
                weight, bias = weight.detach(), bias.detach()
            # unbind: one backward stack per layer, where indexing would zero-fill and copy per member
            ws, bs = weight.unbind(0), bias.unbind(0)
            xs = [torch.addmm(bs[e][0], xs[e], ws[e]) for e in range(self.members)]
            if i < last:  # in place: saves an allocation per member and layer (addmm's backward does not need h)
                xs = [self.activation(h, inplace=True) for h in xs]
        return torch.stack(xs)
