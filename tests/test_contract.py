import subprocess
import sys

import numpy as np

from lightning_td3.envs.contract import DrivingState, action_space, make_info, observation_space


def test_observation_and_action_spaces():
    obs = observation_space(vector_dim=53)
    assert obs["image"].shape == (1, 84, 84) and obs["image"].dtype == np.uint8
    assert obs["vector"].shape == (53,) and obs["vector"].dtype == np.float32
    act = action_space()
    assert act.shape == (2,) and float(act.low.min()) == -1.0 and float(act.high.max()) == 1.0


def test_info_route_completion_is_clipped_fraction():
    info = make_info(DrivingState(route_progress=150.0, route_length=100.0), {}, 3.0, "running", False)
    assert info["metrics"]["route_completion"] == 1.0
    info = make_info(DrivingState(route_progress=25.0, route_length=100.0), {}, 3.0, "running", False)
    assert info["metrics"]["route_completion"] == 0.25


def test_envs_package_does_not_import_torch():
    code = "import lightning_td3.envs.contract, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_termination_reason_orders_events_route_then_clock():
    from lightning_td3.envs import contract

    crash_at_goal = DrivingState(collision_intensity=1.0, goal_reached=True)
    assert contract.termination_reason(crash_at_goal, 1, 10) == contract.COLLISION
    assert contract.termination_reason(DrivingState(off_road=True, stuck=True), 1, 10) == contract.OFF_ROAD
    assert contract.termination_reason(DrivingState(goal_reached=True), 10, 10) == contract.ROUTE_COMPLETED
    assert contract.termination_reason(DrivingState(stuck=True), 10, 10) == contract.STUCK
    assert contract.termination_reason(DrivingState(), 10, 10) == contract.TIME_LIMIT
    assert contract.termination_reason(DrivingState(), 9, 10) == contract.RUNNING
    assert contract.TIME_LIMIT not in contract.TERMINAL_REASONS  # time limits truncate, never terminate
