"""SAC's losses and their gradients written out by hand, for the eager update on a CPU.

Why: on a CPU the update is bound by memory traffic, not by autograd's bookkeeping. Autograd puts
every 256x256 activation and gradient of an update in freshly allocated memory that is no longer
in the cache, and the element-wise passes over it (the bias copies of ``addmm``, ReLU and its
backward) then cost 6-9x what they cost on cached memory (profile, benchmarks/RESULTS.md). Here
the same passes write into tensors kept from one update to the next, whose working set (about
3 MB at the default sizes) mostly stays in the cache. On top of that the actor runs once over the
next and the current observations, the actor loss's backward through the critics runs over the
rows each critic's minimum picks (15 large products per update instead of 16), and the layer
views are made once. ``benchmarks/bench_agents.py`` times this update beside autograd's and a
lean plain SAC (RESULTS: 1.1-1.27x autograd's).

The math is ``SACAgent._losses`` followed by its ``backward()``: the critic loss, the actor loss
through detached critic weights and the temperature loss (``agents.sac.losses``, the same pure
functions compute the values). It assumes the networks of agents/sac/networks.py: linear layers
with ReLU between them. tests/test_sac_handwritten.py checks every gradient against autograd's in
float64, so a change there that this module does not follow fails it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from agents.common.features import with_features
from agents.common.nets import EnsembleMLP
from agents.sac import losses

# ReLU's backward written into a tensor of our choosing (here: its incoming gradient, in place);
# torch.nn.functional has no such out= form.
_threshold_backward = torch.ops.aten.threshold_backward.grad_input


class _Layer(NamedTuple):
    """One linear layer, y = x @ weight + bias, and the tensors its gradients are written to.

    All are views shaped as the products use them: weight and weight_grad (in, out), weight_t
    (out, in) for the backward's product, bias and bias_grad (out,); for an ``nn.Linear`` weight and
    weight_grad are transposed views of its (out, in) weight.
    """

    weight: torch.Tensor
    weight_t: torch.Tensor
    bias: torch.Tensor
    weight_grad: torch.Tensor
    bias_grad: torch.Tensor


def _grad(parameter: torch.Tensor) -> torch.Tensor:
    """The parameter's gradient tensor, made once and then overwritten in place each update."""
    if parameter.grad is None or parameter.grad.shape != parameter.shape or parameter.grad.dtype != parameter.dtype:
        parameter.grad = torch.zeros_like(parameter)
    return parameter.grad


class _PolicyPass(NamedTuple):
    """What the policy's backward needs from its forward pass."""

    hidden: list[torch.Tensor]  # the inputs of the actor's layers
    raw: torch.Tensor  # the pre-squash half of the actor's output, which log_std is made from
    noise: torch.Tensor
    std: torch.Tensor


