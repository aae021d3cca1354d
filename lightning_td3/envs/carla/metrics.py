"""Whole-episode driving metrics and the CARLA Leaderboard driving score.

Driving score = route completion x infraction penalty, the penalty being the product of one coefficient per
infraction (vehicle collision 0.60, static 0.65, pedestrian 0.50, red light 0.70, stop sign 0.80).
"""

from __future__ import annotations

import math

PENALTIES = {
    "collisions_vehicle": 0.60,
    "collisions_static": 0.65,
    "collisions_pedestrian": 0.50,
    "red_light_infractions": 0.70,
    "stop_sign_infractions": 0.80,
}


def collision_kind(other_type_id: str) -> str:
    """The infraction a collision with an actor of this type id counts as."""
    if other_type_id.startswith("vehicle."):
        return "collisions_vehicle"
    if other_type_id.startswith("walker."):
        return "collisions_pedestrian"
    return "collisions_static"


def infraction_penalty(counts: dict[str, int]) -> float:
    return math.prod(PENALTIES[name] ** counts.get(name, 0) for name in PENALTIES)


def driving_score(route_completion: float, counts: dict[str, int]) -> float:
    return float(route_completion) * infraction_penalty(counts)


class EpisodeMetrics:
    """Accumulates one episode step by step; `as_dict` is what goes into info["metrics"] (cumulative)."""

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.counts = {name: 0 for name in PENALTIES}
        self.lane_invasions = 0
        self.steps = 0
        self.speed_sum = 0.0
        self.min_ttc = math.inf
        self.abs_jerk_long_sum = 0.0
        self.abs_jerk_lat_sum = 0.0
        self.max_abs_lateral_acceleration = 0.0

    def add_step(
        self,
        speed: float,
        time_to_collision: float,
        longitudinal_jerk: float,
        lateral_jerk: float,
        lateral_acceleration: float,
        collisions: list[str],
        lane_invasions: int,
        red_lights: int = 0,
    ) -> None:
        self.steps += 1
        self.speed_sum += speed
        self.min_ttc = min(self.min_ttc, time_to_collision)
        self.abs_jerk_long_sum += abs(longitudinal_jerk)
        self.abs_jerk_lat_sum += abs(lateral_jerk)
        self.max_abs_lateral_acceleration = max(self.max_abs_lateral_acceleration, abs(lateral_acceleration))
        for type_id in collisions:
            self.counts[collision_kind(type_id)] += 1
        self.lane_invasions += lane_invasions
        self.counts["red_light_infractions"] += red_lights

    def as_dict(self, route_completion: float) -> dict[str, float]:
        steps = max(self.steps, 1)
        return {
            **{name: float(count) for name, count in self.counts.items()},
            "lane_invasions": float(self.lane_invasions),
            "average_speed": self.speed_sum / steps,
            "min_ttc": self.min_ttc,
            "mean_abs_longitudinal_jerk": self.abs_jerk_long_sum / steps,
            "mean_abs_lateral_jerk": self.abs_jerk_lat_sum / steps,
            "max_abs_lateral_acceleration": self.max_abs_lateral_acceleration,
            "completion_time": self.steps * self.dt,
            "infraction_penalty": infraction_penalty(self.counts),
            "driving_score": driving_score(route_completion, self.counts),
        }
