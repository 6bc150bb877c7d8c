"""The critic's two passes of a SAC update on the CPU, with a hand-written backward.

A SAC update evaluates the critic ensemble on (obs, action) for the critic loss and on
(obs, pi(obs)) for the actor loss, whose gradient must reach the action but never the critic's
weights. ``CriticPair`` runs both passes as one autograd node and back-propagates only what the
update uses: the weight gradients from the first pass, written straight into the stacked
(E, in, out) gradients (autograd over the unbound members stacks them afterwards), and the
action's gradient from the second. The actor loss takes the minimum over the members, so each
state's gradient reaches one member; the second pass's backward runs through each member only for
the states whose gradient reached it, which halves that pass's backward (at batch 256 and 256x256
layers, one of the update's sixteen large matrix products). The ReLU backward works in place.
The gradients are autograd's over the two passes up to float rounding (the row subsets change
the order of the summation inside a matrix product).
"""

from __future__ import annotations

import torch


def _relu_mlp(x: torch.Tensor, weights, biases) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A ReLU MLP's output and the inputs of its layers after the first (the ReLU outputs).
    Weights are (in, out); biases (1, out)."""
    hidden = []
    for weight, bias in zip(weights[:-1], biases[:-1]):
        x = torch.addmm(bias, x, weight).relu_()
        hidden.append(x)
    return torch.addmm(biases[-1], x, weights[-1]), hidden


def _relu_backward_(grad: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """ReLU's backward in place: zero ``grad`` where the ReLU's ``output`` is 0 (no new tensor)."""
    return torch.ops.aten.threshold_backward.grad_input(grad, output, 0, grad_input=grad)


def _relu_mlp_backward(grad, inputs, weights, weight_grads=None, bias_grads=None) -> torch.Tensor:
    """Back-propagate the output's gradient ``grad`` through a ReLU MLP whose layers saw ``inputs``.

    With ``weight_grads`` and ``bias_grads`` (lists of tensors to fill), writes each layer's weight
    (in, out) and bias (1, out) gradient into them. Returns the gradient of the first layer's
    output, from which the caller takes the input's gradient where it needs one.
    """
    for layer in range(len(weights) - 1, -1, -1):
        if weight_grads is not None:
            torch.mm(inputs[layer].t(), grad, out=weight_grads[layer])
            torch.sum(grad, 0, keepdim=True, out=bias_grads[layer])
        if layer > 0:
            grad = _relu_backward_(torch.mm(grad, weights[layer].t()), inputs[layer])
    return grad


class CriticPair(torch.autograd.Function):
    """An ensemble of ReLU MLPs on ``cat(features, action)`` and on ``cat(features, pi_action)``:
    the first output's gradient trains the weights, the second's reaches ``pi_action`` only.

    ``apply(features, action, pi_action, *weights, *biases)`` with ``EnsembleMLP``'s stacked
    weights (E, in, out) and biases (E, 1, out), the last layer's out being 1; ``features`` and
    ``action`` are data (no gradient). Returns (q, q_pi), each (E, B).
    """

    @staticmethod
    def forward(ctx, features, action, pi_action, *params):
        layers = len(params) // 2
        weights, biases = params[:layers], params[layers:]
        x, x_pi = torch.cat([features, action], dim=1), torch.cat([features, pi_action], dim=1)
        q, q_pi, hidden = [], [], []
        for member in range(len(weights[0])):
            ws, bs = [w[member] for w in weights], [b[member] for b in biases]
            for inputs, outputs in ((x, q), (x_pi, q_pi)):
                out, member_hidden = _relu_mlp(inputs, ws, bs)
                outputs.append(out[:, 0])
                hidden.extend(member_hidden)
        ctx.save_for_backward(x, *hidden, *weights)
        ctx.layers, ctx.action_dim = layers, action.shape[1]
        return torch.stack(q), torch.stack(q_pi)

    @staticmethod
    def backward(ctx, grad_q, grad_q_pi):
        layers, saved = ctx.layers, ctx.saved_tensors
        x, hidden, weights = saved[0], saved[1:-layers], saved[-layers:]
        weight_grads = [w.new_empty(w.shape) for w in weights]
        bias_grads = [w.new_empty((len(w), 1, w.shape[2])) for w in weights]
        grad_pi_action = grad_q_pi.new_zeros((len(x), ctx.action_dim))
        per_pass = layers - 1
        for member in range(len(weights[0])):
            ws = [w[member] for w in weights]
            first = 2 * member * per_pass  # this member's (obs, action) pass, then its (obs, pi) pass
            inputs = [x, *hidden[first : first + per_pass]]
            member_grads = [g[member] for g in weight_grads], [g[member] for g in bias_grads]
            _relu_mlp_backward(grad_q[member].unsqueeze(1), inputs, ws, *member_grads)
            rows = grad_q_pi[member].nonzero().squeeze(1)  # the states whose minimum this member is
            pi_hidden = [h.index_select(0, rows) for h in hidden[first + per_pass : first + 2 * per_pass]]
            grad = _relu_mlp_backward(grad_q_pi[member, rows].unsqueeze(1), [None, *pi_hidden], ws)
            # the action's gradient: through the rows of the first layer's weight that the action enters
            grad_pi_action.index_add_(0, rows, torch.mm(grad, ws[0][-ctx.action_dim :].t()))
        return None, None, grad_pi_action, *weight_grads, *bias_grads