class HandwrittenGradients:
    """Computes SAC's losses and writes their gradients into the parameters' ``.grad``.

    Args:
        agent: the SACAgent whose networks, temperature and configuration it uses (read afresh
            on every call, so loaded weights or a changed dtype are picked up).
    """

    def __init__(self, agent):
        layers = [type(module) for module in agent.actor.net]
        if set(layers) != {torch.nn.Linear, torch.nn.ReLU} or not isinstance(agent.critic.q, EnsembleMLP):
            raise ValueError(f"sac: handwritten gradients need ReLU networks of linear layers, not {layers}")
        if agent.critic.q.activation is not torch.nn.functional.relu:
            raise ValueError("sac: handwritten gradients need critics with ReLU activations")
        self.agent = agent
        self._kept: dict[str, torch.Tensor] = {}
        self._views_key: tuple = ()
        self._views: tuple = ()

    def __call__(self, obs, action, reward, next_obs, terminated, noise) -> torch.Tensor:
        """Overwrites every trained parameter's ``.grad`` with the summed loss's gradient; returns
        the metrics (the agent's ``_METRICS`` order) as one tensor, as ``SACAgent._losses`` does.

        Raises:
            RuntimeError: a parameter is frozen (``eval()`` or ``requires_grad_(False)``). Autograd
                leaves a frozen parameter without a gradient; this module would train it.
        """
        parameters = (p for group in self.agent.optimizer.param_groups for p in group["params"])
        if not all(p.requires_grad for p in parameters):
            raise RuntimeError(
                f"{self.agent.name}: update() on frozen parameters (after eval() or requires_grad_(False))"
            )
        with torch.no_grad():
            return self._update(obs, action, reward, next_obs, terminated, noise)

    # ------------------------------------------------------------------ the update
    def _update(self, obs, action, reward, next_obs, terminated, noise) -> torch.Tensor:
        agent, config = self.agent, self.agent.config
        actor_layers, critic_layers, target_layers = self._layer_views()
        members, batch = len(critic_layers), len(obs)
        alpha = agent.log_alpha.exp()

        # The actor on the next and on the current observations in one pass of 2B rows (its weights
        # do not change in between): the soft target takes the first half, the actor loss the second.
        both = with_features(torch.cat([next_obs, obs]), config.features)
        next_features, features = both[:batch], both[batch:]
        actions, log_probs, policy = self._policy(actor_layers, both, noise.reshape(2 * batch, -1))
        next_action, action_pi = actions[:batch], actions[batch:]
        next_log_prob, log_prob = log_probs[:batch], log_probs[batch:]
        policy = _PolicyPass([h[batch:] for h in policy.hidden], *(t[batch:] for t in policy[1:]))

        # The soft target: the target critics on the next observation.
        next_inputs = self._critic_inputs("next_inputs", next_features, agent._to_env(next_action))
        next_q = self._kept_tensor("next_q", (members, batch, 1), obs)
        for member in range(members):
            self._forward(target_layers[member], next_inputs, "critic0", out=next_q[member])
        target = losses.soft_target(reward, terminated, next_q.squeeze(-1), next_log_prob, alpha, config.gamma)

        # The critic loss, one member at a time: its backward follows its forward, so the members
        # (and the target passes above) share one set of kept activations. Fewer kept tensors, more
        # of them in the cache.
        inputs = self._critic_inputs("inputs", features, action)  # stored in the environment's units
        q = self._kept_tensor("q", (members, batch, 1), obs)
        for member in range(members):
            layers = critic_layers[member]
            hidden = self._forward(layers, inputs, "critic0", out=q[member])
            grad = (q[member] - target.unsqueeze(-1)).mul_(2.0 / batch)  # d sum_e mean_b (q - target)^2
            self._backward(layers, hidden, grad, weight_grads=True, input_grad=False)
        q = q.squeeze(-1)
        critic_loss = losses.critic_loss(q, target)

        # The actor loss through the critics with their weights held fixed.
        inputs_pi = self._critic_inputs("inputs_pi", features, agent._to_env(action_pi))
        q_pi = self._kept_tensor("q_pi", (members, batch, 1), obs)
        hidden_pi = [  # all members' activations are needed at once here
            self._forward(critic_layers[member], inputs_pi, f"critic{member}", out=q_pi[member])
            for member in range(members)
        ]
        q_pi = q_pi.squeeze(-1)
        actor_loss = losses.actor_loss(q_pi, log_prob, alpha)
        # d actor_loss / d q_pi is -1/B at the member the minimum picks and 0 at the others (as
        # autograd routes a min's gradient), so each member's backward runs over its picked rows only:
        # the rows it does not pick would carry zeros through every layer.
        picked = q_pi.min(dim=0).indices
        action_grad = torch.zeros_like(action_pi)
        for member in range(members):
            rows = (picked == member).nonzero().squeeze(1)
            if len(rows) == 0:
                continue
            hidden = [None]  # the critic's input: no weight gradients here, so not needed
            for i, h in enumerate(hidden_pi[member][1:], start=1):
                hidden.append(
                    torch.index_select(h, 0, rows, out=self._kept_tensor(f"picked{i}", h.shape, h)[: len(rows)])
                )
            grad = torch.full((len(rows), 1), -1.0 / batch, dtype=obs.dtype, device=obs.device)
            grad = self._backward(critic_layers[member], hidden, grad, weight_grads=False, input_grad=True)
            action_grad.index_add_(0, rows, grad[:, features.shape[1] :])
        if not agent._unit_box:  # the critics saw the action scaled into the environment's box
            action_grad.mul_(agent._scale)
        out_grad = self._policy_backward(policy, action_pi, action_grad, alpha / batch)
        self._backward(actor_layers, policy.hidden, out_grad, weight_grads=True, input_grad=False)

        if config.autotune_alpha:
            alpha_loss = losses.alpha_loss(agent.log_alpha, log_prob, agent.target_entropy)
            _grad(agent.log_alpha).copy_(-(log_prob + agent.target_entropy).mean())
        else:
            alpha_loss = torch.zeros((), device=obs.device, dtype=obs.dtype)
        return torch.stack([critic_loss, actor_loss, alpha_loss, alpha, -log_prob.mean(), q.mean()])

    # ------------------------------------------------------------------ the policy
    def _policy(self, layers, features, noise):
        """tanh-squashed sample and its log-probability (Actor.forward and losses.squashed_gaussian_sample)."""
        actor = self.agent.actor
        out = self._kept_tensor("actor_out", (len(features), layers[-1].weight.shape[1]), features)
        hidden = self._forward(layers, features, "actor", out=out)
        mean, log_std = actor.head(out)
        action, log_prob = losses.squashed_gaussian_sample(mean, log_std, noise)
        return action, log_prob, _PolicyPass(hidden, out[:, mean.shape[1] :], noise, log_std.exp())

    def _policy_backward(self, policy: _PolicyPass, action, action_grad, log_prob_grad) -> torch.Tensor:
        """d loss / d actor output from d loss / d action and d loss / d log_prob (a scalar per row).

        With u = mean + std * noise and action = tanh(u), log_prob has two parts that move: the tanh
        correction -log(1 - tanh(u)^2), whose derivative in u is 2 tanh(u), and the Gaussian's
        -log_std, whose derivative in each log_std is -1. And log_std = min + c (tanh(raw) + 1)
        has derivative c (1 - tanh(raw)^2) in raw.
        """
        actor = self.agent.actor
        grad_u = action_grad.mul_(1.0 - action * action).add_(action * (2.0 * log_prob_grad))
        grad_log_std = grad_u * policy.noise * policy.std - log_prob_grad
        half_range = 0.5 * (actor.log_std_max - actor.log_std_min)
        tanh_raw = torch.tanh(policy.raw)
        grad_raw = grad_log_std.mul_(1.0 - tanh_raw * tanh_raw).mul_(half_range)
        return torch.cat([grad_u, grad_raw], dim=-1)

    # ------------------------------------------------------------------ layers
    def _forward(self, layers: list[_Layer], x: torch.Tensor, name: str, out: torch.Tensor) -> list[torch.Tensor]:
        """x through the layers, ReLU between them, the output into out; returns each layer's input."""
        hidden = [x]
        for i, layer in enumerate(layers[:-1]):
            h = self._kept_tensor(f"{name}.{i}", (len(x), layer.weight.shape[1]), x)
            # The product, then the bias: addmm would first copy the bias into h and make the product
            # read it back, one more pass over h (measured: 5-15% slower per layer out of the cache).
            hidden.append(torch.mm(hidden[-1], layer.weight, out=h).add_(layer.bias).clamp_min_(0.0))
        torch.addmm(layers[-1].bias, hidden[-1], layers[-1].weight, out=out)
        return hidden

    def _backward(
        self, layers: list[_Layer], hidden: list[torch.Tensor], grad: torch.Tensor, weight_grads: bool, input_grad: bool
    ) -> torch.Tensor | None:
        """Back from grad (d loss / d output): writes the layers' gradients when weight_grads and
        returns d loss / d input when input_grad."""
        for i in reversed(range(len(layers))):
            layer = layers[i]
            if weight_grads:
                torch.mm(hidden[i].t(), grad, out=layer.weight_grad)
                torch.sum(grad, dim=0, out=layer.bias_grad)
            if i == 0 and not input_grad:
                return None
            below = self._kept_tensor(f"grad{i}", (len(grad), layer.weight.shape[0]), grad)
            grad = torch.mm(grad, layer.weight_t, out=below)
            if i > 0:  # ReLU's backward: zero where its output was zero (as autograd's, which uses the output)
                _threshold_backward(grad, hidden[i], 0.0, grad_input=grad)
        return grad

    def _layer_views(self) -> tuple[list[_Layer], list[list[_Layer]], list[list[_Layer]]]:
        """The actor's, the critics' and the target critics' layers, made once and made anew only
        when a parameter or gradient tensor was replaced (a dtype or device change, a gradient set
        to None): a few dozen view ops fewer per update. The kept views hold the old tensors alive,
        so a replaced tensor cannot reappear at the same address."""
        agent = self.agent
        trained = [*agent.actor.parameters(), *agent.critic.parameters()]
        tensors = (*trained, *(_grad(p) for p in trained), *agent.critic_target.parameters())
        key = tuple(t.data_ptr() for t in tensors)
        if key != self._views_key:
            self._views = (
                self._actor_layers(),
                self._critic_layers(agent.critic, with_grads=True),
                self._critic_layers(agent.critic_target, with_grads=False),
            )
            self._views_key = key
        return self._views

    def _actor_layers(self) -> list[_Layer]:
        linears = [module for module in self.agent.actor.net if isinstance(module, torch.nn.Linear)]
        return [_Layer(m.weight.t(), m.weight, m.bias, _grad(m.weight).t(), _grad(m.bias)) for m in linears]

    @staticmethod
    def _critic_layers(critic, with_grads: bool) -> list[list[_Layer]]:
        ensemble = critic.q
        layers = []
        for member in range(ensemble.members):
            member_layers = []
            for weight, bias in zip(ensemble.weights, ensemble.biases):
                grads = (_grad(weight)[member], _grad(bias)[member, 0]) if with_grads else (None, None)
                member_layers.append(_Layer(weight[member], weight[member].t(), bias[member, 0], *grads))
            layers.append(member_layers)
        return layers

    def _critic_inputs(self, name: str, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        out = self._kept_tensor(name, (len(features), features.shape[1] + action.shape[1]), features)
        return torch.cat([features, action], dim=-1, out=out)

    def _kept_tensor(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """The tensor kept under name, or the first rows of it when it has more (the picked rows of
        the actor loss's backward); made anew when it has fewer rows, another width, dtype or device."""
        kept = self._kept.get(name)
        if (
            kept is None
            or kept.shape[1:] != shape[1:]
            or kept.shape[0] < shape[0]
            or kept.dtype != like.dtype
            or kept.device != like.device
        ):
            kept = self._kept[name] = like.new_empty(shape)
        return kept if kept.shape[0] == shape[0] else kept[: shape[0]]
