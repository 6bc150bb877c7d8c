"""Frozen config dataclasses from plain data (TOML, JSON, ``key=value`` strings), checked field by field.

``config_from_dict`` refuses unknown fields and values of the wrong type with a ``ConfigError``
that names where the value came from, the field and what it must be; ``config_to_dict`` is its
inverse; ``parse_overrides`` applies ``--set key=value`` strings.
"""

from __future__ import annotations

import dataclasses
import types
import typing

import numpy as np


class ConfigError(TypeError, ValueError):
    """A config value of the wrong type or an unknown field: bad input, named with where it came from.

    A ``ValueError`` so that entry points report it in one line; a ``TypeError`` for callers that
    check types."""


def config_from_dict(cls, data: dict, where: str = "config"):
    """Build a (frozen) config dataclass from plain data, refusing unknown fields and wrong types.

    Args:
        cls: the dataclass.
        data: field name -> value (lists are accepted for tuple fields).
        where: named in error messages (e.g. "sac config in runs/x/policy.pt").
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of field names to values, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown} for {cls.__name__}; valid fields: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(value, hints[name], f"{where}: field {name!r}")
    return cls(**values)


def _coerce(value, hint, where: str):
    """Check ``value`` against a simple type hint (int, float, bool, str, tuples, unions, Literal)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(value, option, where)
            except (TypeError, ValueError):
                continue
        raise ConfigError(f"{where} must be {_describe(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {list(args)}, got {value!r}")
        return value
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"{where} must be None, got {value!r}")
        return None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else typing.Any
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table of key = value pairs, got {value!r}")
        return dict(value)
    return value


def _describe(hint) -> str:
    args = typing.get_args(hint)
    return " or ".join(getattr(a, "__name__", str(a)) for a in args) if args else str(hint)


def config_to_dict(config) -> dict:
    """A config dataclass as plain data (tuples become lists so the data survives JSON/TOML)."""

    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def parse_overrides(pairs, cls, base=None, where: str = "override"):
    """Apply ``key=value`` strings (values parsed as Python literals, else kept as strings) to a config.

    Example: ``parse_overrides(["hidden=(512, 512)", "gamma=0.98"], SACConfig)``.
    """
    import ast

    data = config_to_dict(base if base is not None else cls())
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{where}: expected key=value, got {pair!r}")
        key, text = pair.split("=", 1)
        key = key.strip()
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        data[key] = value
    return config_from_dict(cls, data, where=where)
