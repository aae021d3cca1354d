"""Deterministic evaluation episodes, served to Lightning's validation loop as a dataset.

Each item is one finished episode's metrics (float tensors); the LightningModule aggregates them
with torchmetrics. The eval env is separate from the training env and reseeded identically at
every evaluation so that evaluations are comparable across a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import gymnasium as gym
import torch
from torch.utils.data import IterableDataset

from lightning_td3.rollout.episodes import EVAL_SEED_OFFSET, run_episode
from lightning_td3.rollout.worker import Policy

__all__ = ["EVAL_SEED_OFFSET", "EvalEpisodes"]


class EvalEpisodes(IterableDataset):
    def __init__(
        self, env: gym.Env, policy: Callable[[], Policy], episodes: int, frame_stack: int, seed: int
    ) -> None:
        super().__init__()
        self.env = env
        self.policy = policy
        self.episodes = episodes
        self.frame_stack = frame_stack
        self.seed = seed

    def __len__(self) -> int:
        return self.episodes

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        policy = self.policy()
        act = lambda obs: policy.act(obs, explore=False)
        for i in range(self.episodes):
            stats = run_episode(self.env, act, self.frame_stack, seed=self.seed + i)
            summary = stats.summary()
            summary.pop("driving_score")  # NaN outside CARLA; not part of the eval/* metrics
            yield {k: torch.tensor(v, dtype=torch.float32) for k, v in summary.items()}
