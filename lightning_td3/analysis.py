"""Reading TensorBoard runs back for reports: scalars per run, final metrics, mean ± std over seeds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def run_dirs(root: str | Path, pattern: str = "*/version_*") -> list[Path]:
    """Run folders (those holding event files) under a `lightning_logs`-style root."""
    return sorted(p for p in Path(root).glob(pattern) if any(p.glob("events.out.tfevents.*")))


def load_scalars(run_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """tag -> (steps, values) over every event file of the run (a resumed run has several)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, dict[int, float]] = {}
    for f in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            series.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return {
        tag: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)], dtype=np.float64))
        for tag, points in series.items()
    }


def final_value(scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, last: int = 1) -> float:
    """Mean of the last `last` logged values of a tag (NaN when the tag is missing)."""
    if tag not in scalars or len(scalars[tag][1]) == 0:
        return float("nan")
    return float(np.mean(scalars[tag][1][-last:]))


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    v = np.array([x for x in values if np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std())


def reward_term_shares(scalars: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Each reward term's share of the summed absolute per-episode term values over the run."""
    totals = {tag.split("/", 1)[1]: float(np.abs(vals).sum()) for tag, (_, vals) in scalars.items()
              if tag.startswith("rewards/")}
    total = sum(totals.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in totals.items()}
