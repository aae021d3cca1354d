import numpy as np
import pytest

from lightning_td3.envs.observation import (
    driving_vector,
    resample_polyline,
    vector_dim,
    world_to_vehicle_frame,
    wrap_angle,
)


def test_driving_vector_layout_and_normalisation():
    wps = np.array([[10.0, 1.0], [20.0, -2.0]])
    vec = driving_vector(speed=30 / 3.6, lateral_offset=-1.75, heading_error=np.pi / 2,
                         waypoints_xy_vehicle_frame=wps, num_waypoints=3)
    assert vec.dtype == np.float32 and vec.shape == (vector_dim(3),) == (9,)
    np.testing.assert_allclose(vec, [1.0, -0.5, 0.5, 0.2, 0.02, 0.4, -0.04, 0.0, 0.0], atol=1e-6)


def test_driving_vector_default_is_reference_53_and_truncates():
    vec = driving_vector(0.0, 0.0, 0.0, np.ones((40, 2)) * 50.0)
    assert vec.shape == (53,)
    assert np.all(vec[3:] == 1.0)
    assert driving_vector(0.0, 0.0, 0.0, np.zeros((0, 2))).shape == (53,)


def test_world_to_vehicle_frame_right_handed_and_carla():
    # vehicle at (1, 1) facing +y (yaw 90 deg): a point 5 ahead is (1, 6); a point at (0, 1) is on its left
    pts = np.array([[1.0, 6.0], [0.0, 1.0]])
    out = world_to_vehicle_frame(pts, np.array([1.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(out, [[5.0, 0.0], [0.0, 1.0]], atol=1e-12)
    # CARLA (left-handed, y right): the same numbers put (0, 1) on the right
    out = world_to_vehicle_frame(pts, np.array([1.0, 1.0]), np.pi / 2, y_left=False)
    np.testing.assert_allclose(out, [[5.0, 0.0], [0.0, -1.0]], atol=1e-12)


def test_round_trip_against_naive_rotation():
    rng = np.random.default_rng(0)
    pts, pos, yaw = rng.normal(size=(7, 2)) * 20, rng.normal(size=2), 2.3
    local = world_to_vehicle_frame(pts, pos, yaw)
    rot = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    np.testing.assert_allclose(local @ rot.T + pos, pts, atol=1e-9)


def test_resample_polyline_open_and_closed():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    open_pts = resample_polyline(square, 2.0)
    assert len(open_pts) == 16  # 30 m, both ends included
    np.testing.assert_allclose(open_pts[5], [10.0, 0.0])
    np.testing.assert_allclose(open_pts[-1], [0.0, 10.0])
    loop = resample_polyline(square, 2.0, closed=True)
    assert len(loop) == 20  # 40 m, the start not repeated
    np.testing.assert_allclose(np.linalg.norm(np.diff(loop, axis=0), axis=1), 2.0)
    with pytest.raises(ValueError, match="spacing"):
        resample_polyline(square, 0.0)


def test_wrap_angle():
    wrapped = wrap_angle(np.array([3 * np.pi / 2, -3 * np.pi / 2, 0.1]))
    np.testing.assert_allclose(wrapped, [-np.pi / 2, np.pi / 2, 0.1])
    assert wrap_angle(2 * np.pi + 0.5) == pytest.approx(0.5)
