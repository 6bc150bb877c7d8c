"""Self-describing checkpoints: round trip, refusal of tampered, truncated and foreign files, and
the shipped models under models/."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import load_policy
from agents.checkpoint import (
    Checkpoint,
    CheckpointError,
    atomic_write,
    load_checkpoint,
    save_checkpoint,
    weights_sha256,
)


class Code:
    """A pickled object: weights_only loading must neither run nor accept it."""


def _checkpoint() -> Checkpoint:
    generator = torch.Generator().manual_seed(0)
    weights = {"layer.weight": torch.randn(4, 3, generator=generator), "layer.bias": torch.zeros(4)}
    return Checkpoint(
        algorithm="sac",
        config={"hidden": [256, 256], "lr": 3e-4},
        spec={"obs_dim": 18, "action_dim": 4},
        state_dict=weights,
        step=1234,
        parent="ab" * 32,
        extra={"note": "test"},
    )


def test_round_trip_keeps_everything(tmp_path):
    original = _checkpoint()
    digest = save_checkpoint(tmp_path / "a.pt", original)
    loaded = load_checkpoint(tmp_path / "a.pt", algorithm="sac")
    assert digest == original.sha256 == loaded.sha256
    assert (loaded.algorithm, loaded.config, loaded.spec, loaded.step, loaded.parent, loaded.extra) == (
        "sac", {"hidden": [256, 256], "lr": 3e-4}, {"obs_dim": 18, "action_dim": 4}, 1234, "ab" * 32, {"note": "test"},
    )  # fmt: skip
    for name, tensor in original.state_dict.items():
        assert torch.equal(loaded.state_dict[name], tensor)


def test_hash_depends_on_values_not_on_dict_order():
    weights = _checkpoint().state_dict
    reordered = dict(reversed(list(weights.items())))
    assert weights_sha256(weights) == weights_sha256(reordered)
    changed = {**weights, "layer.bias": weights["layer.bias"] + 1e-6}
    assert weights_sha256(changed) != weights_sha256(weights)


def _tamper_weights(payload):
    payload["state_dict"]["layer.bias"][0] = 1.0


def _bump_version(payload):
    payload["format_version"] = 99


@pytest.mark.parametrize(
    ("edit", "message"), [(_tamper_weights, "sha256"), (_bump_version, "format version 99")], ids=["weights", "version"]
)
def test_edited_files_are_refused(tmp_path, edit, message):
    save_checkpoint(tmp_path / "a.pt", _checkpoint())
    payload = torch.load(tmp_path / "a.pt", weights_only=True)
    edit(payload)
    torch.save(payload, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "a.pt")


def test_truncated_missing_foreign_and_pickled_files_are_refused(tmp_path):
    save_checkpoint(tmp_path / "a.pt", _checkpoint())
    data = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="holds a 'sac' agent, expected 'muzero'"):
        load_checkpoint(tmp_path / "a.pt", algorithm="muzero")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a hockey-league policy checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "code.pt").write_bytes(pickle.dumps({"kind": "policy", "obj": Code()}))
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "code.pt")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    save_checkpoint(tmp_path / "a.pt", _checkpoint())
    before = (tmp_path / "a.pt").read_bytes()

    def crash(file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.pt", crash)
    assert (tmp_path / "a.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


MODELS = Path(__file__).parents[1] / "models"


@pytest.mark.parametrize("model", sorted(p.name for p in MODELS.iterdir() if p.is_dir()))
def test_shipped_models_load_and_match_their_cards(model):
    """Each models/<name>/ holds a loadable policy whose weights are the ones its card and its
    evaluation record name."""
    folder = MODELS / model
    checkpoint = load_checkpoint(folder / "policy.pt")
    record = json.loads((folder / "evaluation.json").read_text())
    assert record["weights_sha256"] == checkpoint.sha256 and record["algorithm"] == checkpoint.algorithm
    assert checkpoint.sha256 in (folder / "MODEL_CARD.md").read_text()
    policy = load_policy(folder / "policy.pt", device="cpu")
    actions = policy.act(np.zeros((2, 18), dtype=np.float32))
    assert actions.shape == (2, 4) and np.all(np.abs(actions) <= 1.0)


def test_refusals_say_what_the_file_is(tmp_path):
    run = tmp_path / "run"
    save_checkpoint(run / "policy.pt", _checkpoint())
    (run / "checkpoints").mkdir()
    torch.save({"kind": "training", "format_version": 1}, run / "checkpoints" / "training.pt")
    (tmp_path / "notes.pt").write_text("these are my notes\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    (tmp_path / "code.pt").write_bytes(pickle.dumps({"kind": "policy", "obj": Code()}))
    expected = {
        tmp_path / "notes.pt": "is a text file",
        tmp_path / "empty.pt": "is an empty file",
        run: f"is a directory, not a checkpoint file; use {run / 'policy.pt'}",
        run / "checkpoints" / "training.pt": f"is a training checkpoint .*use {run / 'policy.pt'}",
        tmp_path / "tensor.pt": "PyTorch file of another project",
        tmp_path / "code.pt": "pickled Python objects",
    }
    for path, message in expected.items():
        with pytest.raises(CheckpointError, match=message) as caught:
            load_checkpoint(path)
        assert "\n" not in str(caught.value) and "weights_only=False" not in str(caught.value)


def _sac_line(tmp_path: Path, hidden=(8, 8)) -> list[Path]:
    """Three small SAC snapshots of one network, saved at steps 100, 200 and 300."""
    from agents.registry import make_agent, save_policy

    paths = []
    for step, seed in ((100, 1), (200, 2), (300, 3)):
        paths.append(tmp_path / f"sac-{step}.pt")
        save_policy(paths[-1], make_agent("sac", overrides={"hidden": hidden, "device": "cpu"}, seed=seed), step=step)
    return paths


def test_an_average_of_snapshots_holds_their_mean_weights_and_plays(tmp_path, capsys):
    from scripts import average

    paths = _sac_line(tmp_path)
    out = tmp_path / "mean.pt"
    assert average.main([*map(str, paths), "--steps", "150:300", "--out", str(out)]) == 0
    assert "averaged 2 checkpoints (steps 200 to 300)" in capsys.readouterr().out
    mean, (second, third) = load_checkpoint(out, algorithm="sac"), [load_checkpoint(p) for p in paths[1:]]
    assert (mean.step, mean.config, mean.parent) == (300, third.config, third.sha256)
    assert mean.extra["averaged"] == [{"sha256": second.sha256, "step": 200}, {"sha256": third.sha256, "step": 300}]
    for name, tensor in mean.state_dict.items():
        torch.testing.assert_close(tensor, (second.state_dict[name] + third.state_dict[name]) / 2)
    assert not torch.equal(mean.state_dict["actor.net.0.weight"], third.state_dict["actor.net.0.weight"])
    action = load_policy(out, device="cpu").act(np.zeros((3, 18), dtype=np.float32))
    assert action.shape == (3, 4) and np.isfinite(action).all()


def test_averaging_refuses_different_networks_and_empty_ranges_in_one_line(tmp_path, capsys):
    from scripts import average

    small, wide = _sac_line(tmp_path / "a")[0], _sac_line(tmp_path / "b", hidden=(8, 16))[0]
    out = tmp_path / "mean.pt"
    for argv, message in (
        ([str(small), str(wide)], "cannot average networks of different sizes: actor.net.2.weight is"),
        (
            [str(small), str(MODELS / "tdmpc2-hockey" / "policy.pt")],
            "cannot average a 'sac' checkpoint with a 'tdmpc2' one",
        ),
        ([str(small), "--steps", "400:"], "no checkpoint was saved at steps 400 to"),
    ):
        assert average.main([*argv, "--out", str(out)]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], lines
        assert not out.exists()
