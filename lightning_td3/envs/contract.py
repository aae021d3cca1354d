"""The one observation/action/info contract every driving env implements.

Observation: Dict(image=uint8[1, H, W] (one new grayscale frame per step), vector=float32[D]).
Action: Box(-1, 1, (2,)) = [steer, throttle_brake]; > 0 throttle, <= 0 brake.
Frame stacking is the data pipeline's job, so the replay stores each frame once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

IMAGE_SIZE = 84
EVENT_NAMES = ("collision", "lane_invasion", "off_road", "wrong_way")
METRIC_NAMES = ("speed", "distance", "route_completion", "lateral_offset")
REWARD_TERMS = ("efficiency", "lane_keeping", "comfort", "safety", "progress")

# termination_reason values
RUNNING = "running"
COLLISION = "collision"
OFF_ROAD = "off_road"
ROUTE_COMPLETED = "route_completed"
STUCK = "stuck"  # stopped far from the goal for too long
TIME_LIMIT = "time_limit"
SIMULATOR_TIMEOUT = "simulator_timeout"
ENV_TERMINATED = "env_terminated"  # a wrapped gymnasium env ended the episode for a reason of its own
TERMINAL_REASONS = (COLLISION, OFF_ROAD, ROUTE_COMPLETED, STUCK, ENV_TERMINATED)
TRUNCATION_REASONS = (TIME_LIMIT, SIMULATOR_TIMEOUT)


def observation_space(vector_dim: int, image_size: int = IMAGE_SIZE) -> spaces.Dict:
    return spaces.Dict(
        {
            "image": spaces.Box(0, 255, (1, image_size, image_size), np.uint8),
            "vector": spaces.Box(-np.inf, np.inf, (vector_dim,), np.float32),
        }
    )


def action_space() -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (2,), np.float32)


@dataclass
class DrivingState:
    """What the reward and the metrics need to know about one step, in SI units.

    Every env (embedded, CARLA) fills one per step; the reward never reads the simulator.
    """

    speed: float = 0.0  # m/s, forward
    target_speed: float = 30.0 / 3.6  # m/s
    lateral_offset: float = 0.0  # m, signed: > 0 left of the lane centre
    heading_error: float = 0.0  # rad, signed, wrapped to [-pi, pi]
    half_lane_width: float = 1.75  # m
    route_progress: float = 0.0  # m, arc length along the route, forward-only
    route_length: float = float("inf")  # m
    distance_to_goal: float = float("inf")  # m
    waypoints_reached: int = 0  # route waypoints passed so far (monotone)
    collision_intensity: float = 0.0  # > 0 on a step with a collision
    collision_speed: float = 0.0  # m/s at impact
    lane_invasion: bool = False
    off_road: bool = False
    wrong_way: bool = False
    stuck: bool = False  # stopped far from the goal for the env's `max_stopped_steps`
    longitudinal_jerk: float = 0.0  # m/s^3
    lateral_jerk: float = 0.0  # m/s^3
    acceleration: float = 0.0  # m/s^2
    obstacle_distance: float = float("inf")  # m, nearest obstacle ahead
    time_to_collision: float = float("inf")  # s
    goal_reached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def termination_reason(state: DrivingState, steps: int, max_episode_steps: int) -> str:
    """Why this step ends the episode (or RUNNING): events first, then the route, then the clock."""
    if state.collision_intensity > 0:
        return COLLISION
    if state.off_road:
        return OFF_ROAD
    if state.goal_reached:
        return ROUTE_COMPLETED
    if state.stuck:
        return STUCK
    if steps >= max_episode_steps:
        return TIME_LIMIT
    return RUNNING


def make_info(
    state: DrivingState,
    reward_terms: dict[str, float],
    distance: float,
    termination_reason: str,
    success: bool,
) -> dict[str, Any]:
    """The `info` dict every driving env returns from `step` (and, zeroed, from `reset`)."""
    completion = (
        0.0 if not np.isfinite(state.route_length) or state.route_length <= 0
        else float(min(state.route_progress / state.route_length, 1.0))
    )
    return {
        "reward_terms": dict(reward_terms),
        "events": {
            "collision": bool(state.collision_intensity > 0),
            "lane_invasion": bool(state.lane_invasion),
            "off_road": bool(state.off_road),
            "wrong_way": bool(state.wrong_way),
        },
        "metrics": {
            "speed": float(state.speed),
            "distance": float(distance),
            "route_completion": completion,
            "lateral_offset": float(state.lateral_offset),
        },
        "termination_reason": termination_reason,
        "success": bool(success),
    }
