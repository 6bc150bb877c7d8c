"""The GPU fast paths are config switches: off by default, validated, refused with one line where
they cannot work (CUDA graphs on a CPU), and a compiled update on the CPU computes what the eager
one does (slow: compiling takes a minute). The whole update that a GPU records as one CUDA graph
(``graph_update``) runs eagerly on the CPU: it computes what the eager update computes, and it
refuses a non-finite loss on the device, raising when its metrics are read."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from agents import make_agent
from agents.common.buffer import ReplayBuffer
from agents.registry import make_config
from agents.sac import SACConfig
from agents.tdmpc2 import TDMPC2Config


def test_the_switches_parse_and_default_off():
    assert (SACConfig().compile, SACConfig().compile_mode, SACConfig().graph_update) == (False, "default", False)
    config = TDMPC2Config()
    assert (config.compile, config.compile_update, config.compile_mode) == (False, False, "default")
    assert not config.graph_update and make_config("tdmpc2", {"graph_update": True}).graph_update
    parsed = make_config("sac", {"compile": True, "compile_mode": "reduce-overhead"})
    assert (parsed.compile, parsed.compile_mode) == (True, "reduce-overhead")
    parsed = make_config("tdmpc2", {"compile_update": True, "compile_mode": "max-autotune"})
    assert (parsed.compile_update, parsed.compile, parsed.compile_mode) == (True, False, "max-autotune")


@pytest.mark.parametrize("config", [SACConfig, TDMPC2Config])
def test_an_unknown_compile_mode_is_refused(config):
    with pytest.raises(ValueError, match="compile_mode must be one of default, reduce-overhead, max-autotune"):
        config(compile_mode="fast")


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("sac", {"compile": True}),
        ("tdmpc2", {"compile_update": True}),
        ("tdmpc2", {"compile": True}),
    ],
)
def test_cuda_graphs_on_the_cpu_are_refused_in_one_line(name, overrides):
    with pytest.raises(ValueError, match=r"reduce-overhead.*needs a CUDA device, not cpu") as error:
        make_agent(name, overrides={**overrides, "compile_mode": "reduce-overhead", "device": "cpu"})
    assert "\n" not in str(error.value)


def test_switches_off_leave_the_eager_functions_in_place():
    sac = make_agent("sac", overrides={"device": "cpu"})
    tdmpc2 = make_agent("tdmpc2", overrides={"device": "cpu"})
    assert sac._loss_fn == sac._losses
    assert tdmpc2._model_losses_fn == tdmpc2._model_losses
    assert sac._update_graph is None and tdmpc2._update_graph is None


def _batch(obs_dim: int = 18, action_dim: int = 4):
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(512, 8, obs_dim, action_dim)
    for _ in range(64):
        buffer.add(rng.normal(size=(8, obs_dim)), rng.uniform(-1, 1, (8, action_dim)), rng.normal(size=8),
                   rng.normal(size=(8, obs_dim)), rng.random(8) < 0.05, np.zeros(8, dtype=bool))  # fmt: skip
    return buffer.sample(32, rng)


@pytest.mark.slow
def test_a_compiled_sac_update_on_the_cpu_computes_the_eager_losses():
    torch.set_num_threads(1)
    overrides = {"hidden": (32, 32), "batch_size": 32, "device": "cpu"}
    eager = make_agent("sac", overrides=overrides, seed=3)
    compiled = make_agent("sac", overrides={**overrides, "compile": True}, seed=3)
    batch = _batch()
    for _ in range(2):
        expected, got = eager.update(batch), compiled.update(batch)
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)


# ---------------------------------------------------------------------------- graph_update
TINY = {
    "sac": {"hidden": (32, 32), "batch_size": 16, "device": "cpu"},
    "tdmpc2": {"enc_dim": 32, "mlp_dim": 32, "latent_dim": 16, "num_samples": 16, "num_elites": 4,
               "num_pi_trajs": 2, "iterations": 1, "batch_size": 8, "device": "cpu"},
}  # fmt: skip


def _pair(name: str, seed: int = 5):
    """An eager agent and a graph_update one with the same seed and the same weights, perturbed so
    that TD-MPC2's Q-values spread and its Q scale (at least 1) moves."""
    eager = make_agent(name, overrides=TINY[name], seed=seed)
    whole = make_agent(name, overrides={**TINY[name], "graph_update": True}, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    state = {k: v + 0.3 * torch.randn(v.shape, generator=generator) for k, v in eager.state_dict().items()}
    state.pop("log_alpha", None), state.pop("q_scale", None)
    for agent in (eager, whole):
        agent.load_state_dict({**agent.state_dict(), **state})
    return eager, whole


def _batches(agent, count: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(400, 2, 18, 4)
    for t in range(120):
        buffer.add(rng.normal(size=(2, 18)), rng.uniform(-1, 1, (2, 4)), rng.normal(size=2),
                   rng.normal(size=(2, 18)), [t % 40 == 39] * 2, [False, False])  # fmt: skip
    size = agent.config.batch_size
    if agent.sequence_length == 1:
        return [buffer.sample(size, rng) for _ in range(count)]
    return [buffer.sample_sequences(size, agent.sequence_length, rng) for _ in range(count)]


def _snapshot(agent) -> dict:
    """Weights, optimizer states and the generator's state, copied."""
    return copy.deepcopy({"weights": agent.state_dict(), "training": agent.training_state()})


@pytest.mark.parametrize("name", ["sac", "tdmpc2"])
def test_the_whole_update_computes_what_the_eager_update_does(name):
    """Same seed, same batches: the same metrics, weights, optimizer moments and random draws after
    several updates, within float rounding (on the CPU SAC's eager update writes its gradients by
    hand and the whole update uses autograd)."""
    eager, whole = _pair(name)
    for batch in _batches(eager, 5):
        expected, got = eager.update(batch), whole.update(batch)
        assert isinstance(expected, dict) and not isinstance(got, dict)  # read from the device when used
        assert dict(got) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    if name == "tdmpc2":
        assert float(whole.q_scale) > 1.0  # the Q-scale average moved, in place
    assert eager.updates == whole.updates == 5
    got, expected = _snapshot(whole), _snapshot(eager)
    torch.testing.assert_close(got["weights"], expected["weights"], rtol=1e-5, atol=1e-6)
    for key in expected["training"]:
        if key.endswith("optimizer"):
            torch.testing.assert_close(got["training"][key]["state"], expected["training"][key]["state"])
    assert torch.equal(got["training"]["generator"], expected["training"]["generator"])  # the same draws


def _poisoned(name: str, batch):
    """The batch with a NaN that makes losses non-finite: a reward for SAC; a first observation for
    TD-MPC2 (a NaN reward or TD target would break its two-hot encoding before any loss exists)."""
    if name == "sac":
        batch.reward[3] = float("nan")
    else:
        batch.obs[3, 0] = float("nan")
    return batch


@pytest.mark.parametrize("name", ["sac", "tdmpc2"])
def test_the_whole_update_refuses_a_non_finite_loss_and_raises_when_read(name):
    eager, whole = _pair(name)
    first, bad, good = _batches(eager, 3)
    for agent in (eager, whole):
        dict(agent.update(first))
    with pytest.raises(FloatingPointError) as raised:
        eager.update(_poisoned(name, copy.deepcopy(bad)))
    before = _snapshot(whole)
    metrics = whole.update(_poisoned(name, copy.deepcopy(bad)))  # returns: nothing is read yet
    after = _snapshot(whole)
    torch.testing.assert_close(after["weights"], before["weights"], rtol=0, atol=0)  # no step was applied
    for key, value in before["training"].items():
        if key.endswith("optimizer"):
            torch.testing.assert_close(after["training"][key]["state"], value["state"], rtol=0, atol=0)
    for _ in range(2):  # every read raises, with the eager update's message
        with pytest.raises(FloatingPointError) as deferred:
            dict(metrics)
        assert str(deferred.value) == str(raised.value) and "not finite" in str(deferred.value)
    followed = whole.update(good)  # the agent carries on: the next update is applied
    assert all(np.isfinite(value) for value in followed.values())
    assert any(not torch.equal(value, before["weights"][key]) for key, value in whole.state_dict().items())


@pytest.mark.slow
@pytest.mark.parametrize(("name", "switch"), [("sac", "compile"), ("tdmpc2", "compile_update")])
def test_a_compiled_whole_update_on_the_cpu_computes_the_eager_update(name, switch):
    torch.set_num_threads(1)
    eager = make_agent(name, overrides=TINY[name], seed=3)
    compiled = make_agent(name, overrides={**TINY[name], "graph_update": True, switch: True}, seed=3)
    for batch in _batches(eager, 2):
        expected, got = eager.update(batch), compiled.update(batch)
        assert dict(got) == pytest.approx(expected, rel=1e-4, abs=1e-5)
