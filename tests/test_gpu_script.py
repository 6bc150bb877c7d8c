"""The GPU check script (benchmarks/gpu.py) on the CPU: the quick run writes a complete report, and
its correctness checks, run CPU against CPU (and the whole-update checks, run on the CPU), pass (so
the checks themselves are sound before a lent GPU runs them). No timing is asserted."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.py"

HEADER = ("date", "torch", "cuda", "device_name", "cpu", "python", "tolerance")
CORRECTNESS = {
    "correctness_sac": ("act_max_abs_diff", "act_games_differing", "act_ok", "update_max_abs_diff", "update_ok"),
    "correctness_tdmpc2_5M": (
        "prior_act_ok",
        "plan_act_max_abs_diff",
        "plan_act_games_differing",
        "plan_act_ok",
        "update_ok",
    ),
    "correctness_tdmpc2_cpu": ("prior_act_ok", "plan_act_ok", "update_ok"),
    "correctness_muzero": ("act_ok", "update_ok"),
    "checkpoints": tuple(
        f"{agent}_{way}_ok" for agent in ("sac", "tdmpc2", "muzero") for way in ("cuda_to_cpu", "cpu_to_cuda")
    ),
    "league": ("exit_code", "games", "skipped_records", "leaderboard_md", "ok"),
    "speed_tdmpc2_graph": (  # speed, but with checks of its own and nothing to measure without CUDA
        "graph_max_abs_diff",
        "graph_ok",
        "graph_refuses_non_finite_ok",
        "graph_updates_per_s_h3",
        "graph_compiled_updates_per_s_h3",
        "train_steps_per_s",
    ),
}
SAC_MODES = ("compile", "cudagraphs", "graph", "graph_compile")
TDMPC2_COMPILED = tuple(
    f"compiled_{name}"
    for name in ("update_warmup_s", "updates_per_s_h3", "plan_warmup_s", "plan_ms_h3_g1", "plan_ms_h3_g64")
)
SPEED = {
    "speed_sac": (
        "eager_updates_per_s",
        *(f"{mode}_{what}" for mode in SAC_MODES for what in ("updates_per_s", "warmup_s")),
    ),
    "speed_tdmpc2": tuple(
        field
        for h in (3, 9)
        for field in (
            f"updates_per_s_h{h}",
            *(f"plan_ms_h{h}_g{g}" for g in (1, 16, 64, 256)),
            f"plan_ratio_g64_over_g1_h{h}",
        )
    ),
    "speed_tdmpc2_compiled": TDMPC2_COMPILED,
    "speed_muzero": ("search_ms_g1", "search_ms_g64", "search_ms_g256", "search_ratio_g256_over_g1"),
    "speed_training": tuple(
        f"{agent}_{what}"
        for agent in ("sac", "tdmpc2", "muzero")
        for what in ("steps_per_s", "updates_per_s", "timed_steps")
    ),
}
NO_GPU = "no GPU" if not torch.cuda.is_available() else "not run: --device cpu"
NOT_MEASURED_ON_CPU = {  # a marked string instead of a number: "skipped: ...", "not available: ..." or no GPU
    "compile_updates_per_s": "skipped:",
    "compile_warmup_s": "skipped:",
    "cudagraphs_updates_per_s": "not available:",
    "cudagraphs_warmup_s": "not available:",
    **{f"{mode}_{what}": NO_GPU for mode in ("graph", "graph_compile") for what in ("updates_per_s", "warmup_s")},
    **dict.fromkeys(TDMPC2_COMPILED, "not available:"),
}


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_quick_cpu_run_writes_a_complete_report(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "summary:" in result.stdout and "failed: none" in result.stdout, result.stdout
    report = json.loads((tmp_path / "gpu-report.json").read_text())
    assert all(key in report["header"] for key in HEADER)
    assert report["summary"]["finished"] is True and report["summary"]["failed"] == {}

    parts = report["parts"]
    assert set(parts) == set(CORRECTNESS) | set(SPEED)
    for name, fields in CORRECTNESS.items():
        assert parts[name]["status"] == NO_GPU
        assert set(fields) <= set(parts[name]["fields"]), name
        assert all(value == NO_GPU for value in parts[name]["fields"].values()), parts[name]
    for name, fields in SPEED.items():  # every speed figure is a number or a clearly marked string
        entry = parts[name]
        assert entry["status"] == "ok" and entry["settings"], entry
        assert set(entry["fields"]) == set(fields), name
        for field, value in entry["fields"].items():
            if field in NOT_MEASURED_ON_CPU:
                assert isinstance(value, str) and value.startswith(NOT_MEASURED_ON_CPU[field]), (field, value)
            else:
                assert isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0, (field, value)

    markdown = (tmp_path / "gpu-report.md").read_text()
    assert "| part | figure | value |" in markdown and "| speed_tdmpc2 | plan_ms_h9_g256 |" in markdown
    assert not list(tmp_path.glob("*.tmp"))  # every rewrite was completed by a rename


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_fails_with_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cuda", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "no CUDA GPU" in result.stderr


def test_correctness_checks_find_the_cpu_equal_to_itself(tmp_path):
    gpu = _load_script()
    cpu = torch.device("cpu")
    checks = {
        "sac": ("sac", {"hidden": (32, 32)}),
        "tdmpc2": ("tdmpc2", {"enc_dim": 32, "mlp_dim": 32, "latent_dim": 16, "num_samples": 16, "num_elites": 4}),
        "muzero": (
            "muzero",
            {"latent_dim": 16, "hidden_dim": 16, "num_simulations": 8, "unroll_steps": 2, "td_steps": 2},
        ),
    }
    report = gpu.Report(tmp_path, {})
    for part, (name, overrides) in checks.items():
        report.declare(part, gpu.correctness_fields(name))
        context = gpu.Context(report, part, cpu, gpu.QUICK, ends=time.monotonic() + 600)
        gpu.check_agent(context, name=name, overrides=overrides, games=4, batch_size=16)
    report.declare("checkpoints", gpu.CHECKPOINT_FIELDS)
    gpu.check_checkpoints(gpu.Context(report, "checkpoints", cpu, gpu.QUICK, ends=time.monotonic() + 600))

    # the whole-update checks of speed_tdmpc2_graph (an UpdateGraph calls its function on the CPU)
    report.declare("speed_tdmpc2_graph", gpu.TDMPC2_GRAPH_FIELDS)
    context = gpu.Context(report, "speed_tdmpc2_graph", cpu, gpu.QUICK, ends=time.monotonic() + 600)
    overrides = {**gpu.QUICK.tdmpc2, "horizon": 3}
    probe = gpu.make_agent("tdmpc2", overrides={**overrides, "device": "cpu"})
    rng = np.random.default_rng(0)
    buffer = gpu.filled_buffer(probe, cpu, rows=16, n_envs=4, rng=rng)
    batches = [gpu.sample_batch(probe, buffer, 8, rng) for _ in range(gpu.TDMPC2_GRAPH_UPDATES)]
    gpu.graph_matches_eager(context, overrides, batches)
    gpu.graph_refuses_non_finite(context, overrides, batches)
    graph = report.data["parts"]["speed_tdmpc2_graph"]["fields"]
    assert graph["graph_ok"] is True and graph["graph_max_abs_diff"] == 0, report.data["parts"]["speed_tdmpc2_graph"]
    assert graph["graph_refuses_non_finite_ok"] is True, report.data["parts"]["speed_tdmpc2_graph"]["notes"]

    for part in (*checks, "checkpoints"):
        fields = report.data["parts"][part]["fields"]
        assert "pending" not in fields.values(), (part, fields)
        for field, value in fields.items():
            if field.endswith("_ok"):
                assert value is True, (part, field, report.data["parts"][part]["notes"])
            elif field.endswith("max_abs_diff") or field.endswith("games_differing"):
                assert value == 0, (part, field, value)  # one device against itself: bit for bit
    assert report.problems() == {}


def test_a_late_part_never_takes_the_time_a_later_gpu_check_needs(tmp_path):
    gpu = _load_script()
    ran = []
    speed = gpu.Part("speed", lambda ctx: ran.append(ctx.left()), ("x",), budget=100, minimum=30)
    league = gpu.Part("league", lambda ctx: ran.append("league"), ("y",), budget=100, minimum=80, needs_gpu=True)
    cpu_only = gpu.Part("cpu_speed", lambda ctx: None, ("z",), budget=100, minimum=80)
    report = gpu.Report(tmp_path, {})
    for part in (speed, league, cpu_only):
        report.declare(part.name, part.fields)
    # 100 s before the deadline: the speed part fits only by taking a later part's minimum
    started = time.monotonic() - (gpu.DEADLINE_S - 100)
    cuda = torch.device("cuda")  # a device object only: neither part touches CUDA

    gpu.run_part(speed, (league,), report, cuda, gpu.QUICK, started)
    assert ran == [] and report.data["parts"]["speed"]["status"] == gpu.OUT_OF_TIME

    # a later speed part's minimum is only a reservation, which a part that would not fit may use
    gpu.run_part(speed, (cpu_only,), report, cuda, gpu.QUICK, started)
    assert len(ran) == 1 and 30 <= ran[0] <= 100 and report.data["parts"]["speed"]["status"] == "ok"
