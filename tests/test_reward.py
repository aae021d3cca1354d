import math

import pytest

from lightning_td3.envs.contract import REWARD_TERMS, DrivingState
from lightning_td3.envs.reward import DrivingReward, RewardConfig

V = 30.0 / 3.6  # target speed, m/s


def fresh(state: DrivingState | None = None, config: RewardConfig | None = None) -> DrivingReward:
    reward = DrivingReward(config)
    reward.reset(state or DrivingState())
    return reward


def cruising(**kw) -> DrivingState:
    """Centred, aligned, at target speed, far from the goal, no obstacles."""
    base = dict(speed=V, route_progress=0.0, route_length=1000.0, distance_to_goal=1000.0)
    base.update(kw)
    return DrivingState(**base)


# --- totals and weights ---------------------------------------------------------------------------


def test_total_is_sum_of_weighted_terms():
    reward = fresh()
    total, terms = reward(cruising(route_progress=1.7, waypoints_reached=0, longitudinal_jerk=2.0))
    assert tuple(terms) == REWARD_TERMS
    assert total == pytest.approx(sum(terms.values()))
    weights = RewardConfig().weights()
    assert weights == {"efficiency": 2.0, "lane_keeping": 2.0, "comfort": 1.0, "safety": 1.0, "progress": 3.0}
    for name in REWARD_TERMS:
        assert terms[name] == pytest.approx(weights[name] * reward.raw_terms[name])


def test_weights_are_configurable():
    cfg = RewardConfig(progress_weight=0.0, efficiency_weight=10.0)
    _, terms = fresh(config=cfg)(cruising(route_progress=2.0))
    assert terms["progress"] == 0.0
    assert terms["efficiency"] == pytest.approx(10.0)  # raw 1.0 (clipped 1 + 0.15)


# --- one test per term ----------------------------------------------------------------------------


def test_efficiency_is_forward_speed_over_target_plus_moving_bonus_clipped():
    reward = fresh()
    reward(cruising(speed=V / 2, route_progress=1.0))
    assert reward.raw_terms["efficiency"] == pytest.approx(0.5 + 0.15)
    reward(cruising(speed=V / 2, heading_error=math.pi / 3, route_progress=2.0))
    assert reward.raw_terms["efficiency"] == pytest.approx(0.25 + 0.15)
    reward(cruising(speed=2 * V, route_progress=3.0))
    assert reward.raw_terms["efficiency"] == 1.0
    reward(cruising(speed=2 * V, heading_error=math.pi, route_progress=3.0))  # backwards, no progress
    assert reward.raw_terms["efficiency"] == -1.0


def test_overspeed_coef_makes_efficiency_fall_above_the_target_speed():
    reward = fresh(config=RewardConfig(overspeed_coef=3.0))
    reward(cruising(speed=V, route_progress=1.0))
    assert reward.raw_terms["efficiency"] == 1.0  # 1 + 0.15, clipped
    reward(cruising(speed=1.2 * V, route_progress=2.0))
    assert reward.raw_terms["efficiency"] == pytest.approx(1.0 - 3.0 * 0.2 + 0.15)
    reward(cruising(speed=2 * V, route_progress=3.0))
    assert reward.raw_terms["efficiency"] == -1.0  # 1 - 3 + 0.15, clipped
    reward(cruising(speed=V / 2, route_progress=4.0))
    assert reward.raw_terms["efficiency"] == pytest.approx(0.5 + 0.15)  # below the target: unchanged


def test_lane_keeping_centred_aligned_fast_is_half_and_scales_with_offset_heading_speed():
    reward = fresh()
    reward(cruising())
    assert reward.raw_terms["lane_keeping"] == pytest.approx(0.5)
    reward(cruising(lateral_offset=-1.75, half_lane_width=1.75))  # at the edge: lat = 1
    assert reward.raw_terms["lane_keeping"] == pytest.approx(0.5 * (0.3 + 1.0) - 0.5)
    reward(cruising(heading_error=0.05))  # head = 0.5
    assert reward.raw_terms["lane_keeping"] == pytest.approx(0.5 * (1.0 + 0.85) - 0.5)
    reward(cruising(speed=1.55))  # scale (1.55 - 0.1) / 2.9 = 0.5
    assert reward.raw_terms["lane_keeping"] == pytest.approx(0.25)
    reward(cruising(speed=0.05))
    assert reward.raw_terms["lane_keeping"] == 0.0


def test_comfort_from_jerk_norm():
    reward = fresh()
    reward(cruising(longitudinal_jerk=0.0))
    assert reward.raw_terms["comfort"] == pytest.approx(0.3)
    reward(cruising(longitudinal_jerk=3.0, lateral_jerk=4.0))  # |jerk| 5 -> n 1
    assert reward.raw_terms["comfort"] == pytest.approx(0.0)
    reward(cruising(longitudinal_jerk=7.5))  # n 1.5
    assert reward.raw_terms["comfort"] == pytest.approx(-0.3 * 0.25)
    reward(cruising(longitudinal_jerk=100.0))  # n capped at 2
    assert reward.raw_terms["comfort"] == pytest.approx(-0.3)
    reward(cruising(speed=0.2, longitudinal_jerk=100.0))  # nearly stopped
    assert reward.raw_terms["comfort"] == 0.0


