"""Lane, route and reward geometry with the real `carla` package on a hand-written OpenDRIVE road.

The road (lightning_td3.envs.carla.testing.ROAD_XODR): 100 m straight along +x, then a 90 degree left curve
of radius 50 m; lane -1 (driving +x) is centred at CARLA y = +1.75 (CARLA's y points right).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

carla = pytest.importorskip("carla")

from lightning_td3.envs.carla.env import vehicle_control  # noqa: E402
from lightning_td3.envs.carla.route import Route, generate_route, query_lane, to_vehicle_frame  # noqa: E402
from lightning_td3.envs.carla.testing import road_map  # noqa: E402


@pytest.fixture(scope="module")
def town():
    return road_map()


@pytest.fixture(scope="module")
def route(town):
    return Route(generate_route(town, carla.Location(x=2.0, y=1.75), 170.0))


def test_carla_value_types_and_left_handed_frame():
    t = carla.Transform(carla.Location(1, 2, 3), carla.Rotation(yaw=90.0))
    forward = t.get_forward_vector()
    assert (round(forward.x, 6), round(forward.y, 6)) == (0.0, 1.0)  # yaw +90 deg: along +y (right turn)
    moved = t.transform(carla.Location(1, 0, 0))
    assert (round(moved.x, 4), round(moved.y, 4), moved.z) == (1.0, 3.0, 3.0)
    assert carla.Location(0, 0, 0).distance(carla.Location(3, 4, 0)) == pytest.approx(5.0)


@pytest.mark.parametrize(
    "action, expected",
    [
        ([0.3, 0.6], (0.3, 0.6, 0.0)),
        ([-1.0, -0.25], (-1.0, 0.0, 0.25)),
        ([0.0, 0.0], (0.0, 0.0, 0.0)),
        ([2.0, -3.0], (1.0, 0.0, 1.0)),  # clipped to the action space
    ],
)
def test_vehicle_control_mapping(action, expected):
    control = vehicle_control(np.array(action, np.float32))
    assert isinstance(control, carla.VehicleControl)
    assert (control.steer, control.throttle, control.brake) == pytest.approx(expected)
    assert control.reverse is False and control.hand_brake is False


def test_generated_route_follows_the_lane_centre_through_the_curve(route):
    # Waypoint.next steps 2 m of the road's reference line; the outer lane is 51.75/50 longer on the curve
    assert len(route.waypoints) == 86
    assert route.length == pytest.approx(98.0 + 72.0 * 51.75 / 50.0, abs=0.05)
    assert np.allclose(route.waypoints[:5, 1], 1.75)  # lane -1 centre on the straight
    # on the curve the lane centre is 51.75 m from the curve centre (100, -50)
    tail = route.waypoints[route.waypoint_s > 110.0]
    assert np.allclose(np.hypot(tail[:, 0] - 100.0, tail[:, 1] + 50.0), 51.75, atol=0.05)
    assert tail[-1, 1] < -20.0  # a LEFT curve in CARLA's frame goes to -y
    again = generate_route(road_map(), carla.Location(x=2.0, y=1.75), 170.0)
    assert np.array_equal(again, route.waypoints)  # deterministic


def test_lateral_offset_sign_and_heading_error_on_the_straight(route):
    # 0.5 m towards the centre line (y smaller = to the left when driving +x) -> +0.5 (left)
    lateral, heading = route.lateral_and_heading([20.0, 1.25], math.radians(-10.0), 18.0)
    assert lateral == pytest.approx(0.5, abs=1e-6)
    assert heading == pytest.approx(math.radians(10.0))  # yaw -10 deg in CARLA points left: > 0
    lateral, heading = route.lateral_and_heading([20.0, 2.75], math.radians(5.0), 18.0)
    assert (lateral, heading) == pytest.approx((-1.0, math.radians(-5.0)))


def test_lateral_and_heading_on_the_curve(route):
    # quarter way into the curve: the lane centre point at angle 22.5 deg, radius 51.75
    theta = math.radians(22.5)
    centre = np.array([100.0 + 51.75 * math.sin(theta), -50.0 + 51.75 * math.cos(theta)])
    lane_yaw = -theta  # turning left = decreasing CARLA yaw
    inside = centre + 1.0 * np.array([math.sin(lane_yaw), -math.cos(lane_yaw)])  # 1 m to the left
    s = route.project(inside, last_progress=118.0)
    lateral, heading = route.lateral_and_heading(inside, lane_yaw, s)
    # chords of 2 m on a 51.75 m radius: up to 1 cm inside the arc, up to 0.019 rad off its tangent
    assert lateral == pytest.approx(1.0, abs=0.012) and heading == pytest.approx(0.0, abs=0.02)
    assert s == pytest.approx(98.0 + 51.75 * theta, abs=0.1)


def test_progress_is_forward_only_and_windowed():
    # a U-shaped route whose return leg passes 4 m from its start
    route = Route([[0, 0], [50, 0], [50, 4], [0, 4]])
    assert route.length == pytest.approx(104.0)
    assert route.project([10, 0.5], last_progress=0.0) == pytest.approx(10.0)
    # near the start of the route: the return leg (s ~ 94) is closer to y = 3.5 but outside the window
    assert route.project([10, 3.5], last_progress=8.0) == pytest.approx(10.0)
    assert route.project([10, 3.5], last_progress=90.0) == pytest.approx(94.0)
    assert route.waypoints_reached(49.9) == 0 and route.waypoints_reached(54.0) == 2
    ahead = route.points_ahead(100.0, 5, 2.0)
    assert np.allclose(ahead, [[2.0, 4.0], [0.0, 4.0]])  # nothing past the route end
    with pytest.raises(ValueError, match="at least 2 waypoints"):
        Route([[1.0, 2.0]])


def test_vehicle_frame_waypoints_x_forward_y_left():
    # car at (10, 0) heading +y (yaw 90 deg, south in CARLA): a point at larger x is on its LEFT
    local = to_vehicle_frame(np.array([[10.0, 5.0], [13.0, 0.0]]), np.array([10.0, 0.0]), math.pi / 2)
    assert np.allclose(local, [[5.0, 0.0], [0.0, 3.0]])


def test_lane_query_off_road_wrong_way_and_half_width(town):
    on_lane = query_lane(town, carla.Location(x=30.0, y=1.75), 0.0)
    assert on_lane.on_road and not on_lane.wrong_way and on_lane.half_lane_width == pytest.approx(1.75)
    wrong = query_lane(town, carla.Location(x=30.0, y=-1.75), 0.0)  # the opposite lane, driving +x
    assert wrong.on_road and wrong.wrong_way
    grass = query_lane(town, carla.Location(x=30.0, y=9.0), 0.0)  # past the right lane's outer edge (3.5 m)
    assert not grass.on_road and not grass.wrong_way
    inside_curve = query_lane(town, carla.Location(x=120.0, y=-30.0), math.radians(-45.0))
    assert not inside_curve.on_road  # inside the curve, 20 m from the road
