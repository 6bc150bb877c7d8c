"""The GPU fast paths are config switches: off by default, validated, refused with one line where
they cannot work (CUDA graphs on a CPU), and a compiled update on the CPU computes what the eager
one does (slow: compiling takes a minute)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import make_agent
from agents.common.buffer import ReplayBuffer
from agents.registry import make_config
from agents.sac import SACConfig
from agents.tdmpc2 import TDMPC2Config


def test_the_switches_parse_and_default_off():
    assert (SACConfig().compile, SACConfig().compile_mode) == (False, "default")
    config = TDMPC2Config()
    assert (config.compile, config.compile_update, config.compile_mode) == (False, False, "default")
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
