"""The kinematic vector observation, shared by every driving env, and the frame helpers it needs.

Vector layout (reference, 53 values at 25 waypoints):
    [speed_kmh / 30, lateral_offset_m / 3.5, heading_error_rad / pi, x_1/50, y_1/50, ..., x_N/50, y_N/50]
with waypoints in the vehicle frame (x forward, y left), zero past the route end. Signed lateral offset
(> 0 left of the lane centre), unlike the reference's unsigned one.
"""

from __future__ import annotations

import math

import numpy as np

SPEED_SCALE_KMH = 30.0
LATERAL_SCALE_M = 3.5
WAYPOINT_SCALE_M = 50.0


def vector_dim(num_waypoints: int = 25) -> int:
    return 3 + 2 * num_waypoints


def driving_vector(
    speed: float,
    lateral_offset: float,
    heading_error: float,
    waypoints_xy_vehicle_frame: np.ndarray,
    num_waypoints: int = 25,
) -> np.ndarray:
    """float32 [3 + 2*num_waypoints]; `speed` in m/s (as in DrivingState), offsets in m, heading in rad.

    Extra waypoints beyond `num_waypoints` are dropped; missing ones (route end) are zeros.
    """
    if num_waypoints < 0:
        raise ValueError(f"num_waypoints must be >= 0, got {num_waypoints}")
    points = np.asarray(waypoints_xy_vehicle_frame, dtype=np.float64).reshape(-1, 2)[:num_waypoints]
    out = np.zeros(vector_dim(num_waypoints), dtype=np.float32)
    out[0] = speed * 3.6 / SPEED_SCALE_KMH
    out[1] = lateral_offset / LATERAL_SCALE_M
    out[2] = heading_error / np.pi
    out[3 : 3 + 2 * len(points)] = (points / WAYPOINT_SCALE_M).ravel()
    return out


def wrap_angle(angle: float | np.ndarray) -> float | np.ndarray:
    """Wrap to [-pi, pi) (floats and arrays alike)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def world_to_vehicle_frame(
    points_xy: np.ndarray, position_xy: np.ndarray, yaw: float, y_left: bool = True
) -> np.ndarray:
    """World points [K,2] -> vehicle frame [K,2] (x forward, y left) of a vehicle at `position_xy`, `yaw` rad.

    `yaw` is measured from the world x axis towards the world y axis. In a right-handed world (highway-env's
    math frame) y = yaw + 90 deg is the left: keep `y_left=True`. In a left-handed world (CARLA: y points
    right, yaw clockwise) the rotated y axis points right: pass `y_left=False` to flip it to the left.
    """
    delta = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2) - np.asarray(position_xy, dtype=np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    forward = delta[:, 0] * c + delta[:, 1] * s
    lateral = -delta[:, 0] * s + delta[:, 1] * c
    return np.stack([forward, lateral if y_left else -lateral], axis=1)


def resample_polyline(points_xy: np.ndarray, spacing: float, closed: bool = False) -> np.ndarray:
    """Points every `spacing` metres of arc length along a polyline [K,2] (starting at its first point).

    `closed=True` treats the last point as joined back to the first (a loop).
    """
    if spacing <= 0:
        raise ValueError(f"spacing must be > 0, got {spacing}")
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    if closed:
        points = np.vstack([points, points[:1]])
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    samples = np.arange(0.0, arc[-1] - (1e-9 if closed else -1e-9), spacing)
    return np.stack([np.interp(samples, arc, points[:, 0]), np.interp(samples, arc, points[:, 1])], axis=1)


class HeadingUpView:
    """Turns a top-down frame so the vehicle's heading points up, with the vehicle low in the frame.

    Why: a world-aligned square centred on the ego shows as much road behind as ahead and turns with the
    track, so a car ahead shows only within half the square and in a different place on every curve. A
    heading-up view (like CARLA's forward camera, from above) puts what lies ahead in the same place
    every time, and three times further ahead than behind.

    The source is a world-aligned frame [H, W] of `source_size` pixels, centred on the vehicle, whose
    rows grow with world y (screen down), so a heading h points along (col, row) = (cos h, sin h) and the
    vehicle's right along (-sin h, cos h). The output is `size` x `size`, the vehicle at row `ego_row`
    (from the top) and the middle column; each output pixel takes its nearest source pixel.
    """

    def __init__(self, size: int, ego_row: int) -> None:
        if not 0 < ego_row < size:
            raise ValueError(f"ego_row must be in (0, {size}), got {ego_row}")
        self.size, self.ego_row = size, ego_row
        centres = np.arange(size) + 0.5
        self._forward = ego_row - centres[:, None] + np.zeros((1, size))  # px ahead of the vehicle, per row
        self._right = np.zeros((size, 1)) + (centres - size / 2)[None, :]  # px right of it, per column
        # every output pixel lies within the farthest corner's distance of the vehicle
        reach = max(math.hypot(ego_row, size / 2), math.hypot(size - ego_row, size / 2))
        self.source_size = 2 * math.ceil(reach) + 2

    def __call__(self, source: np.ndarray, heading: float) -> np.ndarray:
        if source.shape != (self.source_size, self.source_size):
            raise ValueError(f"source must be {self.source_size}x{self.source_size}, got {source.shape}")
        c, s = math.cos(heading), math.sin(heading)
        centre = self.source_size / 2
        cols = np.floor(centre + self._forward * c - self._right * s).astype(np.intp)
        rows = np.floor(centre + self._forward * s + self._right * c).astype(np.intp)
        np.clip(cols, 0, self.source_size - 1, out=cols)
        np.clip(rows, 0, self.source_size - 1, out=rows)
        return source[rows, cols]
