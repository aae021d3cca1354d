import subprocess
import sys

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from lightning_td3.envs import contract
from lightning_td3.envs.factory import make_env
from lightning_td3.envs.racetrack import SCENARIO_TRAFFIC, RacetrackEnv


def pure_pursuit(vector: np.ndarray, target_speed: float = 30 / 3.6) -> np.ndarray:
    """A tiny controller reading only the contract vector (waypoints y left, steer > 0 turns right)."""
    waypoint = vector[3:].reshape(-1, 2)[3] * 50.0
    steer = np.clip(-2.0 * np.arctan2(waypoint[1], waypoint[0]), -1, 1)
    throttle = np.clip(0.5 * (target_speed - vector[0] * 30 / 3.6), -1, 1)
    return np.array([steer, throttle], np.float32)


@pytest.fixture(scope="module")
def env():
    env = make_env("racetrack")
    yield env
    env.close()


def test_gymnasium_env_checker(env):
    check_env(env, skip_render_check=True)


def test_contract_spaces_and_info(env):
    obs, info = env.reset(seed=1)
    assert env.observation_space == contract.observation_space(53)
    assert env.action_space == contract.action_space()
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.5], np.float32))
    assert env.observation_space.contains(obs)
    assert set(info) >= {"reward_terms", "events", "metrics", "termination_reason", "success"}
    assert tuple(info["reward_terms"]) == contract.REWARD_TERMS
    assert reward == pytest.approx(sum(info["reward_terms"].values()))
    assert tuple(info["events"]) == contract.EVENT_NAMES and tuple(info["metrics"]) == contract.METRIC_NAMES
    assert info["termination_reason"] == contract.RUNNING and not terminated and not truncated


def test_frames_are_not_blank(env):
    obs, _ = env.reset(seed=2)
    frames = [obs["image"]]
    for _ in range(10):
        frames.append(env.step(env.action_space.sample())[0]["image"])
    for frame in frames:
        assert frame.std() > 10.0  # lane markings (white) on the grey track
        assert (frame > 200).mean() > 0.01


