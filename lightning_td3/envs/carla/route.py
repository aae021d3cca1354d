"""Route geometry: a densified polyline in CARLA world coordinates and lane queries on a `carla.Map`.

CARLA's world frame is left-handed (x forward, y right, yaw clockwise seen from above), so the unit
vector to the LEFT of a heading `yaw` is (sin yaw, -cos yaw). Signs follow the driving contract:
lateral offset > 0 left of the lane centre, heading error > 0 when the car points left of the route.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import carla
import numpy as np

DRIVABLE = carla.LaneType.Driving | carla.LaneType.Parking | carla.LaneType.Bidirectional


def wrap_angle(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def left_of(yaw: float) -> np.ndarray:
    return np.array([math.sin(yaw), -math.cos(yaw)])


def to_vehicle_frame(points_xy: np.ndarray, position_xy: np.ndarray, yaw: float) -> np.ndarray:
    """World points [K,2] -> vehicle frame [K,2] with x forward, y left (the observation's convention)."""
    delta = np.asarray(points_xy, dtype=np.float64) - position_xy
    forward = np.array([math.cos(yaw), math.sin(yaw)])
    return np.stack([delta @ forward, delta @ left_of(yaw)], axis=-1)


class Route:
    """A route through `waypoints_xy` [N,2], densified to `spacing` metres for arc-length progress."""

    def __init__(self, waypoints_xy, spacing: float = 0.5) -> None:
        waypoints = np.asarray(waypoints_xy, dtype=np.float64)
        if waypoints.ndim != 2 or waypoints.shape[1] != 2 or len(waypoints) < 2:
            raise ValueError(f"route needs at least 2 waypoints of [x, y], got shape {waypoints.shape}")
        seg = np.linalg.norm(np.diff(waypoints, axis=0), axis=1)
        keep = np.concatenate([[True], seg > 1e-6])  # repeated points have no direction
        waypoints = waypoints[keep]
        if len(waypoints) < 2:
            raise ValueError("route waypoints are all the same point")
        self.waypoints = waypoints
        self.waypoint_s = np.concatenate(
            [[0.0], np.cumsum(np.linalg.norm(np.diff(waypoints, axis=0), axis=1))]
        )
        self.length = float(self.waypoint_s[-1])
        count = max(int(math.ceil(self.length / spacing)), 1) + 1
        self.s = np.linspace(0.0, self.length, count)
        self.points = np.stack(
            [
                np.interp(self.s, self.waypoint_s, waypoints[:, 0]),
                np.interp(self.s, self.waypoint_s, waypoints[:, 1]),
            ],
            axis=-1,
        )
        d = np.diff(self.points, axis=0)
        self.segment_yaw = np.arctan2(d[:, 1], d[:, 0])

    def project(self, xy, last_progress: float, ahead: float = 10.0, behind: float = 2.0) -> float:
        """Arc length of the closest route point within [last - behind, last + ahead].

        The window keeps the projection from jumping to a later part of the route that passes nearby.
        """
        p = np.asarray(xy, dtype=np.float64)
        lo = max(int(np.searchsorted(self.s, last_progress - behind)) - 1, 0)
        hi = min(int(np.searchsorted(self.s, last_progress + ahead)) + 1, len(self.s) - 1)
        a, b = self.points[lo:hi], self.points[lo + 1 : hi + 1]
        ab = b - a
        t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.einsum("ij,ij->i", ab, ab), 0.0, 1.0)
        closest = a + t[:, None] * ab
        i = int(np.argmin(np.linalg.norm(closest - p, axis=1)))
        return float(self.s[lo + i] + t[i] * (self.s[lo + i + 1] - self.s[lo + i]))

    def pose_at(self, s: float) -> tuple[np.ndarray, float]:
        """Point and tangent yaw (rad, CARLA convention) at arc length `s`."""
        s = float(np.clip(s, 0.0, self.length))
        i = min(int(np.searchsorted(self.s, s, side="right")) - 1, len(self.segment_yaw) - 1)
        point = np.array([np.interp(s, self.s, self.points[:, 0]), np.interp(s, self.s, self.points[:, 1])])
        return point, float(self.segment_yaw[max(i, 0)])

    def lateral_and_heading(self, xy, yaw: float, s: float) -> tuple[float, float]:
        """Signed lateral offset (m, > 0 left) and heading error (rad, > 0 pointing left) at arc length s."""
        point, route_yaw = self.pose_at(s)
        lateral = float((np.asarray(xy, dtype=np.float64) - point) @ left_of(route_yaw))
        return lateral, wrap_angle(route_yaw - yaw)

    def points_ahead(self, s: float, count: int, spacing: float = 2.0) -> np.ndarray:
        """Up to `count` route points at s + spacing, s + 2*spacing, ... that lie on the route."""
        ahead = s + spacing * np.arange(1, count + 1)
        ahead = ahead[ahead <= self.length + 1e-9]
        return np.stack(
            [np.interp(ahead, self.s, self.points[:, 0]), np.interp(ahead, self.s, self.points[:, 1])], -1
        )

    def waypoints_reached(self, progress: float) -> int:
        """Original route waypoints passed (the start point excluded)."""
        return int(np.searchsorted(self.waypoint_s, progress + 1e-9, side="right")) - 1


