import cv2
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from lightning_td3.envs import contract
from lightning_td3.envs.factory import make_env
from lightning_td3.envs.gym_adapter import GymPixelAdapter, to_gray_frame


@pytest.fixture(scope="module")
def env():
    env = make_env("gym:CarRacing-v3")
    yield env
    env.close()


def test_gymnasium_env_checker(env):
    check_env(env, skip_render_check=True)


def test_shapes_and_contract(env):
    obs, info = env.reset(seed=0)
    assert isinstance(env, GymPixelAdapter)
    assert env.observation_space == contract.observation_space(0)
    assert env.action_space == contract.action_space()
    assert obs["image"].shape == (1, 84, 84) and obs["image"].dtype == np.uint8
    assert obs["vector"].shape == (0,) and obs["vector"].dtype == np.float32
    assert set(info) == {"reward_terms", "events", "metrics", "termination_reason", "success"}


def test_frame_is_grayscale_area_resize_of_the_env_frame():
    raw = gym.make("CarRacing-v3")
    adapter = GymPixelAdapter("CarRacing-v3")
    frame, _ = raw.reset(seed=3)
    obs, _ = adapter.reset(seed=3)
    naive = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (84, 84), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(obs["image"][0], naive)
    assert obs["image"].std() > 5.0  # not blank: grass, track and car differ


def test_action_mapping_steer_gas_brake(env):
    np.testing.assert_allclose(env.env_action(np.array([0.5, 0.8])), [0.5, 0.8, 0.0], atol=1e-7)
    np.testing.assert_allclose(env.env_action(np.array([-1.0, -0.3])), [-1.0, 0.0, 0.3], atol=1e-7)
    np.testing.assert_allclose(env.env_action(np.array([0.0, 0.0])), [0.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(env.env_action(np.array([3.0, -7.0])), [1.0, 0.0, 1.0], atol=1e-7)  # clipped


def test_reward_passed_through_and_speed_reported():
    raw = gym.make("CarRacing-v3")
    adapter = GymPixelAdapter("CarRacing-v3")
    raw.reset(seed=5)
    adapter.reset(seed=5)
    for step in range(60):
        action = np.array([0.0, 1.0 if step < 40 else -1.0])
        _, r_raw, *_ = raw.step(adapter.env_action(action))
        _, r, _, _, info = adapter.step(action)
        assert r == r_raw and info["reward_terms"] == {"env": r_raw}
        if step == 39:
            assert info["metrics"]["speed"] > 5.0  # full gas for 0.8 s: moving forward
    assert info["metrics"]["distance"] > 5.0
    assert 0.0 < info["metrics"]["route_completion"] < 1.0


def test_to_gray_frame_rejects_non_images():
    assert to_gray_frame(np.full((10, 20), 7, np.uint8)).shape == (1, 84, 84)
    with pytest.raises(ValueError, match="expected an HxW or HxWxC image"):
        to_gray_frame(np.zeros(5))


def test_non_image_env_is_a_clear_error():
    with pytest.raises(ValueError, match="needs an image"):
        make_env("gym:Pendulum-v1")
