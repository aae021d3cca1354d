"""The embedded default env: highway-env's racetrack (racetrack-v1) behind the driving contract.

Why this shape: it needs pip only, renders a top-down grayscale frame, and exposes exactly what CARLA
exposes (lane centre, heading, collisions, other vehicles), so the same vector, reward and metrics apply.

Conventions (chosen to match CARLA and the rendered image):
- highway-env's world is drawn with y pointing down the screen, so, like CARLA, it is treated as a
  left-handed world: a positive steer (= a growing heading) turns right on screen, the vehicle frame
  is x forward / y left as seen in the frame, `lateral_offset` > 0 means left of the lane centre.
- The route is the loop along the lane the ego starts in; progress is arc length along it (forward
  only, unwrapped over laps). Lateral offset and heading error are taken against the lane the ego is
  in now (the track has two 5 m lanes); moving to the other lane is a lane invasion, leaving the track
  is off-road. Waypoints follow the centreline of the current lane, every `waypoint_spacing` m, across
  the segments of the loop; a route waypoint counts as reached every `waypoint_spacing` m of progress.
- Traffic: `scenario` 0 / 1 / 2 -> 1 / 3 / 6 IDM vehicles on the ~300 m two-lane loop (the CARLA
  scenarios' 20 / 50 / 100 NPCs in Town01, scaled to the track); `traffic=n` sets the count directly.
- Timing: 5 Hz policy over a 15 Hz simulation (highway-env's tuned default): a lap at 30 km/h is
  ~180 steps, so a 1000-step episode covers several laps' worth of learning signal.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")  # before pygame loads; "dummy" renders black frames

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from highway_env.envs.racetrack_env import ConnectedLaneRacetrackEnv  # noqa: E402
from highway_env.vehicle.behavior import IDMVehicle  # noqa: E402
from highway_env.vehicle.kinematics import Vehicle  # noqa: E402

from lightning_td3.envs import contract  # noqa: E402
from lightning_td3.envs.contract import DrivingState  # noqa: E402
from lightning_td3.envs.observation import (  # noqa: E402
    HeadingUpView,
    driving_vector,
    resample_polyline,
    vector_dim,
    world_to_vehicle_frame,
    wrap_angle,
)
from lightning_td3.envs.reward import DrivingReward, RewardConfig  # noqa: E402
from lightning_td3.envs.stuck import StuckDetector

SCENARIO_TRAFFIC = {0: 1, 1: 3, 2: 6}
SPAWNS = ("start", "anywhere")
FRAMES = ("world", "heading")
GRAY_WEIGHTS = [0.2989, 0.5870, 0.1140]
MIN_SPAWN_GAP = 20.0  # m between spawned vehicles


class _ForwardVehicle(Vehicle):
    """The ego: braking stops the car and never reverses it (the contract has no reverse gear)."""

    def step(self, dt: float) -> None:
        super().step(dt)
        self.speed = max(self.speed, 0.0)


class _Track(ConnectedLaneRacetrackEnv):
    """racetrack-v1 with an exact number of other vehicles and a chosen initial ego speed."""

    @classmethod
    def default_config(cls) -> dict:
        config = super().default_config()
        config.update({"traffic": 0, "initial_speed": 5.0, "spawn": "start"})
        return config

    def _make_vehicles(self) -> None:
        rng = self.np_random
        lane_id = int(rng.integers(2))
        if self.config["spawn"] == "anywhere":  # uniform over the loop's arc length
            segments = [(a, b) for a, b in _loop_segments(self.road.network)]
            lengths = np.array([self.road.network.get_lane((a, b, lane_id)).length for a, b in segments])
            arc = rng.uniform(0.0, lengths.sum())
            k = int(np.searchsorted(np.cumsum(lengths), arc, side="right"))
            segment, longitudinal = segments[k], arc - float(np.concatenate([[0.0], np.cumsum(lengths)])[k])
        else:  # the reference's start: 20-50 m into the first straight
            segment, longitudinal = ("a", "b"), rng.uniform(20, 50)
        ego = _ForwardVehicle.make_on_lane(
            self.road, (*segment, lane_id), longitudinal=longitudinal, speed=self.config["initial_speed"],
        )
        self.controlled_vehicles = [ego]
        self.road.vehicles.append(ego)
        placed, attempts = 0, 0
        while placed < self.config["traffic"] and attempts < 200:
            attempts += 1
            lane_index = self.road.network.random_lane_index(rng)
            lane = self.road.network.get_lane(lane_index)
            longitudinal, speed = rng.uniform(0.0, lane.length), 6.0 + rng.uniform(high=3.0)
            vehicle = IDMVehicle.make_on_lane(self.road, lane_index, longitudinal=longitudinal, speed=speed)
            gaps = [np.linalg.norm(vehicle.position - v.position) for v in self.road.vehicles]
            if min(gaps) >= MIN_SPAWN_GAP:
                self.road.vehicles.append(vehicle)
                placed += 1


def _loop_segments(network: Any) -> list[tuple[str, str]]:
    """The track's segments in driving order, from node "a" back to it."""
    segments, node = [], "a"
    while True:
        nxt = next(iter(network.graph[node]))
        segments.append((node, nxt))
        node = nxt
        if node == "a":
            return segments


