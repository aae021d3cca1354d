"""Episodes: the acting-side frame stack, per-episode statistics, and one whole episode run.

The reference system read collisions from the last step only; here every counter sums the whole
episode and each reward term is kept separately. Training, evaluation and the classical baseline
all count with this one `EpisodeStats`, so their numbers are comparable. Torch-free on purpose.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

# Evaluation episodes use seeds from this offset on: never the training episodes' seeds, and the
# same for every evaluation of a run and for the classical baseline, so the numbers compare.
EVAL_SEED_OFFSET = 10_000


class FrameStacker:
    """The last `depth` frames; an episode starts with its first frame repeated."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.frames: deque[np.ndarray] = deque(maxlen=depth)

    def reset(self, frame: np.ndarray) -> None:
        self.frames.clear()
        self.frames.extend([frame] * self.depth)

    def push(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def stacked(self) -> np.ndarray:
        return np.concatenate(list(self.frames), axis=0)  # [depth, H, W] from [1, H, W] frames


@dataclass
class EpisodeStats:
    episode_return: float = 0.0
    length: int = 0
    reward_terms: dict[str, float] = field(default_factory=dict)
    collisions: int = 0
    lane_invasions: int = 0
    off_road_steps: int = 0
    wrong_way_steps: int = 0
    distance: float = 0.0
    speed_sum: float = 0.0
    route_completion: float = 0.0
    success: bool = False
    termination_reason: str = "running"
    driving_score: float | None = None  # CARLA Leaderboard score, where the env reports one

    def update(self, reward: float, info: dict[str, Any]) -> None:
        self.episode_return += float(reward)
        self.length += 1
        for name, value in info.get("reward_terms", {}).items():
            self.reward_terms[name] = self.reward_terms.get(name, 0.0) + float(value)
        events = info.get("events", {})
        self.collisions += int(bool(events.get("collision", False)))
        self.lane_invasions += int(bool(events.get("lane_invasion", False)))
        self.off_road_steps += int(bool(events.get("off_road", False)))
        self.wrong_way_steps += int(bool(events.get("wrong_way", False)))
        metrics = info.get("metrics", {})
        self.speed_sum += float(metrics.get("speed", 0.0))
        # distance and route completion are cumulative in the contract: keep the furthest value
        self.distance = max(self.distance, float(metrics.get("distance", 0.0)))
        self.route_completion = max(self.route_completion, float(metrics.get("route_completion", 0.0)))
        if "driving_score" in metrics:
            self.driving_score = float(metrics["driving_score"])
        self.success = bool(info.get("success", False))
        self.termination_reason = str(info.get("termination_reason", self.termination_reason))

    @property
    def avg_speed(self) -> float:
        return self.speed_sum / self.length if self.length else 0.0

    def summary(self) -> dict[str, float]:
        """Flat float metrics: what gets logged and what evaluation aggregates."""
        return {
            "return": self.episode_return,
            "length": float(self.length),
            "collisions": float(self.collisions),
            "lane_invasions": float(self.lane_invasions),
            "distance": self.distance,
            "avg_speed": self.avg_speed,
            "route_completion": self.route_completion,
            "success": float(self.success),
            "driving_score": float("nan") if self.driving_score is None else self.driving_score,
        }

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> EpisodeStats:
        return cls(**state)


def run_episode(
    env: gym.Env,
    act: Callable[[dict[str, np.ndarray]], np.ndarray],
    frame_stack: int,
    seed: int | None,
    on_step: Callable[[np.ndarray, dict[str, Any]], None] | None = None,
) -> EpisodeStats:
    """One whole episode with `act` on stacked observations; `on_step(action, info)` sees every step."""
    obs, _ = env.reset(seed=seed)
    stacker = FrameStacker(frame_stack)
    stacker.reset(obs["image"])
    stats = EpisodeStats()
    while True:
        action = act({"image": stacker.stacked(), "vector": obs["vector"]})
        obs, reward, terminated, truncated, info = env.step(action)
        stats.update(float(reward), info)
        if on_step is not None:
            on_step(action, info)
        stacker.push(obs["image"])
        if terminated or truncated:
            return stats
