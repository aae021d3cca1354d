import numpy as np
import pytest

from lightning_td3.envs.observation import (
    HeadingUpView,
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


def test_heading_up_view_at_heading_zero_is_a_crop_of_the_frame_turned_left():
    view = HeadingUpView(size=84, ego_row=63)
    source = np.random.default_rng(0).integers(0, 256, (view.source_size, view.source_size), dtype=np.uint8)
    out = view(source, heading=0.0)  # facing +x (screen right): what lies right of the vehicle ends up on top
    a = view.source_size // 2 - 42  # first source row of the output's columns
    b = view.source_size // 2 + 63 - 1  # source column of the output's top row
    top = view.source_size - 1 - b
    assert out.shape == (84, 84) and out.dtype == np.uint8
    assert np.array_equal(out, np.rot90(source)[top : top + 84, a : a + 84])


@pytest.mark.parametrize("heading", [0.6, 2.0, -2.7, np.pi / 2])
def test_heading_up_view_puts_what_is_ahead_above_and_what_is_right_to_the_right(heading):
    view = HeadingUpView(size=84, ego_row=63)
    centre = view.source_size / 2
    ahead = np.array([np.cos(heading), np.sin(heading)])  # (col, row) in the source
    right = np.array([-np.sin(heading), np.cos(heading)])

    def marked(offset):  # a 3x3 blob `offset` px from the vehicle
        source = np.zeros((view.source_size, view.source_size), np.uint8)
        col, row = np.floor(centre + offset).astype(int)
        source[row - 1 : row + 2, col - 1 : col + 2] = 255
        return view(source, heading)

    rows, cols = np.nonzero(marked(20 * ahead))
    assert abs(rows.mean() - (63 - 20)) <= 1.0 and abs(cols.mean() - 42) <= 1.0
    rows, cols = np.nonzero(marked(10 * right))
    assert abs(rows.mean() - 63) <= 1.0 and abs(cols.mean() - (42 + 10)) <= 1.0
    rows, cols = np.nonzero(marked(-15 * ahead - 30 * right))  # behind and left, near the bottom-left corner
    assert abs(rows.mean() - (63 + 15)) <= 1.0 and abs(cols.mean() - (42 - 30)) <= 1.0


def test_heading_up_view_source_covers_every_output_pixel_and_rejects_bad_shapes():
    view = HeadingUpView(size=84, ego_row=63)
    assert view.source_size == 2 * int(np.ceil(np.hypot(63, 42))) + 2 == 154
    with pytest.raises(ValueError, match="ego_row must be in"):
        HeadingUpView(size=84, ego_row=84)
    with pytest.raises(ValueError, match="source must be 154x154"):
        view(np.zeros((84, 84), np.uint8), 0.0)
