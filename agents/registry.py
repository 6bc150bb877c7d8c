"""Names -> (config class, agent class), building agents, and loading checkpoints as policies.

``AGENTS`` is a plain dict (conventions 9). ``make_agent("sac", overrides=...)`` builds a fresh
agent; ``save_policy``/``load_agent``/``load_policy`` go through the self-describing checkpoint
format of ``agents.checkpoint``, rebuilding the agent from the stored config alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agents.base import AgentSpec, FrozenPolicy
from agents.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from agents.external import ExternalPolicy, is_external, load_external, parse_external
from agents.muzero import MuZeroAgent, MuZeroConfig
from agents.sac import SACAgent, SACConfig
from agents.scripted import ScriptedAgent, ScriptedConfig
from agents.tdmpc2 import TDMPC2Agent, TDMPC2Config
from plumbing.config import config_from_dict, config_to_dict, parse_overrides


@dataclass(frozen=True)
class AgentEntry:
    config: type
    agent: type
    defaults: dict  # config values that differ from the config class's own defaults
    learns: bool = True


AGENTS: dict[str, AgentEntry] = {
    "sac": AgentEntry(SACConfig, SACAgent, {}),
    "tdmpc2": AgentEntry(TDMPC2Config, TDMPC2Agent, {}),
    "muzero": AgentEntry(MuZeroConfig, MuZeroAgent, {}),
    "basic-weak": AgentEntry(ScriptedConfig, ScriptedAgent, {"policy": "weak"}, learns=False),
    "basic-strong": AgentEntry(ScriptedConfig, ScriptedAgent, {"policy": "strong"}, learns=False),
    "random": AgentEntry(ScriptedConfig, ScriptedAgent, {"policy": "random"}, learns=False),
    "idle": AgentEntry(ScriptedConfig, ScriptedAgent, {"policy": "idle"}, learns=False),
}
ALIASES = {"weak": "basic-weak", "strong": "basic-strong"}


def register(name: str, entry: AgentEntry) -> None:
    """Add an agent under a new name (the TD-MPC2 and MuZero packages call this)."""
    if name in AGENTS:
        raise ValueError(f"agent name {name!r} is already registered")
    AGENTS[name] = entry


def entry(name: str) -> AgentEntry:
    key = ALIASES.get(name, name)
    if key not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; registered agents: {', '.join(sorted(AGENTS) + sorted(ALIASES))}")
    return AGENTS[key]


def canonical_name(name: str) -> str:
    entry(name)
    return ALIASES.get(name, name)


def make_config(name: str, values: dict | None = None, where: str | None = None):
    """The agent's config: registry defaults updated by ``values`` (checked: unknown fields, types)."""
    item = entry(name)
    data = {**config_to_dict(item.config()), **item.defaults, **(values or {})}
    return config_from_dict(item.config, data, where=where or f"{name} config")


def make_agent(name: str, config=None, spec: AgentSpec = AgentSpec(), seed: int = 0, overrides: dict | None = None):
    """Build an agent by registry name, from a config object or the defaults plus ``overrides``."""
    item = entry(name)
    if config is None:
        config = make_config(name, overrides)
    elif overrides:
        config = make_config(name, {**config_to_dict(config), **overrides})
    if not isinstance(config, item.config):
        raise TypeError(f"{name} expects a {item.config.__name__}, got {type(config).__name__}")
    agent = item.agent(config=config, spec=spec, seed=seed)
    agent.name = canonical_name(name)
    return agent


def save_policy(
    path: str | os.PathLike, agent, step: int = 0, parent: str | None = None, extra: dict | None = None
) -> str:
    """Write the agent's weights, config and spec as a policy checkpoint; returns the weights' sha256."""
    return save_checkpoint(
        path,
        Checkpoint(
            algorithm=agent.name,
            config=config_to_dict(agent.config),
            spec=agent.spec.to_dict(),
            state_dict=agent.state_dict(),
            step=step,
            parent=parent,
            extra=extra or {},
        ),
    )


def refuse_shape_changes(agent, stored: dict, stored_config, where: str) -> None:
    """Refuse, in one line, config changes that would not fit the stored weights' shapes.

    Args:
        agent: the agent built with the changed config.
        stored: the stored weights (name -> tensor).
        stored_config: the config those weights were made with.
        where: the file, named in the error.

    Raises:
        CheckpointError: naming the changed settings and the first tensor that no longer fits.
    """
    current = agent.state_dict()
    misfits = [
        name
        for name in sorted(set(current) | set(stored))
        if name not in current or name not in stored or tuple(current[name].shape) != tuple(stored[name].shape)
    ]
    if not misfits:
        return
    before, after = config_to_dict(stored_config), config_to_dict(agent.config)
    changed = [
        f"{key}={after[key]!r} (stored: {before.get(key)!r})"
        for key in after
        if after[key] != before.get(key) and key != "device"
    ]
    name = misfits[0]
    shapes = [tuple(t[name].shape) if name in t else "absent" for t in (stored, current)]
    raise CheckpointError(
        f"{where}: {', '.join(changed) or 'the config'} changes the networks' shapes ({name}: {shapes[0]} stored, "
        f"{shapes[1]} now); keep the stored value or train a new agent"
    )


