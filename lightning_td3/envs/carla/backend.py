"""The seam between the CARLA env and the server: every call that talks to the simulator lives here.

The env above holds only actor ids and sensor records, so `testing.FakeCarlaBackend` can replace this class
in tests. Attributes are annotated with their `carla` types; a test checks every `carla` name used here
exists in the installed package.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import carla
import numpy as np

from lightning_td3.envs.carla.sensors import (
    CameraFrame,
    CollisionReading,
    LaneInvasionReading,
    ObstacleReading,
    SimulatorTimeout,
)


@dataclass(frozen=True)
class Kinematics:
    transform: carla.Transform
    velocity: carla.Vector3D  # m/s, world frame
    acceleration: carla.Vector3D  # m/s^2, world frame
    traffic_light_id: int | None = None  # the traffic light whose stop area the car is in, if any
    traffic_light_red: bool = False


@dataclass(frozen=True)
class SensorSpec:
    kind: str  # "camera" | "collision" | "lane_invasion" | "obstacle"
    blueprint: str
    transform: carla.Transform
    attributes: dict[str, str] = field(default_factory=dict)


def _norm(v: carla.Vector3D) -> float:
    return math.sqrt(v.x * v.x + v.y * v.y + v.z * v.z)


def camera_record(image: carla.Image) -> CameraFrame:
    return CameraFrame(image.frame, image.width, image.height, bytes(image.raw_data))


def collision_record(event: carla.CollisionEvent) -> CollisionReading:
    other: carla.Actor = event.other_actor
    return CollisionReading(
        event.frame, other.type_id if other is not None else "static", _norm(event.normal_impulse)
    )


def lane_invasion_record(event: carla.LaneInvasionEvent) -> LaneInvasionReading:
    markings: list[carla.LaneMarking] = list(event.crossed_lane_markings)
    return LaneInvasionReading(event.frame, tuple(str(m.type) for m in markings))


def obstacle_record(event: carla.ObstacleDetectionEvent) -> ObstacleReading:
    other: carla.Actor = event.other_actor
    speed = _norm(other.get_velocity()) if other is not None else 0.0
    return ObstacleReading(
        event.frame, float(event.distance), other.type_id if other is not None else "", speed
    )


RECORDS: dict[str, Callable] = {
    "camera": camera_record,
    "collision": collision_record,
    "lane_invasion": lane_invasion_record,
    "obstacle": obstacle_record,
}


class CarlaBackend:
    """A live connection to one CARLA server. `connect` always builds a new `carla.Client`:
    an old client never recovers after a server restart."""

    def __init__(self) -> None:
        self._client: carla.Client | None = None
        self._world: carla.World | None = None
        self._tm: carla.TrafficManager | None = None
        self._original_settings: carla.WorldSettings | None = None
        self._tm_port = 8000
        self._actors: dict[int, carla.Actor] = {}

    def connect(self, host: str, port: int, timeout: float) -> None:
        """Raises RuntimeError when the server does not answer within `timeout` seconds."""
        client = carla.Client(host, port)
        client.set_timeout(timeout)
        world = client.get_world()
        self._client, self._world, self._actors = client, world, {}

    def setup(self, town: str, fixed_delta_seconds: float, tm_port: int, seed: int, weather: str) -> None:
        """Load `town` only when different; synchronous world and Traffic Manager; keep original settings."""
        current = self._world.get_map().name.split("/")[-1]
        if current != town:
            self._client.load_world_if_different(town)
            self._world = self._client.get_world()
            self._original_settings = None  # a new world has its own defaults
        if self._original_settings is None:
            self._original_settings = self._world.get_settings()
        settings: carla.WorldSettings = self._world.get_settings()
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = fixed_delta_seconds
        self._world.apply_settings(settings)
        self._tm_port = tm_port
        self._tm = self._client.get_trafficmanager(tm_port)
        self._tm.set_synchronous_mode(True)
        self._tm.set_random_device_seed(seed)
        preset = getattr(carla.WeatherParameters, weather, None)
        if preset is None:
            raise ValueError(f"unknown CARLA weather preset {weather!r}")
        self._world.set_weather(preset)

    def get_map(self) -> carla.Map:
        return self._world.get_map()

    def spawn_points(self) -> list[carla.Transform]:
        return list(self._world.get_map().get_spawn_points())

    def spawn_vehicle(self, blueprint_id: str, transform: carla.Transform) -> int | None:
        """The ego; None when the spot is occupied."""
        blueprint: carla.ActorBlueprint = self._world.get_blueprint_library().find(blueprint_id)
        blueprint.set_attribute("role_name", "hero")
        actor: carla.Vehicle | None = self._world.try_spawn_actor(blueprint, transform)
        if actor is None:
            return None
        self._actors[actor.id] = actor
        return actor.id

    def spawn_npcs(self, transforms: list[carla.Transform], seed: int) -> list[int]:
        """NPC vehicles on Traffic Manager autopilot, spawned in one batch; failed spawns are skipped."""
        library: carla.BlueprintLibrary = self._world.get_blueprint_library()
        blueprints = sorted(
            (b for b in library.filter("vehicle.*") if b.get_attribute("number_of_wheels").as_int() == 4),
            key=lambda b: b.id,
        )
        rng = np.random.default_rng(seed)
        batch = []
        for transform in transforms:
            blueprint = blueprints[int(rng.integers(len(blueprints)))]
            blueprint.set_attribute("role_name", "autopilot")
            autopilot = carla.command.SetAutopilot(carla.command.FutureActor, True, self._tm_port)
            batch.append(carla.command.SpawnActor(blueprint, transform).then(autopilot))
        responses: list[carla.command.Response] = self._client.apply_batch_sync(batch, True)
        return [r.actor_id for r in responses if not r.has_error()]

    def spawn_sensor(self, spec: SensorSpec, parent_id: int, callback: Callable) -> int:
        """Attach a sensor; each reading is turned into a record (see sensors.py) and passed to `callback`."""
        blueprint: carla.ActorBlueprint = self._world.get_blueprint_library().find(spec.blueprint)
        for key, value in spec.attributes.items():
            blueprint.set_attribute(key, str(value))
        sensor: carla.Sensor = self._world.spawn_actor(
            blueprint, spec.transform, attach_to=self._actors[parent_id]
        )
        to_record = RECORDS[spec.kind]
        sensor.listen(lambda data: callback(to_record(data)))
        self._actors[sensor.id] = sensor
        return sensor.id

    def tick(self, timeout: float) -> int:
        """Advance one fixed step; the new frame number. SimulatorTimeout when the server does not answer."""
        try:
            return int(self._world.tick(timeout))
        except RuntimeError as error:
            raise SimulatorTimeout(f"world.tick: {error}") from error

    def kinematics(self, actor_id: int) -> Kinematics:
        vehicle: carla.Vehicle = self._actors[actor_id]
        light_id, red = None, False
        if vehicle.is_at_traffic_light():
            light: carla.TrafficLight | None = vehicle.get_traffic_light()
            light_id = light.id if light is not None else None
            red = vehicle.get_traffic_light_state() == carla.TrafficLightState.Red
        return Kinematics(
            vehicle.get_transform(), vehicle.get_velocity(), vehicle.get_acceleration(), light_id, red
        )

    def apply_control(self, actor_id: int, control: carla.VehicleControl) -> None:
        vehicle: carla.Vehicle = self._actors[actor_id]
        vehicle.apply_control(control)

    def destroy(self, actor_ids: list[int]) -> None:
        """Stop our sensors, then destroy the given actors in one synchronous batch (nobody else's)."""
        if not actor_ids:
            return
        actors: carla.ActorList = self._world.get_actors(list(actor_ids))
        for actor in actors:
            if actor.type_id.startswith("sensor.") and actor.is_listening:
                actor.stop()
        self._client.apply_batch_sync([carla.command.DestroyActor(i) for i in actor_ids], True)
        for i in actor_ids:
            self._actors.pop(i, None)

    def restore(self) -> None:
        """Original world settings back; Traffic Manager out of synchronous mode."""
        if self._tm is not None:
            self._tm.set_synchronous_mode(False)
        if self._original_settings is not None:
            self._world.apply_settings(self._original_settings)

    def close(self) -> None:
        self._client = self._world = self._tm = None
        self._actors = {}