class _LaneLoop:
    """One lane id followed around the loop: segment order, arc offsets, and sampled centreline."""

    def __init__(self, network: Any, lane_id: int, spacing: float) -> None:
        self.segments = _loop_segments(network)
        self.lanes = {seg: network.get_lane((*seg, lane_id)) for seg in self.segments}
        lengths = np.array([self.lanes[seg].length for seg in self.segments])
        self.offsets = dict(zip(self.segments, np.concatenate([[0.0], np.cumsum(lengths)[:-1]]), strict=True))
        self.length = float(lengths.sum())
        dense = np.vstack([
            [self.lanes[seg].position(s, 0.0) for s in np.arange(0.0, self.lanes[seg].length, 0.25)]
            for seg in self.segments
        ])
        self.waypoints = resample_polyline(dense, spacing, closed=True)
        self.spacing = spacing

    def arc(self, segment: tuple[str, str], position: np.ndarray) -> float:
        lane = self.lanes[segment]
        s, _ = lane.local_coordinates(position)
        return float(self.offsets[segment] + np.clip(s, 0.0, lane.length))

    def ahead(self, arc: float, count: int) -> np.ndarray:
        first = int(math.floor(arc / self.spacing)) + 1
        return self.waypoints[np.arange(first, first + count) % len(self.waypoints)]


_NOT_EPISODE_STATE = ("observation_space", "action_space", "render_mode", "view")