def generate_route(
    carla_map: carla.Map, start: carla.Location, length: float, spacing: float = 2.0
) -> np.ndarray:
    """Lane-centre waypoints [N,2] from `start` for `length` metres, `spacing` apart.

    At a fork the straightest continuation is taken (ties broken by road and lane id), so the same map
    and start always give the same route. Stops early at a dead end.
    """
    if length <= 0 or spacing <= 0:
        raise ValueError(f"route length and spacing must be > 0, got {length} and {spacing}")
    waypoint: carla.Waypoint | None = carla_map.get_waypoint(
        start, project_to_road=True, lane_type=carla.LaneType.Driving
    )
    if waypoint is None:
        raise ValueError(f"no driving lane near route start ({start.x:.1f}, {start.y:.1f})")
    points = [waypoint]
    for _ in range(int(math.ceil(length / spacing))):
        candidates = waypoint.next(spacing)
        if not candidates:
            break
        yaw = waypoint.transform.rotation.yaw
        waypoint = min(
            candidates,
            key=lambda w: (
                abs(wrap_angle(math.radians(w.transform.rotation.yaw - yaw))),
                w.road_id,
                w.lane_id,
            ),
        )
        points.append(waypoint)
    return np.array([[w.transform.location.x, w.transform.location.y] for w in points])


@dataclass(frozen=True)
class LaneQuery:
    on_road: bool  # inside a Driving / Parking / Bidirectional lane
    half_lane_width: float  # m, of the nearest driving lane
    wrong_way: bool  # heading more than 90 degrees from the nearest driving lane's direction


def query_lane(
    carla_map: carla.Map, location: carla.Location, yaw: float, default_half_width: float = 1.75
) -> LaneQuery:
    """What the map says about the lane under the car (yaw in rad, CARLA convention)."""
    inside: carla.Waypoint | None = carla_map.get_waypoint(
        location, project_to_road=False, lane_type=DRIVABLE
    )
    lane: carla.Waypoint | None = carla_map.get_waypoint(
        location, project_to_road=True, lane_type=carla.LaneType.Driving
    )
    if lane is None:
        return LaneQuery(on_road=inside is not None, half_lane_width=default_half_width, wrong_way=False)
    lane_yaw = math.radians(lane.transform.rotation.yaw)
    return LaneQuery(
        on_road=inside is not None,
        half_lane_width=0.5 * float(lane.lane_width),
        wrong_way=abs(wrap_angle(yaw - lane_yaw)) > math.pi / 2,
    )
