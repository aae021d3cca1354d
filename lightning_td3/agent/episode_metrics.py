"""Aggregate per-episode driving results into the evaluation metrics (eval/* and test/* tags)."""

from __future__ import annotations

import torch
from torchmetrics import Metric

EPISODE_KEYS = ("return", "length", "success", "collisions", "distance", "route_completion", "avg_speed")


class DrivingEpisodeMetrics(Metric):
    """Accumulates whole episodes; `compute()` gives means over episodes and collisions per km.

    `update(batch)` takes a dict of per-episode tensors [E] keyed by EPISODE_KEYS (distance in m,
    avg_speed in m/s). Collisions per km is total collisions / total km over all episodes (0 when
    no distance was driven), not a mean of per-episode ratios, so short episodes do not dominate.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("returns", default=[], dist_reduce_fx="cat")
        for key in EPISODE_KEYS[1:]:
            self.add_state(f"{key}_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("episodes", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, batch: dict[str, torch.Tensor]) -> None:
        missing = [key for key in EPISODE_KEYS if key not in batch]
        if missing:
            raise ValueError(f"episode batch is missing keys {missing}; expected {list(EPISODE_KEYS)}")
        values = {key: torch.as_tensor(batch[key], device=self.device).reshape(-1) for key in EPISODE_KEYS}
        self.returns.append(values["return"].double())
        for key in EPISODE_KEYS[1:]:
            setattr(self, f"{key}_sum", getattr(self, f"{key}_sum") + values[key].double().sum())
        self.episodes += values["return"].numel()

    def compute(self) -> dict[str, torch.Tensor]:
        returns = torch.cat(self.returns) if isinstance(self.returns, list) else self.returns
        count = self.episodes.clamp(min=1).double()
        km = self.distance_sum / 1000.0
        return {
            "return_mean": returns.mean(),
            "return_std": returns.std(correction=0),
            "success_rate": self.success_sum / count,
            "collisions_per_km": torch.where(km > 0, self.collisions_sum / km.clamp(min=1e-12), 0.0),
            "route_completion": self.route_completion_sum / count,
            "avg_speed": self.avg_speed_sum / count,
            "episode_length": self.length_sum / count,
        }
