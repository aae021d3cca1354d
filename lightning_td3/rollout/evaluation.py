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

from lightning_td3.rollout.episode_stats import EpisodeStats
from lightning_td3.rollout.worker import FrameStacker, Policy


def run_episode(env: gym.Env, act: Callable[[dict], object], frame_stack: int, seed: int | None) -> EpisodeStats:
    obs, _ = env.reset(seed=seed)
    stacker = FrameStacker(frame_stack)
    stacker.reset(obs["image"])
    stats = EpisodeStats()
    while True:
        action = act({"image": stacker.stacked(), "vector": obs["vector"]})
        obs, reward, terminated, truncated, info = env.step(action)
        stats.update(float(reward), info)
        stacker.push(obs["image"])
        if terminated or truncated:
            return stats


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
            yield {k: torch.tensor(v, dtype=torch.float32) for k, v in stats.summary().items()}
