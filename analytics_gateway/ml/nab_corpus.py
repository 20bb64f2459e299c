"""Read a directory laid out like NAB: `data/<category>/<file>.csv` and
`labels/combined_windows.json`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.nab import FloatArray, IntArray, window_rows

LABELS = Path("labels") / "combined_windows.json"


@dataclass(frozen=True)
class NabFile:
    """One series of the corpus and its anomaly windows as inclusive row ranges."""

    name: str  # "category/file.csv", as in the labels file
    timestamps_ms: IntArray
    values: FloatArray
    windows: tuple[tuple[int, int], ...]


def _to_ms(text: str) -> int:
    return int(np.datetime64(text.strip().replace(" ", "T"), "ms").astype(np.int64))


def read_series(path: Path) -> tuple[IntArray, FloatArray]:
    """Read a `timestamp,value` CSV, sorted by time."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or [c.strip() for c in rows[0][:2]] != ["timestamp", "value"]:
        raise BadUserInput(f"{path}: expected a 'timestamp,value' header", field="nab")
    body = [row for row in rows[1:] if row]
    stamps = np.array([row[0].strip() for row in body], dtype="datetime64[ms]").astype(np.int64)
    values = np.array([float(row[1]) for row in body], dtype=np.float64)
    order = np.argsort(stamps, kind="stable")
    return stamps[order], values[order]


def load_corpus(root: Path) -> list[NabFile]:
    """Every labelled file under `root/data`, in the labels file's order."""
    labels_path = root / LABELS
    if not labels_path.is_file():
        raise BadUserInput(f"{labels_path} not found: not a NAB directory", field="nab")
    labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    files = []
    for name in sorted(labels):
        path = root / "data" / name
        if not path.is_file():
            raise BadUserInput(f"{path} is labelled but missing", field="nab")
        stamps, values = read_series(path)
        limits = [(_to_ms(start), _to_ms(end)) for start, end in labels[name]]
        files.append(NabFile(name, stamps, values, window_rows(stamps, limits)))
    return files
