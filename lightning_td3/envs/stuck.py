"""When a stopped vehicle ends its episode ("stuck"), the same rule for every driving env."""

from __future__ import annotations

from lightning_td3.envs.contract import DrivingState
from lightning_td3.envs.reward import RewardConfig


class StuckDetector:
    """Counts consecutive steps stopped far from the goal (the reward's own notion of stopping).

    `max_stopped_steps=None` never declares a vehicle stuck (e.g. CARLA with traffic lights, where
    waiting is legitimate).
    """

    def __init__(self, max_stopped_steps: int | None, reward: RewardConfig) -> None:
        if max_stopped_steps is not None and max_stopped_steps < 1:
            raise ValueError(f"max_stopped_steps must be >= 1 or None, got {max_stopped_steps}")
        self.max_stopped_steps = max_stopped_steps
        self.stopping_speed = reward.stopping_speed
        self.goal_distance = reward.stopping_goal_distance
        self.stopped_steps = 0

    def reset(self) -> None:
        self.stopped_steps = 0

    def __call__(self, state: DrivingState) -> bool:
        stopped = state.speed < self.stopping_speed and state.distance_to_goal > self.goal_distance
        self.stopped_steps = self.stopped_steps + 1 if stopped else 0
        return self.max_stopped_steps is not None and self.stopped_steps >= self.max_stopped_steps
