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