def test_safety_proximity_ttc_collision_offroad_wrongway():
    reward = fresh()
    reward(cruising())
    assert reward.raw_terms["safety"] == 0.0
    reward(cruising(obstacle_distance=4.0, time_to_collision=2.0))
    assert reward.raw_terms["safety"] == pytest.approx(-1 / 4.0 - 0.5 / 2.0)
    reward(cruising(obstacle_distance=0.1, time_to_collision=0.01))
    assert reward.raw_terms["safety"] == pytest.approx(-1 / 0.5 - 0.5 / 0.1)
    for impact, penalty in ((1.0, -5.0), (3.0, -25.0), (9.0, -100.0)):
        reward(cruising(collision_intensity=1.0, collision_speed=impact))
        assert reward.raw_terms["safety"] == penalty
    reward(cruising(off_road=True))
    assert reward.raw_terms["safety"] == -20.0
    reward(cruising(wrong_way=True, heading_error=math.pi))
    assert reward.raw_terms["safety"] == pytest.approx(-5.0)
    reward(cruising(wrong_way=True, heading_error=-math.pi / 2))
    assert reward.raw_terms["safety"] == pytest.approx(-2.5)


def test_progress_half_per_metre_gained_forward_only():
    reward = fresh(cruising(route_progress=10.0))
    reward(cruising(route_progress=14.0))
    assert reward.raw_terms["progress"] == pytest.approx(2.0)
    reward(cruising(route_progress=12.0))  # went backwards: nothing, and no negative
    assert reward.raw_terms["progress"] == 0.0
    reward(cruising(route_progress=15.0))  # only the metre beyond the best so far pays
    assert reward.raw_terms["progress"] == pytest.approx(0.5)


def test_progress_is_clipped():
    reward = fresh()
    reward(cruising(route_progress=1000.0))
    assert reward.raw_terms["progress"] == 110.0


# --- the reference's defects, one test each -------------------------------------------------------


def test_standing_still_earns_nothing_positive():
    start = DrivingState(speed=0.0, route_progress=5.0, waypoints_reached=2, distance_to_goal=200.0)
    reward = fresh(start)
    for _ in range(20):
        total, terms = reward(DrivingState(**{**start.__dict__, "speed": 0.0}))
        assert all(value <= 0.0 for value in terms.values()), terms
        assert total < 0.0  # the small stopping penalty far from the goal
    # creeping (0.3 m/s) without route progress: no moving bonus either
    total, terms = reward(DrivingState(**{**start.__dict__, "speed": 0.3}))
    assert reward.raw_terms["efficiency"] == pytest.approx(0.3 / V)


def test_moving_bonus_needs_progress():
    reward = fresh()
    reward(cruising(speed=1.0, route_progress=0.0))
    assert reward.raw_terms["efficiency"] == pytest.approx(1.0 / V)
    reward(cruising(speed=1.0, route_progress=0.2))
    assert reward.raw_terms["efficiency"] == pytest.approx(1.0 / V + 0.15)


def test_waypoint_bonus_paid_once_per_waypoint():
    reward = fresh()
    paid = 0.0
    for _ in range(10):  # ten steps at the same waypoint count: one bonus, then nothing
        reward(cruising(waypoints_reached=1))
        paid += reward.raw_terms["progress"]
    assert paid == pytest.approx(1.0)
    reward(cruising(waypoints_reached=4))  # three new waypoints in one step
    assert reward.raw_terms["progress"] == pytest.approx(3.0)
    reward(cruising(waypoints_reached=2))  # a lower count never pays or takes back
    assert reward.raw_terms["progress"] == 0.0


def test_goal_bonus_paid_at_most_once_per_episode():
    reward = fresh()
    bonuses = []
    for _ in range(115):
        reward(cruising(goal_reached=True, distance_to_goal=0.0))
        bonuses.append(reward.raw_terms["progress"])
    assert bonuses[0] == 100.0 and sum(bonuses) == 100.0
    reward.reset(DrivingState())  # a new episode may pay it again
    reward(cruising(goal_reached=True, distance_to_goal=0.0))
    assert reward.raw_terms["progress"] == 100.0


def test_lane_invasion_is_minus_one_lane_term():
    reward = fresh()
    _, terms = reward(cruising(lane_invasion=True))
    assert reward.raw_terms["lane_keeping"] == -1.0
    assert terms["lane_keeping"] == -2.0
    assert reward.raw_terms["safety"] == -10.0


def test_crash_is_never_rewarded():
    """The reference multiplied its safety term by -100, turning collision penalties into rewards."""
    reward = fresh()
    total, terms = reward(cruising(collision_intensity=5.0, collision_speed=V))
    assert terms["safety"] == -100.0 and RewardConfig().safety_weight > 0
    assert total < 0.0


def test_reset_restarts_from_the_given_state():
    reward = fresh()
    reward(cruising(route_progress=50.0, waypoints_reached=25))
    reward.reset(DrivingState(route_progress=0.0, waypoints_reached=0))
    reward(cruising(route_progress=2.0, waypoints_reached=1))
    assert reward.raw_terms["progress"] == pytest.approx(0.5 * 2.0 + 1.0)


def test_stuck_penalty_is_paid_only_on_the_stuck_step():
    reward = DrivingReward()
    reward.reset(DrivingState(route_length=300.0, distance_to_goal=300.0))
    _, parked = reward(DrivingState(speed=0.0, route_length=300.0, distance_to_goal=300.0))
    _, stuck = reward(DrivingState(speed=0.0, route_length=300.0, distance_to_goal=300.0, stuck=True))
    assert parked["safety"] == pytest.approx(-0.5)
    assert stuck["safety"] == pytest.approx(-0.5 - 20.0)
