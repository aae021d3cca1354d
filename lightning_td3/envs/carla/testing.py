"""A test double of `CarlaBackend`: real `carla.Map` geometry and `carla` value types, no server.

The fake world is a hand-written OpenDRIVE road (100 m straight, then a 90 degree left curve of radius 50 m,
one lane each way), a kinematic bicycle model for the ego, static NPCs, and sensors that deliver records
per frame through the env's callbacks. Faults (hung ticks, lost camera frames, stale frames, refused
connections) are injected by the tests. It also lets the CARLA config run end to end without a server.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import carla
import numpy as np

from lightning_td3.envs.carla.backend import Kinematics, SensorSpec
from lightning_td3.envs.carla.sensors import (
    CameraFrame,
    CollisionReading,
    LaneInvasionReading,
    ObstacleReading,
    SimulatorTimeout,
)

ROAD_XODR = """<?xml version="1.0" standalone="yes"?>
<OpenDRIVE>
  <header revMajor="1" revMinor="4" name="fake_road" version="1.00" north="0" south="0" east="0" west="0"/>
  <road name="r0" length="178.539816" id="0" junction="-1">
    <link/>
    <planView>
      <geometry s="0.0" x="0.0" y="0.0" hdg="0.0" length="100.0"><line/></geometry>
      <geometry s="100.0" x="100.0" y="0.0" hdg="0.0" length="78.539816"><arc curvature="0.02"/></geometry>
    </planView>
    <elevationProfile/>
    <lateralProfile/>
    <lanes>
      <laneSection s="0.0">
        <left>
          <lane id="1" type="driving" level="false">
            <link/><width sOffset="0.0" a="3.5" b="0" c="0" d="0"/>
          </lane>
        </left>
        <center><lane id="0" type="none" level="false"><link/></lane></center>
        <right>
          <lane id="-1" type="driving" level="false">
            <link/><width sOffset="0.0" a="3.5" b="0" c="0" d="0"/>
          </lane>
        </right>
      </laneSection>
    </lanes>
  </road>