def agent_from_checkpoint(checkpoint: Checkpoint, device: str | None = None, where: str = "checkpoint",
                          overrides: tuple[str, ...] = ()):  # fmt: skip
    """Rebuild an agent from a loaded checkpoint's stored config and weights.

    ``overrides`` (``key=value`` strings) change settings that leave the weights' shapes alone,
    e.g. ``mpc=True`` to evaluate a TD-MPC2 policy with planning.
    """
    config_values = dict(checkpoint.config)
    if device is not None and "device" in config_values:
        config_values["device"] = device
    try:
        stored = make_config(checkpoint.algorithm, config_values, where=f"{checkpoint.algorithm} config in {where}")
        config = stored
        if overrides:
            config = parse_overrides(overrides, type(config), base=stored, where=f"--set for {where}")
        spec = AgentSpec.from_dict(checkpoint.spec)
    except (TypeError, ValueError) as error:
        raise CheckpointError(str(error)) from error
    agent = make_agent(checkpoint.algorithm, config=config, spec=spec)
    refuse_shape_changes(agent, checkpoint.state_dict, stored, where)
    try:
        agent.load_state_dict(checkpoint.state_dict)
    except (RuntimeError, KeyError, ValueError) as error:
        raise CheckpointError(
            f"{where}: weights do not fit the stored {checkpoint.algorithm} config: {error}"
        ) from error
    return agent


def load_agent(path: str | os.PathLike, algorithm: str | None = None, device: str | None = None,
               overrides: tuple[str, ...] = ()):  # fmt: skip
    """The agent stored in a policy checkpoint (trainable, e.g. to continue from a snapshot)."""
    checkpoint = load_checkpoint(path, algorithm=algorithm)
    return agent_from_checkpoint(checkpoint, device=device, where=str(path), overrides=overrides)


def load_policy(path: str | os.PathLike, device: str = "auto", overrides: tuple[str, ...] = ()) -> FrozenPolicy:
    """A ready, frozen policy from a checkpoint file: deterministic ``act``, on ``device``,
    with its stored config changed by ``overrides`` (``key=value`` strings)."""
    checkpoint = load_checkpoint(path)
    return frozen_policy(checkpoint, device, where=str(path), label=Path(path).stem, overrides=overrides)


def frozen_policy(checkpoint: Checkpoint, device: str, where: str, label: str,
                  overrides: tuple[str, ...] = ()) -> FrozenPolicy:  # fmt: skip
    """A loaded checkpoint as a ready, frozen policy named ``label``."""
    agent = agent_from_checkpoint(checkpoint, device=device, where=where, overrides=overrides)
    return FrozenPolicy(agent.eval(), label=label)


def make_policy(text: str, seed: int = 0, device: str = "auto"):
    """A policy from a scripted name (weak, strong, random, idle, basic-weak, ...), a checkpoint
    path, or an external policy ``py:PATH.py:FUNCTION`` (``agents.external``)."""
    if is_external(text):
        return load_external(text)
    key = ALIASES.get(text, text)
    if key in AGENTS and not AGENTS[key].learns:
        return make_agent(key, seed=seed)
    path = Path(text)
    if path.suffix in (".pt", ".pth") or os.sep in text or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"opponent checkpoint {text!r} does not exist")
        return load_policy(path, device=device)
    scripted = sorted(n for n, e in AGENTS.items() if not e.learns) + sorted(ALIASES)
    raise ValueError(
        f"opponent {text!r} is neither a scripted player ({', '.join(scripted)}), a checkpoint file "
        "nor an external policy py:PATH.py:FUNCTION"
    )


def _checkpoint_opponent_path(text: str) -> Path:
    path = Path(text)
    if path.suffix not in (".pt", ".pth"):
        raise ValueError(
            f"external policy {text!r}: expected py:PATH.py:FUNCTION or a policy checkpoint file (.pt), "
            "e.g. models/muzero-hockey/policy.pt"
        )
    if not path.is_file():
        raise FileNotFoundError(f"external policy {text!r}: {path} does not exist")
    return path


def check_external_opponent(text: str) -> None:
    """Refuses a league external that cannot be one (``load_external_opponent``) before a league
    starts: a checkpoint is read, a Python file is not run.

    Raises:
        ValueError (CheckpointError among them) or FileNotFoundError: naming the text and what is expected.
    """
    if is_external(text):
        parse_external(text)
    else:
        load_checkpoint(_checkpoint_opponent_path(text))


def load_external_opponent(text: str, device: str = "cpu") -> ExternalPolicy:
    """A league's fixed opponent (``[[externals]]``): an external policy ``py:PATH.py:FUNCTION``,
    or a policy checkpoint (a model trained elsewhere, another league's member) played frozen on
    ``device``. A checkpoint's identity is its weights' hash, as a promoted snapshot's is.

    Raises:
        ValueError (CheckpointError among them) or FileNotFoundError: naming the text.
    """
    if is_external(text):
        return load_external(text)
    path = _checkpoint_opponent_path(text)
    checkpoint = load_checkpoint(path)
    policy = frozen_policy(checkpoint, device, where=text, label=path.stem)
    return ExternalPolicy(policy, text, checkpoint.sha256, [path.name])
