"""A tiny logger: ``write(metrics, step)`` and ``close()`` (conventions 13).

Keys are namespaced (``train/critic_loss``, ``eval/weak/win_rate``). ``CSVLogger`` writes one
CSV file per namespace (``train.csv``, ``eval.csv``) in a run directory and appends on resume;
``TensorBoardLogger`` is used where the ``tensorboard`` package is installed.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol


class Logger(Protocol):
    def write(self, metrics: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


class CSVLogger:
    """One CSV per namespace in ``directory``; a row per ``write``; columns grow as keys appear."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._columns: dict[str, list[str]] = {}

    def write(self, metrics: Mapping[str, float], step: int) -> None:
        groups: dict[str, dict[str, float]] = {}
        for key, value in metrics.items():
            namespace, _, name = key.partition("/")
            groups.setdefault(namespace if name else "misc", {})[name or key] = value
        for namespace, values in groups.items():
            self._append(namespace, {"step": step, **values})

    def _append(self, namespace: str, row: dict) -> None:
        path = self.directory / f"{namespace}.csv"
        columns = self._columns.get(namespace)
        if columns is None and path.exists():
            with open(path, newline="") as file:
                columns = next(csv.reader(file), None)
        if columns is None:
            columns = list(row)
            with open(path, "w", newline="") as file:
                csv.writer(file).writerow(columns)
        new = [key for key in row if key not in columns]
        if new:  # rewrite once with the wider header; old rows get empty cells
            columns = columns + new
            with open(path, newline="") as file:
                _rewrite(path, columns, list(csv.DictReader(file)))
        self._columns[namespace] = columns
        with open(path, "a", newline="") as file:
            csv.writer(file).writerow([_format(row.get(key, "")) for key in columns])

    def truncate(self, step: int) -> None:
        """Drop rows logged after ``step`` (a resumed run repeats the steps since its checkpoint)."""
        for path in self.directory.glob("*.csv"):
            with open(path, newline="") as file:
                reader = csv.DictReader(file)
                columns, rows = reader.fieldnames, list(reader)
            kept = [row for row in rows if _step_of(row) <= step]
            if columns is not None and len(kept) < len(rows):
                _rewrite(path, columns, kept)

    def close(self) -> None:
        pass


def _rewrite(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Replace a CSV file by ``columns`` and ``rows`` through a temporary file (never half-written)."""
    temporary = path.with_suffix(".csv.tmp")
    with open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


def _step_of(row: dict) -> float:
    try:
        return float(row.get("step", 0) or 0)
    except ValueError:
        return 0.0


def _format(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


class TensorBoardLogger:
    def __init__(self, directory: str | os.PathLike):
        from torch.utils.tensorboard import SummaryWriter  # needs the optional tensorboard package

        self.writer = SummaryWriter(log_dir=str(directory))

    def write(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class MultiLogger:
    def __init__(self, loggers: list):
        self.loggers = loggers

    def write(self, metrics: Mapping[str, float], step: int) -> None:
        for logger in self.loggers:
            logger.write(metrics, step)

    def truncate(self, step: int) -> None:
        for logger in self.loggers:
            if hasattr(logger, "truncate"):
                logger.truncate(step)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


def make_logger(directory: str | os.PathLike) -> MultiLogger:
    """CSV always; TensorBoard too where ``tensorboard`` is installed."""
    loggers: list = [CSVLogger(directory)]
    try:
        loggers.append(TensorBoardLogger(Path(directory) / "tb"))
    except ImportError:
        pass
    return MultiLogger(loggers)
