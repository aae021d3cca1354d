"""The driving reward: five weighted terms computed from a `DrivingState`, never from the simulator.

Structure and defaults follow the reference system (weights efficiency 2, lane 2, comfort 1, safety 1,
progress 3), without its defects:

- the waypoint bonus is paid once per route waypoint reached (increments of `waypoints_reached`),
  not on every centimetre of motion;
- the goal bonus is paid at most once per episode;
- nothing is positive when standing still: efficiency's +0.15 "moving" bonus needs speed AND route
  progress on this step, lane keeping and comfort are 0 below a minimum speed, and no potential
  term exists (progress pays distance *gained*, forward only);
- lane keeping is -1 on an invasion; safety penalties are plain negative numbers under weight 1
  (the reference's -100 *weight* turned crashes into rewards).

Scale (why the reference weights are kept): at the 30 km/h target a well-driven step pays about
efficiency 2 x 1.15, lane keeping 2 x 0.5, comfort 1 x 0.3 and progress 3 x 1.0 per metre (0.5 per
metre gained + 1 per 2 m waypoint). At 5-20 Hz that is 1-5 per step for progress against ~3.6 for
the rest, so no term dwarfs the others over a 1000-step episode; the goal bonus (3 x 100) is
worth ~100 steps of driving and a high-speed crash (-100) a few dozen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lightning_td3.envs.contract import REWARD_TERMS, DrivingState


@dataclass
class RewardConfig:
    """Weights and parameters of `DrivingReward` (SI units: m, s, rad)."""

    # weights (terms are reported already multiplied by these)
    efficiency_weight: float = 2.0
    lane_keeping_weight: float = 2.0
    comfort_weight: float = 1.0
    safety_weight: float = 1.0
    progress_weight: float = 3.0
    # efficiency
    moving_bonus: float = 0.15
    moving_speed: float = 0.5  # m/s: above this (and progressing) the moving bonus is paid
    min_progress: float = 1e-3  # m of route gained on a step that counts as "making progress"
    overspeed_coef: float = 0.0  # above the target the forward ratio r pays 1 - coef*(r - 1); 0 = flat (reference)
    # lane keeping
    lane_invasion_penalty: float = -1.0
    lane_min_speed: float = 0.1  # m/s: below it the term is 0
    lane_full_speed: float = 3.0  # m/s: the term is scaled by min((v - min)/(full - min), 1)
    lateral_coef: float = 0.7
    heading_coef: float = 0.3
    heading_tolerance: float = 0.1  # rad
    # comfort
    jerk_scale: float = 5.0  # m/s^3
    comfort_coef: float = 0.3
    comfort_min_speed: float = 0.5  # m/s: "nearly stopped", term is 0
    # safety
    proximity_distance: float = 10.0  # m
    proximity_coef: float = 1.0
    min_distance: float = 0.5  # m
    ttc_threshold: float = 3.0  # s
    ttc_coef: float = 0.5
    min_ttc: float = 0.1  # s
    collision_penalties: tuple[float, float, float] = (-5.0, -25.0, -100.0)  # impact < 2, < 5, >= 5 m/s
    collision_speeds: tuple[float, float] = (2.0, 5.0)  # m/s
    off_road_penalty: float = -20.0
    wrong_way_penalty: float = -5.0  # scaled by |heading error| / pi
    safety_lane_invasion_penalty: float = -10.0
    stopping_penalty: float = -0.5
    stuck_penalty: float = -20.0  # once, when the env ends an episode for standing still (as bad as off-road)
    stopping_speed: float = 0.5  # m/s
    stopping_goal_distance: float = 10.0  # m: no stopping penalty this close to the goal
    # progress
    distance_coef: float = 0.5  # per metre of route gained
    waypoint_bonus: float = 1.0  # per route waypoint reached
    goal_bonus: float = 100.0  # once per episode
    progress_clip: tuple[float, float] = (-10.0, 110.0)

    def weights(self) -> dict[str, float]:
        return {name: float(getattr(self, f"{name}_weight")) for name in REWARD_TERMS}


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


class DrivingReward:
    """Stateful per episode: remembers progress and waypoints already paid and whether the goal was paid.

    Call `reset(state)` at the start of every episode, then call it once per step with that step's state.
    Returns (total, terms) with WEIGHTED terms keyed by `REWARD_TERMS`, total == sum(terms.values()).
    """

    def __init__(self, config: RewardConfig | None = None) -> None:
        self.config = config or RewardConfig()
        self.raw_terms: dict[str, float] = dict.fromkeys(REWARD_TERMS, 0.0)
        self._last_progress = 0.0
        self._waypoints_paid = 0
        self._goal_paid = False

    def reset(self, state: DrivingState) -> None:
        self._last_progress = float(state.route_progress)
        self._waypoints_paid = int(state.waypoints_reached)
        self._goal_paid = False
        self.raw_terms = dict.fromkeys(REWARD_TERMS, 0.0)

    def __call__(self, state: DrivingState) -> tuple[float, dict[str, float]]:
        gained = max(0.0, float(state.route_progress) - self._last_progress)  # forward only
        self._last_progress = max(self._last_progress, float(state.route_progress))
        new_waypoints = max(0, int(state.waypoints_reached) - self._waypoints_paid)
        self._waypoints_paid += new_waypoints
        pay_goal = bool(state.goal_reached) and not self._goal_paid
        self._goal_paid = self._goal_paid or pay_goal

        raw = {
            "efficiency": self.efficiency(state, gained),
            "lane_keeping": self.lane_keeping(state),
            "comfort": self.comfort(state),
            "safety": self.safety(state),
            "progress": self.progress(gained, new_waypoints, pay_goal),
        }
        self.raw_terms = raw
        weights = self.config.weights()
        terms = {name: weights[name] * raw[name] for name in REWARD_TERMS}
        return float(sum(terms.values())), terms

    # --- the terms, unweighted -------------------------------------------------------------------

    def efficiency(self, state: DrivingState, gained: float) -> float:
        c = self.config
        forward = state.speed * math.cos(state.heading_error) / max(state.target_speed, 1e-6)
        if forward > 1.0:
            forward = 1.0 - c.overspeed_coef * (forward - 1.0)
        moving = state.speed > c.moving_speed and gained > c.min_progress
        return _clip(forward + (c.moving_bonus if moving else 0.0), -1.0, 1.0)

    def lane_keeping(self, state: DrivingState) -> float:
        c = self.config
        if state.lane_invasion:
            return c.lane_invasion_penalty
        if state.speed < c.lane_min_speed:
            return 0.0
        lat = min(abs(state.lateral_offset) / max(state.half_lane_width, 1e-6), 1.0)
        head = min(abs(state.heading_error) / c.heading_tolerance, 1.0)
        score = 0.5 * ((1.0 - c.lateral_coef * lat) + (1.0 - c.heading_coef * head)) - 0.5
        scale = min((state.speed - c.lane_min_speed) / (c.lane_full_speed - c.lane_min_speed), 1.0)
        return score * scale

    def comfort(self, state: DrivingState) -> float:
        c = self.config
        if state.speed < c.comfort_min_speed:
            return 0.0
        n = min(math.hypot(state.longitudinal_jerk, state.lateral_jerk) / c.jerk_scale, 2.0)
        return c.comfort_coef * (1.0 - n) if n <= 1.0 else -c.comfort_coef * (n - 1.0) ** 2

    def safety(self, state: DrivingState) -> float:
        c = self.config
        total = 0.0
        if state.obstacle_distance < c.proximity_distance:
            total -= c.proximity_coef / max(state.obstacle_distance, c.min_distance)
        if state.time_to_collision < c.ttc_threshold:
            total -= c.ttc_coef / max(state.time_to_collision, c.min_ttc)
        if state.collision_intensity > 0:
            impact = state.collision_speed if state.collision_speed > 0 else state.speed
            slow, medium = c.collision_speeds
            total += c.collision_penalties[0 if impact < slow else 1 if impact < medium else 2]
        if state.off_road:
            total += c.off_road_penalty
        if state.wrong_way:
            total += c.wrong_way_penalty * min(abs(state.heading_error) / math.pi, 1.0)
        if state.lane_invasion:
            total += c.safety_lane_invasion_penalty
        if (state.speed < c.stopping_speed and state.distance_to_goal > c.stopping_goal_distance
                and not state.goal_reached):
            total += c.stopping_penalty
        if state.stuck:
            total += c.stuck_penalty
        return total

    def progress(self, gained: float, new_waypoints: int, pay_goal: bool) -> float:
        c = self.config
        value = c.distance_coef * gained + c.waypoint_bonus * new_waypoints
        value += c.goal_bonus if pay_goal else 0.0
        return _clip(value, *c.progress_clip)
