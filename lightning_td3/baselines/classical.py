"""The classical baseline: PID speed control + pure-pursuit steering, from the observation vector only.

It reads what every driving env publishes (contract vector: speed/30 km/h, lateral/3.5, heading/pi, then
route waypoints in the vehicle frame, x forward, y left, /50), so the same controller runs on the
racetrack and on CARLA. Steering sign: a positive action steer turns RIGHT in both envs (CARLA's
VehicleControl, highway-env's left-handed frame), while pure pursuit's angle is > 0 to the LEFT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightning_td3.envs.observation import SPEED_SCALE_KMH, WAYPOINT_SCALE_M


@dataclass
class PIDSpeed:
    """Throttle (> 0) / brake (< 0) command in [-1, 1] from the speed error (m/s)."""

    kp: float = 0.5
    ki: float = 0.3
    kd: float = 0.13
    dt: float = 0.05
    integral_limit: float = 5.0  # m, anti wind-up

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.integral = 0.0
        self.previous_error: float | None = None

    def __call__(self, target_speed: float, speed: float) -> float:
        error = target_speed - speed
        self.integral = float(
            np.clip(self.integral + error * self.dt, -self.integral_limit, self.integral_limit)
        )
        derivative = 0.0 if self.previous_error is None else (error - self.previous_error) / self.dt
        self.previous_error = error
        return float(np.clip(self.kp * error + self.ki * self.integral + self.kd * derivative, -1.0, 1.0))


@dataclass
class PurePursuit:
    """Front-wheel angle (rad, > 0 = left) that puts the rear axle on an arc through the look-ahead point."""

    lookahead_gain: float = 0.8  # s: look-ahead = max(gain * speed, min)
    min_lookahead: float = 6.0  # m
    wheelbase: float = 3.0  # m

    def target(self, waypoints: np.ndarray, speed: float) -> np.ndarray | None:
        """First waypoint (vehicle frame) at least one look-ahead away, else the farthest one."""
        if len(waypoints) == 0:
            return None
        lookahead = max(self.lookahead_gain * speed, self.min_lookahead)
        distances = np.linalg.norm(waypoints, axis=1)
        beyond = np.flatnonzero(distances >= lookahead)
        return waypoints[beyond[0]] if len(beyond) else waypoints[int(np.argmax(distances))]

    def __call__(self, waypoints: np.ndarray, speed: float) -> float:
        point = self.target(waypoints, speed)
        if point is None:
            return 0.0
        distance = float(np.linalg.norm(point))
        alpha = math.atan2(float(point[1]), float(point[0]))
        return math.atan2(2.0 * self.wheelbase * math.sin(alpha), distance)


def decode_vector(vector: np.ndarray) -> tuple[float, np.ndarray]:
    """Speed (m/s) and route waypoints [K,2] (m, vehicle frame) from the contract vector, padding removed."""
    vector = np.asarray(vector, dtype=np.float64)
    speed = float(vector[0]) * SPEED_SCALE_KMH / 3.6
    waypoints = vector[3:].reshape(-1, 2) * WAYPOINT_SCALE_M
    present = np.flatnonzero(np.any(waypoints != 0.0, axis=1))
    return speed, waypoints[: present[-1] + 1] if len(present) else waypoints[:0]


class ClassicalController:
    """PID (kp 0.5, ki 0.3, kd 0.13, 30 km/h) + pure pursuit (gain 0.8, min 6 m, wheelbase 3 m).

    `max_steer_angle` is the wheel angle at action steer = 1 (CARLA's model3: 70 deg; highway-env: 45 deg);
    `dt` the env's step. `from_env` reads both from the env when it publishes them.
    """

    def __init__(
        self,
        target_speed_kmh: float = 30.0,
        kp: float = 0.5,
        ki: float = 0.3,
        kd: float = 0.13,
        lookahead_gain: float = 0.8,
        min_lookahead: float = 6.0,
        wheelbase: float = 3.0,
        dt: float = 0.05,
        max_steer_angle: float = math.pi / 4,
    ) -> None:
        if max_steer_angle <= 0 or dt <= 0:
            raise ValueError(f"max_steer_angle and dt must be > 0, got {max_steer_angle} and {dt}")
        self.target_speed = target_speed_kmh / 3.6
        self.pid = PIDSpeed(kp, ki, kd, dt)
        self.pursuit = PurePursuit(lookahead_gain, min_lookahead, wheelbase)
        self.max_steer_angle = max_steer_angle

    @classmethod
    def from_env(cls, env, **overrides) -> ClassicalController:
        base = getattr(env, "unwrapped", env)
        kwargs = {
            "dt": getattr(base, "dt", 0.05),
            "max_steer_angle": getattr(base, "max_steer_angle", math.pi / 4),
        }
        return cls(**{**kwargs, **overrides})

    def reset(self) -> None:
        self.pid.reset()

    def act(self, observation: dict[str, np.ndarray], explore: bool = False) -> np.ndarray:
        """[steer, throttle_brake] in [-1, 1] from observation["vector"] (the image is ignored)."""
        speed, waypoints = decode_vector(observation["vector"])
        angle = self.pursuit(waypoints, speed)
        steer = float(
            np.clip(-angle / self.max_steer_angle, -1.0, 1.0)
        )  # left angle -> negative (left) steer
        return np.array([steer, self.pid(self.target_speed, speed)], dtype=np.float32)

    __call__ = act
