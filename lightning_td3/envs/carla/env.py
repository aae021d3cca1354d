"""CARLA 0.9.16 behind the driving contract: synchronous, frame-checked, self-cleaning, self-healing.

Everything that talks to the server is in `backend.py`; this module keeps the route, the `DrivingState`,
the reward, termination, the ids of the actors it spawned, and the recovery from simulator faults:
a tick or sensor timeout truncates the episode with reason "simulator_timeout" and reward 0 (never a
penalty), and the next reset rebuilds the client with backoff (restarting a configured server if needed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import carla
import gymnasium as gym
import numpy as np

from lightning_td3.envs import contract
from lightning_td3.envs.carla.backend import CarlaBackend, SensorSpec
from lightning_td3.envs.carla.metrics import EpisodeMetrics
from lightning_td3.envs.carla.route import Route, generate_route, left_of, query_lane, to_vehicle_frame
from lightning_td3.envs.carla.sensors import SensorQueue, SimulatorTimeout, camera_to_gray
from lightning_td3.envs.carla.server import CarlaConnectionError, ServerProcess, connect_with_backoff
from lightning_td3.envs.contract import DrivingState
from lightning_td3.envs.observation import driving_vector, vector_dim
from lightning_td3.envs.reward import DrivingReward, RewardConfig
from lightning_td3.envs.stuck import StuckDetector

SCENARIO_NPCS = {0: 20, 1: 50, 2: 100}
MAX_STEER_ANGLE = math.radians(70.0)  # vehicle.tesla.model3 front wheels at steer = 1
SPAWN_LIFT = 0.5  # m above the road, as the reference


def vehicle_control(action: np.ndarray) -> carla.VehicleControl:
    """[steer, throttle_brake] in [-1, 1] -> VehicleControl (steer > 0 right; > 0 throttle, else brake)."""
    steer, throttle_brake = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
    return carla.VehicleControl(
        throttle=float(max(throttle_brake, 0.0)), steer=float(steer), brake=float(max(-throttle_brake, 0.0))
    )


class CarlaEnv(gym.Env):
    """Contract env on a CARLA server. `backend` replaces the server connection (tests use a fake)."""

    metadata = {"render_modes": []}
    max_steer_angle = MAX_STEER_ANGLE

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2000,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        town: str = "Town01",
        scenario: int = 0,
        num_npcs: int | None = None,
        route: list[list[float]] | None = None,
        route_start: list[float] | None = None,
        start_index: int = 0,
        route_length: float = 250.0,
        seed: int = 0,
        fixed_delta_seconds: float = 0.05,
        max_episode_steps: int = 1000,
        max_stopped_steps: int | None = None,
        vehicle: str = "vehicle.tesla.model3",
        weather: str = "ClearNoon",
        camera_width: int = 256,
        camera_height: int = 144,
        camera_fov: float = 90.0,
        camera_x: float = 1.6,
        camera_z: float = 1.5,
        image_size: int = contract.IMAGE_SIZE,
        num_waypoints: int = 25,
        waypoint_spacing: float = 2.0,
        target_speed_kmh: float = 30.0,
        off_road_distance: float = 2.5,
        goal_tolerance: float = 3.0,
        npc_min_distance: float = 20.0,
        tm_port: int = 8000,
        sensor_timeout: float | None = None,
        server_command: str | None = None,
        server_startup_seconds: float = 20.0,
        reward: RewardConfig | Mapping[str, Any] | None = None,
        backend: Any | None = None,
    ) -> None:
        if num_npcs is None and scenario not in SCENARIO_NPCS:
            raise ValueError(f"scenario must be one of {sorted(SCENARIO_NPCS)}, got {scenario}")
        if fixed_delta_seconds <= 0 or timeout <= 0 or max_episode_steps < 1:
            raise ValueError("fixed_delta_seconds, timeout and max_episode_steps must be positive")
        self.host, self.port, self.timeout, self.retries, self.backoff = host, port, timeout, retries, backoff
        self.town, self.seed, self.tm_port, self.weather = town, seed, tm_port, weather
        self.num_npcs = int(num_npcs if num_npcs is not None else SCENARIO_NPCS[scenario])
        self.dt = fixed_delta_seconds
        self.max_episode_steps = max_episode_steps
        self.vehicle_blueprint = vehicle
        self.image_size = image_size
        self.num_waypoints, self.waypoint_spacing = num_waypoints, waypoint_spacing
        self.target_speed = target_speed_kmh / 3.6
        self.off_road_distance, self.goal_tolerance = off_road_distance, goal_tolerance
        self.npc_min_distance = npc_min_distance
        self.sensor_timeout = timeout if sensor_timeout is None else sensor_timeout
        self.reward_fn = DrivingReward(RewardConfig(**reward) if isinstance(reward, Mapping) else reward)
        # off by default: waiting at a red light is legitimate in CARLA
        self.stuck = StuckDetector(max_stopped_steps, self.reward_fn.config)
        self.sensor_specs = [
            SensorSpec(
                "camera",
                "sensor.camera.rgb",
                carla.Transform(carla.Location(x=camera_x, z=camera_z)),
                {
                    "image_size_x": str(camera_width),
                    "image_size_y": str(camera_height),
                    "fov": str(camera_fov),
                },
            ),
            SensorSpec("collision", "sensor.other.collision", carla.Transform()),
            SensorSpec("lane_invasion", "sensor.other.lane_invasion", carla.Transform()),
            SensorSpec(
                "obstacle",
                "sensor.other.obstacle",
                carla.Transform(carla.Location(x=2.5, z=0.7)),
                {"distance": "10", "hit_radius": "0.5", "only_dynamics": "false"},
            ),
        ]
        self.observation_space = contract.observation_space(vector_dim(num_waypoints), image_size)
        self.action_space = contract.action_space()

        self.backend = backend if backend is not None else CarlaBackend()
        self.server = ServerProcess(server_command, port, server_startup_seconds) if server_command else None
        self.ego_id: int | None = None
        self.sensor_ids: list[int] = []
        self.npc_ids: list[int] = []
        self.queues: dict[str, SensorQueue] = {}
        self.connections = 0
        self._needs_recovery = False
        self._closed = False
        self._connect()
        self.map: carla.Map = self.backend.get_map()
        self.route = Route(
            route if route is not None else self._generated_route(route_start, start_index, route_length)
        )

    # --- connection ---------------------------------------------------------------------------------

    def _connect(self) -> None:
        """A new client (and world set-up) with backoff; a configured server is (re)started when needed."""
        if self.server is not None and not self.server.running:
            self.port = self.server.start()

        def restart_server(attempt: int) -> None:
            if self.server is not None:
                self.port = self.server.start()

        def connect() -> None:
            self.backend.connect(self.host, self.port, self.timeout)
            self.backend.setup(self.town, self.dt, self.tm_port, self.seed, self.weather)

        connect_with_backoff(connect, f"{self.host}:{self.port}", self.retries, self.backoff, restart_server)
        self.connections += 1

    def _recover(self) -> None:
        """After a fault: a fresh client, then destroy what this env had spawned (ids survive a reconnect)."""
        self.backend.close()
        restarts_before = self.server.process if self.server is not None else None
        self._connect()
        same_server = self.server is None or self.server.process is restarts_before
        if not same_server:  # a new server: the old ids mean nothing there
            self.ego_id, self.sensor_ids, self.npc_ids = None, [], []
        self.map = self.backend.get_map()
        self._needs_recovery = False

    # --- route --------------------------------------------------------------------------------------

    def _generated_route(
        self, route_start: list[float] | None, start_index: int, length: float
    ) -> np.ndarray:
        if route_start is not None:
            start = carla.Location(x=float(route_start[0]), y=float(route_start[1]))
        else:
            points = self.backend.spawn_points()
            if not points:
                raise ValueError("the map has no spawn points: configure `route` or `route_start`")
            start = points[start_index % len(points)].location
        return generate_route(self.map, start, length, self.waypoint_spacing)

    # --- gym API ------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        if self._closed:
            raise RuntimeError("CarlaEnv.reset after close()")
        for _ in range(2):
            if self._needs_recovery:
                self._recover()
            try:
                return self._start_episode()
            except SimulatorTimeout:
                self._needs_recovery = True
        raise CarlaConnectionError(f"CARLA server at {self.host}:{self.port} timed out twice while resetting")

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        if self.ego_id is None:
            raise RuntimeError("CarlaEnv.step before reset()")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (2,):
            raise ValueError(f"action must have shape (2,) = [steer, throttle_brake], got {action.shape}")
        try:
            self.backend.apply_control(self.ego_id, vehicle_control(action))
            frame = self.backend.tick(self.timeout)
            image = camera_to_gray(self.queues["camera"].get(frame, self.sensor_timeout), self.image_size)
            events = {
                name: self.queues[name].drain(frame) for name in ("collision", "lane_invasion", "obstacle")
            }
            state = self._driving_state(events)
        except (SimulatorTimeout, RuntimeError) as fault:  # carla raises RuntimeError when the server is gone
            return self._fault_step(fault)
        self.steps += 1
        state.stuck = self.stuck(state)
        reward, terms = self.reward_fn(state)
        reason = contract.termination_reason(state, self.steps, self.max_episode_steps)
        self._obs = {"image": image, "vector": self._vector(state)}
        info = self._info(state, terms, reason)
        return (
            self._obs,
            float(reward),
            reason in contract.TERMINAL_REASONS,
            reason == contract.TIME_LIMIT,
            info,
        )

    def close(self) -> None:
        """Destroy our actors, restore the world's settings, drop the client, stop our server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._needs_recovery:
                self._recover()  # our actors may still live on a server that only hiccuped
            self._cleanup()
            self.backend.restore()
        except RuntimeError:
            pass  # the server is gone (CarlaConnectionError included): nothing left to clean on it
        finally:
            self.backend.close()
            if self.server is not None:
                self.server.stop()

    # --- episode ------------------------------------------------------------------------------------

    def _start_episode(self) -> tuple[dict, dict]:
        self._cleanup()
        start_xy, start_yaw = self.route.pose_at(0.0)
        lane: carla.Waypoint | None = self.map.get_waypoint(carla.Location(x=start_xy[0], y=start_xy[1]))
        z = (lane.transform.location.z if lane is not None else 0.0) + SPAWN_LIFT
        start = carla.Transform(
            carla.Location(x=start_xy[0], y=start_xy[1], z=z), carla.Rotation(yaw=math.degrees(start_yaw))
        )
        self.ego_id = self.backend.spawn_vehicle(self.vehicle_blueprint, start)
        if self.ego_id is None:
            raise RuntimeError(
                f"route start ({start_xy[0]:.1f}, {start_xy[1]:.1f}) is occupied: cannot spawn ego"
            )
        self.npc_ids = self.backend.spawn_npcs(
            self._npc_transforms(start_xy), int(self.np_random.integers(2**31))
        )
        self.queues = {spec.kind: SensorQueue(spec.kind) for spec in self.sensor_specs}
        for spec in self.sensor_specs:
            self.sensor_ids.append(self.backend.spawn_sensor(spec, self.ego_id, self.queues[spec.kind].put))

        frame = self.backend.tick(self.timeout)
        image = camera_to_gray(self.queues["camera"].get(frame, self.sensor_timeout), self.image_size)
        for name in ("collision", "lane_invasion", "obstacle"):  # contact from spawning is not the policy's
            self.queues[name].drain(frame)
        self.steps, self.progress, self.distance = 0, 0.0, 0.0
        self.metrics = EpisodeMetrics(self.dt)
        self._prev_xy = None
        self._prev_accel = (0.0, 0.0)
        self._prev_speed = 0.0
        self._light = (None, False)
        self._counted_lights: set[int] = set()
        state = self._driving_state({"collision": [], "lane_invasion": [], "obstacle": []}, count=False)
        self.reward_fn.reset(state)
        self.stuck.reset()
        self._obs = {"image": image, "vector": self._vector(state)}
        return self._obs, self._info(state, dict.fromkeys(contract.REWARD_TERMS, 0.0), contract.RUNNING)

    def _npc_transforms(self, ego_xy: np.ndarray) -> list[carla.Transform]:
        """Spawn points at least `npc_min_distance` from the ego, in a seeded random order."""
        far = [
            t
            for t in self.backend.spawn_points()
            if math.hypot(t.location.x - ego_xy[0], t.location.y - ego_xy[1]) >= self.npc_min_distance
        ]
        order = self.np_random.permutation(len(far))
        return [far[i] for i in order[: self.num_npcs]]

    def _cleanup(self) -> None:
        """Destroy only what this env spawned: sensors first (the backend stops them), then ego and NPCs."""
        ids = self.sensor_ids + ([self.ego_id] if self.ego_id is not None else []) + self.npc_ids
        self.ego_id, self.sensor_ids, self.npc_ids, self.queues = None, [], [], {}
        self.backend.destroy(ids)

    def _fault_step(self, fault: Exception) -> tuple[dict, float, bool, bool, dict]:
        self._needs_recovery = True
        self.last_fault = str(fault)
        state = self._last_state
        info = self._info(state, dict.fromkeys(contract.REWARD_TERMS, 0.0), contract.SIMULATOR_TIMEOUT)
        return self._obs, 0.0, False, True, info

    # --- state --------------------------------------------------------------------------------------

    def _driving_state(self, events: dict[str, list], count: bool = True) -> DrivingState:
        kin = self.backend.kinematics(self.ego_id)
        location: carla.Location = kin.transform.location
        yaw = math.radians(kin.transform.rotation.yaw)
        xy = np.array([location.x, location.y])
        forward, left = np.array([math.cos(yaw), math.sin(yaw)]), left_of(yaw)
        velocity, accel = (
            np.array([kin.velocity.x, kin.velocity.y]),
            np.array([kin.acceleration.x, kin.acceleration.y]),
        )
        speed = float(velocity @ forward)
        a_long, a_lat = float(accel @ forward), float(accel @ left)
        jerk_long = (a_long - self._prev_accel[0]) / self.dt if count else 0.0
        jerk_lat = (a_lat - self._prev_accel[1]) / self.dt if count else 0.0
        if self._prev_xy is not None:
            self.distance += float(np.linalg.norm(xy - self._prev_xy))

        projected = self.route.project(xy, self.progress, ahead=10.0 + abs(speed) * self.dt)
        self.progress = max(self.progress, projected)
        lateral, heading = self.route.lateral_and_heading(xy, yaw, projected)
        lane = query_lane(self.map, location, yaw)

        collisions = events["collision"]
        obstacles = events["obstacle"]
        obstacle_distance, ttc = math.inf, math.inf
        if obstacles:
            nearest = min(obstacles, key=lambda o: o.distance)
            obstacle_distance = nearest.distance
            closing = speed - nearest.other_speed
            ttc = obstacle_distance / closing if closing > 1e-3 else math.inf
        red_lights = self._red_light_infraction(kin.traffic_light_id, kin.traffic_light_red)
        distance_to_goal = max(self.route.length - self.progress, 0.0)
        state = DrivingState(
            speed=speed,
            target_speed=self.target_speed,
            lateral_offset=lateral,
            heading_error=heading,
            half_lane_width=lane.half_lane_width,
            route_progress=self.progress,
            route_length=self.route.length,
            distance_to_goal=distance_to_goal,
            waypoints_reached=self.route.waypoints_reached(self.progress),
            collision_intensity=float(sum(c.intensity for c in collisions)) or (1.0 if collisions else 0.0),
            collision_speed=max(abs(speed), abs(self._prev_speed)) if collisions else 0.0,
            lane_invasion=bool(events["lane_invasion"]),
            off_road=(not lane.on_road) or abs(lateral) > self.off_road_distance,
            wrong_way=lane.wrong_way,
            longitudinal_jerk=jerk_long,
            lateral_jerk=jerk_lat,
            acceleration=a_long,
            obstacle_distance=obstacle_distance,
            time_to_collision=ttc,
            goal_reached=distance_to_goal <= self.goal_tolerance,
            extra={
                "position": [float(location.x), float(location.y)],
                "yaw": yaw,
                "collided_with": [c.other_type_id for c in collisions],
            },
        )
        if count:
            self.metrics.add_step(
                speed,
                ttc,
                jerk_long,
                jerk_lat,
                a_lat,
                [c.other_type_id for c in collisions],
                len(events["lane_invasion"]),
                red_lights,
            )
        self._prev_xy, self._prev_accel, self._prev_speed = xy, (a_long, a_lat), speed
        self._waypoints_world = self.route.points_ahead(projected, self.num_waypoints, self.waypoint_spacing)
        self._pose = (xy, yaw)
        self._last_state = state
        return state

    def _red_light_infraction(self, light_id: int | None, red: bool) -> int:
        """1 when the car leaves a light's stop area that was red on the previous tick (once per light)."""
        previous_id, previous_red = self._light
        self._light = (light_id, red)
        if (
            previous_id is not None
            and previous_red
            and light_id != previous_id
            and previous_id not in self._counted_lights
        ):
            self._counted_lights.add(previous_id)
            return 1
        return 0

    def _vector(self, state: DrivingState) -> np.ndarray:
        xy, yaw = self._pose
        local = to_vehicle_frame(self._waypoints_world, xy, yaw).reshape(-1, 2)
        return driving_vector(
            state.speed, state.lateral_offset, state.heading_error, local, self.num_waypoints
        )

    def _info(self, state: DrivingState, terms: dict[str, float], reason: str) -> dict[str, Any]:
        info = contract.make_info(state, terms, self.distance, reason, reason == contract.ROUTE_COMPLETED)
        info["metrics"].update(self.metrics.as_dict(info["metrics"]["route_completion"]))
        info["state"] = asdict(state)
        return info