def test_same_seed_same_first_50_frames_and_vectors():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(50, 2)).astype(np.float32) * [0.3, 1.0]

    def rollout(seed: int) -> tuple[np.ndarray, np.ndarray]:
        env = RacetrackEnv(scenario=1)
        obs, _ = env.reset(seed=seed)
        images, vectors = [obs["image"]], [obs["vector"]]
        for action in actions[:49]:
            obs, _, terminated, truncated, _ = env.step(action)
            images.append(obs["image"])
            vectors.append(obs["vector"])
        env.close()
        return np.stack(images), np.stack(vectors)

    a, b, c = rollout(7), rollout(7), rollout(8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_pure_pursuit_on_the_vector_completes_a_lap_with_success():
    env = RacetrackEnv(route_length=120.0)
    obs, _ = env.reset(seed=3)
    for _ in range(200):
        obs, reward, terminated, truncated, info = env.step(pure_pursuit(obs["vector"]))
        assert not truncated and not info["events"]["lane_invasion"]
        assert abs(info["metrics"]["lateral_offset"]) < 2.0  # inside its 5 m lane all the way
        if terminated:
            break
    assert info["termination_reason"] == contract.ROUTE_COMPLETED and info["success"]
    assert info["metrics"]["route_completion"] == 1.0
    assert 120.0 <= info["state"]["route_progress"] < 125.0
    assert info["state"]["waypoints_reached"] == int(info["state"]["route_progress"] // 2.0)


def test_spawn_anywhere_covers_the_loop_and_each_start_is_a_full_lap_route():
    env = RacetrackEnv(spawn="anywhere", route_length=60.0)
    segments = set()
    for seed in range(12):
        obs, info = env.reset(seed=seed)
        segments.add(tuple(info["state"]["extra"]["lane_index"][:2]))
        assert info["state"]["route_progress"] == 0.0
        assert abs(info["metrics"]["lateral_offset"]) < 1e-6 and abs(obs["vector"][2]) < 1e-6  # on the lane, aligned
    assert len(segments) >= 5  # of the loop's 9 segments; "start" always gives ("a", "b")
    starts = {tuple(RacetrackEnv().reset(seed=s)[1]["state"]["extra"]["lane_index"][:2]) for s in range(4)}
    assert starts == {("a", "b")}
    obs, _ = env.reset(seed=5)
    for _ in range(100):  # pure pursuit completes the route from a spawn in a curve too
        obs, _, terminated, _, info = env.step(pure_pursuit(obs["vector"]))
        if terminated:
            break
    assert info["termination_reason"] == contract.ROUTE_COMPLETED
    with pytest.raises(ValueError, match="spawn must be one of"):
        RacetrackEnv(spawn="random")


def test_steer_right_moves_right_and_brake_stops(env):
    obs, _ = env.reset(seed=4)  # starts on the first straight, aligned with the lane
    for _ in range(3):
        obs, *_ = env.step(np.array([0.3, 0.0], np.float32))
    assert obs["vector"][1] < 0 and obs["vector"][2] < 0  # right of the centre, heading right
    for _ in range(10):  # full brake is -5 m/s^2: 5 m/s -> 0 in 1 s, then it stays stopped (no reverse)
        obs, reward, *_ = env.step(np.array([0.0, -1.0], np.float32))
    assert obs["vector"][0] == 0.0
    assert reward == pytest.approx(-0.5)  # the stopping penalty alone: nothing positive at rest


def test_leaving_the_track_terminates_off_road():
    env = RacetrackEnv()
    env.reset(seed=5)
    for _ in range(60):
        _, _, terminated, _, info = env.step(np.array([1.0, 1.0], np.float32))
        if terminated:
            break
    assert info["termination_reason"] == contract.OFF_ROAD and info["events"]["off_road"]
    assert not info["success"] and info["reward_terms"]["safety"] <= -20.0


def test_time_limit_truncates():
    env = RacetrackEnv(max_episode_steps=5)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, _, terminated, truncated, info = env.step(pure_pursuit(obs["vector"]))
    assert truncated and not terminated and info["termination_reason"] == contract.TIME_LIMIT


def test_scenarios_place_the_stated_traffic():
    for scenario, count in SCENARIO_TRAFFIC.items():
        env = RacetrackEnv(scenario=scenario)
        env.reset(seed=0)
        assert len(env.sim.road.vehicles) == 1 + count
        env.close()
    with pytest.raises(ValueError, match="scenario must be one of"):
        RacetrackEnv(scenario=3)


def test_heading_frame_draws_the_ego_upright_three_quarters_down_wherever_the_track_turns():
    env = RacetrackEnv(frame="heading", spawn="anywhere")
    check_env(env, skip_render_check=True)
    headings = []
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        headings.append(env.sim.vehicle.heading)
        ego = np.nonzero(env.frame_without([env.sim.vehicle]) != obs["image"])[1:]  # the ego's own pixels
        rows, cols = ego
        # a 5 x 2 m car at 2 px/m: ~10 px tall and ~4 wide, centred on row 63 and column 42
        assert 8 <= rows.max() - rows.min() + 1 <= 11 and 3 <= cols.max() - cols.min() + 1 <= 5
        assert abs(rows.mean() - 63) <= 1.5 and abs(cols.mean() - 42) <= 1.5
    assert np.ptp(np.unwrap(headings)) > np.pi / 2  # the starts face different ways
    env.close()
    with pytest.raises(ValueError, match="frame must be one of"):
        RacetrackEnv(frame="chase")


def test_factory_unknown_name_lists_registered():
    with pytest.raises(ValueError, match=r"unknown env 'nope'; registered: racetrack, carla, gym:<id>"):
        make_env("nope")
    with pytest.raises(ValueError, match="cannot import env class"):
        make_env("lightning_td3.envs.racetrack.NoSuchEnv")
    env = make_env("lightning_td3.envs.racetrack:RacetrackEnv", max_episode_steps=3)
    assert isinstance(env, RacetrackEnv) and env.max_episode_steps == 3


def test_env_modules_import_neither_torch_nor_carla():
    code = (
        "import sys\n"
        "import lightning_td3.envs.factory, lightning_td3.envs.racetrack, lightning_td3.envs.gym_adapter\n"
        "print('torch' in sys.modules, 'lightning_td3.envs.carla.env' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_standing_still_ends_the_episode_as_stuck_with_its_penalty():
    env = RacetrackEnv(max_stopped_steps=8)
    env.reset(seed=4)
    rewards = []
    for _ in range(40):
        _, reward, terminated, truncated, info = env.step(np.array([0.0, -1.0], np.float32))
        rewards.append(reward)
        if terminated or truncated:
            break
    assert terminated and not truncated and info["termination_reason"] == contract.STUCK
    assert not info["success"]
    assert info["reward_terms"]["safety"] == pytest.approx(-0.5 - 20.0)  # stopping + stuck penalties
    assert len(rewards) < 8 + 6  # stopped within ~1 s of full braking, then 8 stopped steps
    assert RacetrackEnv(max_stopped_steps=None).stuck.max_stopped_steps is None
    with pytest.raises(ValueError, match="max_stopped_steps"):
        RacetrackEnv(max_stopped_steps=0)