class RacetrackEnv(gym.Env):
    """Contract env on highway-env's racetrack. Action [steer, throttle_brake] in [-1, 1].

    `spawn`: "start" puts the ego 20-50 m into the first straight (the reference's fixed start, and the
    evaluation default); "anywhere" spreads episode starts uniformly over the whole loop, so training
    data covers every curve even before the policy can reach it from the start line. Either way the
    route is one lap from the spawn point.

    `frame`: "world" renders a world-aligned square of `image_size / scaling` m centred on the ego (42 m at
    the defaults: a car ahead shows within ~16 m of gap, wherever the track turns it); "heading" turns it so
    the ego faces up, three quarters down the frame: 31 m of road ahead, 10 m behind (`HeadingUpView`).

    `max_stopped_steps` ends an episode (terminated, reason "stuck", the reward's `stuck_penalty`)
    after that many consecutive steps stopped far from the goal. Without it a policy that learns to
    brake fills the replay with 1000-step episodes of a parked car and the critic needs a very long
    bootstrap chain to learn that parking is bad: the "brake and stand still" trap of the reference.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(
        self,
        route_length: float | None = None,
        num_waypoints: int = 25,
        waypoint_spacing: float = 2.0,
        max_episode_steps: int = 1000,
        traffic: int | None = None,
        scenario: int | None = None,
        policy_frequency: int = 5,
        simulation_frequency: int = 15,
        image_size: int = contract.IMAGE_SIZE,
        scaling: float = 2.0,
        frame: str = "world",
        initial_speed: float = 5.0,
        spawn: str = "start",
        target_speed: float = 30.0 / 3.6,
        off_road_lateral: float = 2.5,
        max_stopped_steps: int | None = 25,
        reward: RewardConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if scenario is not None and traffic is not None:
            raise ValueError("give either traffic or scenario, not both")
        if scenario is not None and scenario not in SCENARIO_TRAFFIC:
            raise ValueError(f"scenario must be one of {sorted(SCENARIO_TRAFFIC)}, got {scenario}")
        if spawn not in SPAWNS:
            raise ValueError(f"spawn must be one of {SPAWNS}, got {spawn!r}")
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.traffic = SCENARIO_TRAFFIC[scenario] if scenario is not None else int(traffic or 0)
        self.num_waypoints = num_waypoints
        self.waypoint_spacing = waypoint_spacing
        self.max_episode_steps = max_episode_steps
        self.target_speed = target_speed
        self.off_road_lateral = off_road_lateral
        self.dt = 1.0 / policy_frequency
        self.render_mode = render_mode
        self.reward_fn = DrivingReward(RewardConfig(**reward) if isinstance(reward, Mapping) else reward)
        self.stuck = StuckDetector(max_stopped_steps, self.reward_fn.config)
        self.view = HeadingUpView(image_size, ego_row=image_size * 3 // 4) if frame == "heading" else None
        rendered = self.view.source_size if self.view else image_size
        self.sim = _Track(config={
            "observation": {"type": "GrayscaleObservation", "observation_shape": (rendered, rendered),
                            "stack_size": 1, "weights": GRAY_WEIGHTS, "scaling": scaling},
            "action": {"type": "ContinuousAction", "longitudinal": True, "lateral": True},
            "policy_frequency": policy_frequency,
            "simulation_frequency": simulation_frequency,
            "duration": 10**9,  # the time limit is ours
            "terminate_off_road": False,
            "other_vehicles": 0,
            "traffic": self.traffic,
            "initial_speed": initial_speed,
            "spawn": spawn,
        })
        self.observation_space = contract.observation_space(vector_dim(num_waypoints), image_size)
        self.action_space = contract.action_space()
        self.loops: dict[int, _LaneLoop] = {}  # built at the first reset, when the road exists
        self._route_length_arg = route_length
        self._frame = np.zeros((1, image_size, image_size), np.uint8)

    # --- gym API ----------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        sim_obs, _ = self.sim.reset(seed=seed)
        if not self.loops:
            self.loops = {i: _LaneLoop(self.sim.road.network, i, self.waypoint_spacing) for i in (0, 1)}
        ego = self.sim.vehicle
        self.route = self.loops[ego.lane_index[2]]
        self.route_length = float(self._route_length_arg or self.route.length)
        self._lap_arc = self.route.arc(ego.lane_index[:2], ego.position)
        self._unwrapped, self._progress = 0.0, 0.0
        self._lane_id = ego.lane_index[2]
        self._prev = {"speed": ego.speed, "heading": ego.heading, "accel": 0.0, "lat_accel": 0.0}
        self.steps, self.distance = 0, 0.0
        self.stuck.reset()
        state = self._driving_state(lane_changed=False)
        self.reward_fn.reset(state)
        self._frame = self._image(sim_obs)
        obs = {"image": self._frame, "vector": self._vector(state)}
        zero_terms = dict.fromkeys(contract.REWARD_TERMS, 0.0)
        info = contract.make_info(state, zero_terms, 0.0, contract.RUNNING, False)
        info["state"] = asdict(state)
        return obs, info

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        steer, throttle_brake = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        sim_obs, _, _, _, _ = self.sim.step(np.array([throttle_brake, steer]))
        self.steps += 1
        ego = self.sim.vehicle
        self.distance += abs(ego.speed) * self.dt
        lane_changed = ego.lane_index[2] != self._lane_id
        self._lane_id = ego.lane_index[2]
        state = self._driving_state(lane_changed)
        state.stuck = self.stuck(state)
        reward, terms = self.reward_fn(state)
        reason = contract.termination_reason(state, self.steps, self.max_episode_steps)
        terminated = reason in contract.TERMINAL_REASONS
        truncated = reason == contract.TIME_LIMIT
        self._frame = self._image(sim_obs)
        obs = {"image": self._frame, "vector": self._vector(state)}
        info = contract.make_info(state, terms, self.distance, reason, reason == contract.ROUTE_COMPLETED)
        info["state"] = asdict(state)
        return obs, float(reward), terminated, truncated, info

    def get_state(self) -> bytes:
        """The running episode, simulator included, so a resumed run continues the very same episode.

        The observation's pygame viewer cannot be pickled; it is detached while pickling and the live
        one is re-attached by `set_state`.
        """
        observation = self.sim.observation_type
        viewer, observation.viewer = observation.viewer, None
        try:
            return pickle.dumps({k: v for k, v in self.__dict__.items() if k not in _NOT_EPISODE_STATE})
        finally:
            observation.viewer = viewer

    def set_state(self, state: bytes) -> None:
        viewer = self.sim.observation_type.viewer
        self.__dict__.update(pickle.loads(state))
        self.sim.observation_type.viewer = viewer
        if viewer is not None:
            viewer.env = self.sim

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self._frame[0][:, :, None], 3, axis=2)

    def close(self) -> None:
        self.sim.close()

    # --- counterfactual frames, for analysis -------------------------------------------------------

    def lead_vehicle(self) -> Vehicle | None:
        """The vehicle the ego follows: the nearest one ahead within its lane's half width (what
        `obstacle_distance` measures)."""
        ego = self.sim.vehicle
        return self._lead(ego.lane.width_at(ego.lane.local_coordinates(ego.position)[0]) / 2)[0]

    def other_vehicles(self, visible_only: bool = False) -> list[Vehicle]:
        """Every vehicle but the ego; `visible_only`: those close enough to show in the frame (conservatively)."""
        ego = self.sim.vehicle
        others = [v for v in self.sim.road.vehicles if v is not ego]
        if not visible_only:
            return others
        config = self.sim.observation_type.viewer.config
        # the rendered frame (the heading-up view's source too) is a world-aligned square centred on the ego; a
        # vehicle further than its half diagonal plus a vehicle's half diagonal cannot touch it
        half_diagonal = np.hypot(config["screen_width"], config["screen_height"]) / 2 / config["scaling"]
        reach = half_diagonal + max(ego.LENGTH, ego.WIDTH)
        return [v for v in others if np.linalg.norm(v.position - ego.position) <= reach]

    def frame_without(self, hidden: Sequence[Vehicle]) -> np.ndarray:
        """The current frame [1, H, W] rendered with the `hidden` vehicles erased from the road.

        What the policy would see if they were not there: the counterfactual that tells whether a policy
        reacts to the car ahead. The simulation is untouched.
        """
        road, observation = self.sim.road, self.sim.observation_type
        vehicles, kept = road.vehicles, observation.obs
        road.vehicles = [v for v in vehicles if not any(v is h for h in hidden)]
        try:
            frame = observation.observe()
        finally:
            road.vehicles, observation.obs = vehicles, kept
        return self._image(frame)

    def _image(self, rendered: np.ndarray) -> np.ndarray:
        """The observed frame [1, H, W] from highway-env's render [1, W, H] (turned heading-up if asked)."""
        frame = rendered.transpose(0, 2, 1)
        if self.view is not None:
            return self.view(frame[0], self.sim.vehicle.heading)[None]
        return np.ascontiguousarray(frame)

    # --- state from the simulator -----------------------------------------------------------------

    def _driving_state(self, lane_changed: bool) -> DrivingState:
        ego = self.sim.vehicle
        segment = ego.lane_index[:2]
        lane = ego.lane
        s, lateral = lane.local_coordinates(ego.position)
        # left-handed world (see module docstring): flip highway-env's lateral and heading signs
        lateral_offset = -float(lateral)
        heading_error = -float(wrap_angle(ego.heading - lane.heading_at(s)))

        lap_arc = self.route.arc(segment, ego.position)
        half_lap = self.route.length / 2
        # unwrap across the lap seam: a step never moves more than half a lap
        self._unwrapped += (lap_arc - self._lap_arc + half_lap) % self.route.length - half_lap
        self._lap_arc = lap_arc
        self._progress = max(self._progress, self._unwrapped)

        speed, heading = float(ego.speed), float(ego.heading)
        accel = (speed - self._prev["speed"]) / self.dt
        lat_accel = speed * float(wrap_angle(heading - self._prev["heading"])) / self.dt
        long_jerk = (accel - self._prev["accel"]) / self.dt
        lat_jerk = (lat_accel - self._prev["lat_accel"]) / self.dt
        self._prev = {"speed": speed, "heading": heading, "accel": accel, "lat_accel": lat_accel}

        distance, ttc = self._nearest_ahead(lane.width_at(s) / 2)
        crashed = bool(ego.crashed)
        extra = {"lane_index": list(ego.lane_index), "position": [float(x) for x in ego.position],
                 "heading": heading, "lap_length": self.route.length}
        if crashed:
            extra["collision_other"] = self._collided_with()
        return DrivingState(
            speed=speed,
            target_speed=self.target_speed,
            lateral_offset=lateral_offset,
            heading_error=heading_error,
            half_lane_width=float(lane.width_at(s)) / 2,
            route_progress=self._progress,
            route_length=self.route_length,
            distance_to_goal=max(self.route_length - self._progress, 0.0),
            waypoints_reached=int(self._progress // self.waypoint_spacing),
            collision_intensity=1.0 if crashed else 0.0,
            collision_speed=abs(speed) if crashed else 0.0,
            lane_invasion=lane_changed,
            off_road=(not ego.on_road) or abs(lateral_offset) > self.off_road_lateral,
            wrong_way=abs(heading_error) > np.pi / 2,
            longitudinal_jerk=long_jerk,
            lateral_jerk=lat_jerk,
            acceleration=accel,
            obstacle_distance=distance,
            time_to_collision=ttc,
            goal_reached=self._progress >= self.route_length,
            extra=extra,
        )

    def _collided_with(self) -> dict[str, float] | None:
        """Where the vehicle the ego hit was, in the ego's frame (x forward, centre to centre), and its speed.

        highway-env marks both vehicles of a crash `crashed`; the nearest such vehicle is the one hit.
        """
        ego = self.sim.vehicle
        crashed = [v for v in self.other_vehicles() if v.crashed]
        if not crashed:
            return None
        other = min(crashed, key=lambda v: float(np.linalg.norm(v.position - ego.position)))
        (x, y), = world_to_vehicle_frame(other.position[None], ego.position, ego.heading, y_left=False)
        return {"forward_m": float(x), "lateral_m": float(y), "speed": float(other.speed)}

    def _nearest_ahead(self, half_width: float) -> tuple[float, float]:
        _, gap, ttc = self._lead(half_width)
        return gap, ttc

    def _lead(self, half_width: float) -> tuple[Vehicle | None, float, float]:
        """The nearest vehicle ahead within `half_width` of the ego's axis, its free gap (m) and time to collision."""
        ego, others = self.sim.vehicle, self.other_vehicles()
        if not others:
            return None, float("inf"), float("inf")
        local = world_to_vehicle_frame(np.array([v.position for v in others]), ego.position, ego.heading,
                                       y_left=False)
        lead, best_d, best_ttc = None, float("inf"), float("inf")
        for (x, y), other in zip(local, others, strict=True):
            if x <= 0 or abs(y) > half_width:
                continue
            gap = max(float(x) - (ego.LENGTH + other.LENGTH) / 2, 0.0)
            if gap < best_d:
                closing = ego.speed - other.speed * math.cos(other.heading - ego.heading)
                lead, best_d, best_ttc = other, gap, (gap / closing if closing > 1e-6 else float("inf"))
        return lead, best_d, best_ttc

    def _vector(self, state: DrivingState) -> np.ndarray:
        ego = self.sim.vehicle
        loop = self.loops[ego.lane_index[2]]
        remaining = int(max(self.route_length - state.route_progress, 0.0) // self.waypoint_spacing)
        count = min(self.num_waypoints, remaining)
        points = loop.ahead(loop.arc(ego.lane_index[:2], ego.position), count)
        local = world_to_vehicle_frame(points, ego.position, ego.heading, y_left=False)
        return driving_vector(state.speed, state.lateral_offset, state.heading_error, local,
                              self.num_waypoints)
