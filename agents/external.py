"""Players written with other code: a Python file whose function returns a policy.

``py:PATH.py:FUNCTION`` names one. The file is imported under a private module name, ``FUNCTION()``
is called with no arguments, and the object it returns must have ``act(obs (B, 18)) -> (B, 4)``;
``reset(mask)`` is optional. Course users bring classmates' agents and their own old agents this
way, whatever framework they were written in.

An external policy's identity is the sha256 over its source file and every file the load read
from the source file's folder (its weights, its statistics), so the ledger can tell two versions
of the same agent apart even when the file name stays.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from pathlib import Path

import numpy as np

from arena.hockey.constants import ACTION_DIM, OBS_DIM
from arena.policy import PolicyError, policy_actions

PREFIX = "py:"
_opened = threading.local()  # the list the audit hook appends opened paths to, while a load runs


def is_external(text: str) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX)


def parse_external(text: str) -> tuple[Path, str]:
    """'py:agents/mine.py:load' -> (Path('agents/mine.py'), 'load'), checked."""
    body = text[len(PREFIX) :]
    path, sep, function = body.rpartition(":")
    if not sep or not path or not function.isidentifier():
        raise ValueError(
            f"external policy {text!r}: expected py:PATH.py:FUNCTION, e.g. py:../shared/external/shabin_sac.py:load"
        )
    file = Path(path)
    if file.suffix != ".py":
        raise ValueError(f"external policy {text!r}: {path} is not a .py file; expected py:PATH.py:FUNCTION")
    if not file.is_file():
        raise FileNotFoundError(f"external policy {text!r}: {path} does not exist")
    return file, function


def _audit(event: str, args: tuple) -> None:
    if event == "open":
        paths = getattr(_opened, "paths", None)
        if paths is not None and isinstance(args[0], (str, bytes, Path)):
            paths.append(args[0] if not isinstance(args[0], bytes) else args[0].decode(errors="replace"))


_hook_installed = False


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # cannot be removed; it only records while a load runs
        _hook_installed = True


class ExternalPolicy:
    """An external policy: its policy object, label and content identity."""

    def __init__(self, policy, text: str, sha256: str, files: list[str]):
        self.policy = policy
        self.name = text
        self.sha256 = sha256
        self.files = files  # what the identity covers, relative to the source's folder

    def act(self, obs: np.ndarray) -> np.ndarray:
        return policy_actions(self.policy, np.asarray(obs, dtype=np.float32), ACTION_DIM, f"external {self.name}")

    def reset(self, mask: np.ndarray) -> None:
        hook = getattr(self.policy, "reset", None)
        if hook is not None:
            hook(mask=mask)

    def __repr__(self) -> str:
        return f"ExternalPolicy({self.name!r}, sha256={self.sha256[:12]})"


def load_external(text: str) -> ExternalPolicy:
    """Import ``py:PATH.py:FUNCTION``, call it and check that the result plays.

    Raises:
        ValueError: naming the player, when the spec is malformed, the import or the call fails,
            or the object returned does not produce (B, 4) finite actions for a (B, 18) batch.
    """
    file, function = parse_external(text)
    folder = file.resolve().parent
    _install_hook()
    module_name = "hockey_external_" + hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:16]
    _opened.paths = []
    try:
        spec = importlib.util.spec_from_file_location(module_name, file)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(folder))  # the file may import its own helpers
        try:
            spec.loader.exec_module(module)
            factory = getattr(module, function, None)
            policy = factory() if callable(factory) else None
        finally:
            sys.path.remove(str(folder))
        opened = list(_opened.paths)
    except Exception as error:
        raise ValueError(f"external policy {text!r} failed to load: {type(error).__name__}: {error}") from error
    finally:
        _opened.paths = None
    if not callable(factory):
        raise ValueError(f"external policy {text!r}: {file} has no function {function}()")
    if not callable(getattr(policy, "act", None)):
        raise ValueError(
            f"external policy {text!r}: {function}() returned {type(policy).__name__}, which has no act(obs)"
        )
    files = {file.resolve()}
    for path in opened:
        resolved = Path(path).resolve()
        if resolved.is_file() and folder in resolved.parents:
            files.add(resolved)
    digest = hashlib.sha256()
    names = []
    for path in sorted(files):
        name = path.relative_to(folder).as_posix()
        names.append(name)
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    player = ExternalPolicy(policy, text, digest.hexdigest(), names)
    try:
        player.reset(np.ones(2, dtype=bool))
        player.act(np.zeros((2, OBS_DIM), dtype=np.float32))
    except PolicyError as error:
        raise ValueError(str(error)) from error
    except Exception as error:
        raise ValueError(f"external policy {text!r} failed its first reset: {type(error).__name__}: {error}") from error
    return player
