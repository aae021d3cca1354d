"""Logs finished training episodes and rollout progress to the trainer's logger.

Episodes end between updates, so they are written directly with the logger at the current update
count (the same x-axis Lightning uses for `train/*`), never dropped by `log_every_n_steps`.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar


def _step(trainer: L.Trainer, pl_module: L.LightningModule) -> int:
    return int(getattr(pl_module, "updates", trainer.global_step))


class RolloutLogger(Callback):
    """`train/episode_*`, `rewards/<term>`, driving counters per episode; `progress/*` every log step."""

    def __init__(self) -> None:
        self._t0: float | None = None
        self._updates0 = 0
        self.updates_per_sec = 0.0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        dm = trainer.datamodule
        step = _step(trainer, pl_module)
        now = time.perf_counter()
        if self._t0 is None:
            self._t0, self._updates0 = now, step
        elif now - self._t0 >= 2.0:
            self.updates_per_sec = (step - self._updates0) / (now - self._t0)
            self._t0, self._updates0 = now, step
        logger = trainer.logger
        if logger is None:
            dm.pop_finished_episodes()
            return
        for episode in dm.pop_finished_episodes():
            summary = episode.summary()
            metrics = {
                "train/episode_return": summary["return"],
                "train/episode_length": summary["length"],
                "train/collisions": summary["collisions"],
                "train/lane_invasions": summary["lane_invasions"],
                "train/distance": summary["distance"],
                "train/avg_speed": summary["avg_speed"],
                "train/route_completion": summary["route_completion"],
                "train/success": summary["success"],
            }
            metrics.update({f"rewards/{term}": value for term, value in episode.reward_terms.items()})
            logger.log_metrics(metrics, step=step)
        if step % max(trainer.log_every_n_steps, 1) == 0:
            logger.log_metrics(
                {
                    "progress/env_steps": float(dm.env_steps),
                    "progress/episodes": float(dm.episodes),
                    "progress/updates_per_sec": self.updates_per_sec,
                    "progress/exploration_noise": float(dm.worker.noise_std) if dm.worker else 0.0,
                },
                step=step,
            )


class DrivingProgressBar(TQDMProgressBar):
    """The progress bar shows env steps, episodes, the last episode's return and updates/s."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        dm = trainer.datamodule
        if dm is None or getattr(dm, "worker", None) is None:
            return metrics
        metrics["env_steps"] = dm.env_steps
        metrics["episodes"] = dm.episodes
        if dm.worker.last_episode is not None:
            metrics["last_return"] = f"{dm.worker.last_episode.episode_return:.1f}"
        for cb in trainer.callbacks:
            if isinstance(cb, RolloutLogger):
                metrics["upd/s"] = f"{cb.updates_per_sec:.1f}"
        return metrics