</OpenDRIVE>
"""
EGO_LANE_START = (2.0, 1.75)  # CARLA coordinates of the lane heading +x (OpenDRIVE lane -1; y points right)
WHEELBASE = 2.9
MAX_WHEEL_ANGLE = math.radians(70.0)


def road_map() -> carla.Map:
    return carla.Map("fake_road", ROAD_XODR)


@dataclass
class FakeActor:
    id: int
    type_id: str
    transform: carla.Transform
    parent: int | None = None
    callback: Callable | None = None
    listening: bool = False
    speed: float = 0.0
    accel: float = 0.0
    control: carla.VehicleControl = field(default_factory=carla.VehicleControl)


class FakeCarlaBackend:
    """Same methods as CarlaBackend. Inspect `actors`, `log`, `connects`; inject faults through the fields."""

    def __init__(self, spawn_points: list[carla.Transform] | None = None, foreign_actors: int = 1) -> None:
        self.map = road_map()
        self._spawn_points = spawn_points
        self.actors: dict[int, FakeActor] = {}
        self._next_id = 100
        self.frame = 0
        self.dt = 0.05
        self.connected = False
        self.connects = 0
        self.synchronous = False
        self.log: list[tuple] = []  # ("stop", id) / ("destroy", ids) / ("spawn", id) / ("tick", frame) ...
        # fault injection
        self.refuse_connects = 0  # the next n connects raise RuntimeError
        self.hang_ticks: set[int] = set()  # tick numbers (1-based count of tick calls) that time out
        self.drop_camera_frames: set[int] = set()  # frames whose camera reading never arrives
        self.stale_camera = False  # deliver a copy of the previous frame before each new one
        self.ticks = 0
        for _ in range(foreign_actors):  # e.g. the spectator: never ours to destroy
            self._add("spectator", carla.Transform())

    # --- connection and world -------------------------------------------------------------------

    def connect(self, host: str, port: int, timeout: float) -> None:
        self.connects += 1
        if self.refuse_connects > 0:
            self.refuse_connects -= 1
            raise RuntimeError(
                f"time-out of {int(timeout * 1000)}ms while waiting for the simulator ({host}:{port})"
            )
        self.connected = True

    def setup(self, town: str, fixed_delta_seconds: float, tm_port: int, seed: int, weather: str) -> None:
        self._check()
        self.synchronous, self.dt, self.town = True, fixed_delta_seconds, town

    def get_map(self) -> carla.Map:
        return self.map

    def spawn_points(self) -> list[carla.Transform]:
        if self._spawn_points is not None:
            return list(self._spawn_points)
        # the opposite lane (heading -x on the straight), every 8 m: NPCs there never block the ego
        return [
            carla.Transform(carla.Location(x=x, y=-1.75, z=0.5), carla.Rotation(yaw=180.0))
            for x in np.arange(4.0, 100.0, 8.0)
        ]

    def restore(self) -> None:
        self._check()
        self.synchronous = False

    def close(self) -> None:
        self.connected = False

    # --- actors ---------------------------------------------------------------------------------

    def _check(self) -> None:
        if not self.connected:
            raise RuntimeError("fake: not connected (an old client never recovers)")

    def _add(self, type_id: str, transform: carla.Transform, parent: int | None = None) -> FakeActor:
        actor = FakeActor(self._next_id, type_id, transform, parent)
        self.actors[actor.id] = actor
        self._next_id += 1
        return actor

    def spawn_vehicle(self, blueprint_id: str, transform: carla.Transform) -> int | None:
        self._check()
        for other in self.actors.values():
            if (
                other.type_id.startswith("vehicle.")
                and other.transform.location.distance(transform.location) < 2.0
            ):
                return None
        actor = self._add(blueprint_id, transform)
        self.log.append(("spawn", actor.id))
        return actor.id

    def spawn_npcs(self, transforms: list[carla.Transform], seed: int) -> list[int]:
        self._check()
        ids = [self._add("vehicle.audi.a2", t).id for t in transforms]
        self.log.append(("spawn_batch", tuple(ids)))
        return ids

    def spawn_sensor(self, spec: SensorSpec, parent_id: int, callback: Callable) -> int:
        self._check()
        if parent_id not in self.actors:
            raise RuntimeError(f"fake: parent {parent_id} does not exist")
        actor = self._add(spec.blueprint, spec.transform, parent_id)
        actor.callback, actor.listening = callback, True
        actor.spec = spec
        return actor.id

    def destroy(self, actor_ids: list[int]) -> None:
        """Like CarlaBackend.destroy: stop listening sensors, then one batch destroy."""
        if not actor_ids:
            return
        self._check()
        for i in actor_ids:
            actor = self.actors.get(i)
            if actor is not None and actor.type_id.startswith("sensor.") and actor.listening:
                actor.listening = False
                self.log.append(("stop", i))
        for i in actor_ids:
            self.actors.pop(i, None)
        self.log.append(("destroy", tuple(actor_ids)))

    def apply_control(self, actor_id: int, control: carla.VehicleControl) -> None:
        self._check()
        if not isinstance(control, carla.VehicleControl):
            raise TypeError(f"fake: expected carla.VehicleControl, got {type(control).__name__}")
        self.actors[actor_id].control = control

    def kinematics(self, actor_id: int) -> Kinematics:
        self._check()
        actor = self.actors[actor_id]
        yaw = math.radians(actor.transform.rotation.yaw)
        c, s = math.cos(yaw), math.sin(yaw)
        steer_rate = actor.speed / WHEELBASE * math.tan(actor.control.steer * MAX_WHEEL_ANGLE * 0.5)
        lateral_accel = actor.speed * steer_rate  # to the right for a positive steer
        return Kinematics(
            transform=actor.transform,
            velocity=carla.Vector3D(actor.speed * c, actor.speed * s, 0.0),
            acceleration=carla.Vector3D(
                actor.accel * c - lateral_accel * s, actor.accel * s + lateral_accel * c, 0.0
            ),
        )

    # --- time -----------------------------------------------------------------------------------

    def tick(self, timeout: float) -> int:
        self._check()
        self.ticks += 1
        if self.ticks in self.hang_ticks:
            self.connected = False  # a hung server: this client is dead
            raise SimulatorTimeout(f"fake: world.tick timed out after {timeout}s")
        previous = self.frame
        self.frame += 1
        for actor in list(self.actors.values()):
            if actor.type_id.startswith("vehicle.") and actor.parent is None and actor.control is not None:
                self._move(actor)
        for sensor in [a for a in self.actors.values() if a.listening]:
            self._deliver(sensor, previous)
        self.log.append(("tick", self.frame))
        return self.frame

    def _move(self, actor: FakeActor) -> None:
        control = actor.control
        actor.accel = 4.0 * control.throttle - 8.0 * control.brake - 0.05 * actor.speed
        actor.speed = max(actor.speed + actor.accel * self.dt, 0.0)
        yaw = math.radians(actor.transform.rotation.yaw)
        yaw += (
            actor.speed / WHEELBASE * math.tan(control.steer * MAX_WHEEL_ANGLE * 0.5) * self.dt
        )  # > 0 = right
        loc = actor.transform.location
        actor.transform = carla.Transform(
            carla.Location(
                loc.x + actor.speed * math.cos(yaw) * self.dt,
                loc.y + actor.speed * math.sin(yaw) * self.dt,
                loc.z,
            ),
            carla.Rotation(yaw=math.degrees(yaw)),
        )

    def _deliver(self, sensor: FakeActor, previous_frame: int) -> None:
        ego = self.actors[sensor.parent]
        kind = sensor.spec.kind
        if kind == "camera":
            if self.stale_camera and previous_frame > 0:
                sensor.callback(self._image(previous_frame, sensor.spec, ego))
            if self.frame not in self.drop_camera_frames:
                sensor.callback(self._image(self.frame, sensor.spec, ego))
            return
        others = [
            a
            for a in self.actors.values()
            if a.type_id.startswith("vehicle.") and a.id != ego.id and a.parent is None
        ]
        yaw = math.radians(ego.transform.rotation.yaw)
        for other in others:
            dx = other.transform.location.x - ego.transform.location.x
            dy = other.transform.location.y - ego.transform.location.y
            ahead, side = dx * math.cos(yaw) + dy * math.sin(yaw), -dx * math.sin(yaw) + dy * math.cos(yaw)
            if kind == "collision" and math.hypot(dx, dy) < 2.5:
                sensor.callback(CollisionReading(self.frame, other.type_id, 1500.0 * max(ego.speed, 0.1)))
            if kind == "obstacle" and 0.0 < ahead <= 10.0 and abs(side) < 1.5:
                sensor.callback(ObstacleReading(self.frame, ahead, other.type_id, other.speed))
        if kind == "lane_invasion":
            lane = self.map.get_waypoint(ego.transform.location)
            lane_id = lane.lane_id if lane is not None else None
            if getattr(sensor, "lane_id", lane_id) != lane_id:
                sensor.callback(LaneInvasionReading(self.frame, ("Solid",)))
            sensor.lane_id = lane_id

    def _image(self, frame: int, spec: SensorSpec, ego: FakeActor) -> CameraFrame:
        """A BGRA frame whose brightness encodes the frame number (so tests can match frames to ticks)."""
        width, height = int(spec.attributes["image_size_x"]), int(spec.attributes["image_size_y"])
        pixels = np.full((height, width, 4), frame % 256, dtype=np.uint8)
        return CameraFrame(frame, width, height, pixels.tobytes())
