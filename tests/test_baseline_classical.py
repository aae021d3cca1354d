"""The classical baseline (PID + pure pursuit) and the whole-episode evaluation helper."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from lightning_td3.baselines.classical import ClassicalController, PIDSpeed, PurePursuit, decode_vector
from lightning_td3.baselines.evaluate import evaluate
from lightning_td3.envs import contract
from lightning_td3.envs.contract import DrivingState
from lightning_td3.envs.observation import driving_vector


def test_pid_step_response_sign_and_first_output():
    pid = PIDSpeed(dt=0.05)
    # first step from standstill to 30 km/h: kp*e + ki*e*dt (no derivative on the first step), clipped to 1
    e = 30 / 3.6
    assert pid(e, 0.0) == 1.0
    pid = PIDSpeed(dt=0.05)
    assert pid(1.0, 0.0) == pytest.approx(0.5 * 1.0 + 0.3 * 0.05)
    assert pid(1.0, 0.1) == pytest.approx(0.5 * 0.9 + 0.3 * (0.05 + 0.045) + 0.13 * (0.9 - 1.0) / 0.05)
    too_fast = PIDSpeed(dt=0.05)
    assert too_fast(5.0, 8.0) < 0  # brake above the target


def test_pid_closes_the_loop_on_a_first_order_car():
    pid, speed, target = PIDSpeed(dt=0.05), 0.0, 30 / 3.6
    for _ in range(600):
        u = pid(target, speed)
        speed = max(speed + (4.0 * max(u, 0) - 8.0 * max(-u, 0) - 0.05 * speed) * 0.05, 0.0)
    assert speed == pytest.approx(target, abs=0.1)


def test_pure_pursuit_angle_for_a_waypoint_to_the_left_is_positive():
    pursuit = PurePursuit()
    point = np.array([[6.0, 2.0]])  # look-ahead is max(0.8 * 5, 6) = 6 m; this point is 6.32 m away
    alpha = math.atan2(2.0, 6.0)
    expected = math.atan2(2 * 3.0 * math.sin(alpha), math.hypot(6.0, 2.0))
    assert pursuit(point, 5.0) == pytest.approx(expected) and expected > 0
    assert pursuit(np.array([[6.0, -2.0]]), 5.0) == pytest.approx(-expected)
    assert pursuit(np.array([[10.0, 0.0]]), 5.0) == 0.0
    # the first point beyond the look-ahead is the target: at 20 m/s look-ahead is 16 m
    points = np.array([[5.0, 5.0], [16.5, 0.0], [30.0, -9.0]])
    assert pursuit.target(points, 20.0).tolist() == [16.5, 0.0]
    assert pursuit.target(points[:1], 20.0).tolist() == [5.0, 5.0]  # none far enough: the farthest


def test_controller_steers_left_with_negative_action_and_decodes_the_vector():
    waypoints = np.array([[2.0 * i, 0.05 * i * i] for i in range(1, 11)])  # a road bending left
    vector = driving_vector(20 / 3.6, 0.0, 0.0, waypoints, 25)
    speed, decoded = decode_vector(vector)
    assert speed == pytest.approx(20 / 3.6, rel=1e-6) and np.allclose(decoded, waypoints, atol=1e-5)
    controller = ClassicalController(dt=0.05, max_steer_angle=math.radians(70))
    steer, throttle = controller.act({"image": np.zeros((1, 84, 84), np.uint8), "vector": vector})
    angle = controller.pursuit(waypoints, 20 / 3.6)
    assert steer < 0 and steer == pytest.approx(
        -angle / math.radians(70), rel=1e-5
    )  # positive action = right
    assert throttle > 0  # below 30 km/h
    empty = driving_vector(0.0, 0.0, 0.0, np.zeros((0, 2)), 25)
    assert controller.act({"vector": empty})[0] == 0.0


class Scripted(gym.Env):
    """Episodes of known length with a collision and lane invasion on chosen steps (per-step events)."""

    def __init__(self, lengths, collide_at=None, success=()):
        self.lengths, self.collide_at, self.success, self.episode = (
            lengths,
            collide_at or {},
            set(success),
            -1,
        )
        self.observation_space = contract.observation_space(53)
        self.action_space = contract.action_space()

    def reset(self, *, seed=None, options=None):
        self.episode, self.t = self.episode + 1, 0
        return self._obs(), {}

    def _obs(self):
        return {"image": np.zeros((1, 84, 84), np.uint8), "vector": np.zeros(53, np.float32)}

    def step(self, action):
        self.t += 1
        n = self.lengths[self.episode]
        state = DrivingState(speed=5.0, route_progress=10.0 * self.t, route_length=10.0 * n)
        state.collision_intensity = 1.0 if self.collide_at.get(self.episode) == self.t else 0.0
        state.lane_invasion = self.t == 1
        done = self.t == n
        ok = done and self.episode in self.success
        reason = contract.ROUTE_COMPLETED if ok else (contract.TIME_LIMIT if done else contract.RUNNING)
        info = contract.make_info(state, {}, 10.0 * self.t, reason, ok)
        return self._obs(), 1.0, ok, done and not ok, info


def test_evaluate_aggregates_whole_episodes():
    env = Scripted(
        [50, 100], collide_at={1: 3}, success=[0]
    )  # a collision early in episode 2 (not the last step)
    result = evaluate(lambda obs: np.zeros(2, np.float32), env, episodes=2, seed=0)
    assert result["return_mean"] == pytest.approx(75.0) and result["return_std"] == pytest.approx(25.0)
    assert result["success_rate"] == 0.5 and result["collisions"] == 1
    assert result["collisions_per_km"] == pytest.approx(1 / 1.5)  # 500 m + 1000 m
    assert result["lane_invasions_per_km"] == pytest.approx(2 / 1.5)
    assert result["route_completion_mean"] == pytest.approx(1.0)
    assert result["avg_speed_kmh"] == pytest.approx(18.0) and result["episode_length_mean"] == 75.0
    assert result["termination_reasons"] == {"route_completed": 1, "time_limit": 1}
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        evaluate(lambda obs: None, env, episodes=0)


def test_baseline_drives_the_fake_carla_road_to_the_goal():
    pytest.importorskip("carla")
    from lightning_td3.envs.carla.env import CarlaEnv
    from lightning_td3.envs.carla.testing import FakeCarlaBackend

    env = CarlaEnv(
        backend=FakeCarlaBackend(),
        route_start=[2.0, 1.75],
        route_length=170.0,
        num_npcs=0,
        max_episode_steps=600,
    )
    result = evaluate(ClassicalController.from_env(env), env, episodes=1, seed=0)
    env.close()
    assert (
        result["success_rate"] == 1.0 and result["route_completion_mean"] > 0.98
    )  # through the 90 deg curve
    assert 25.0 < result["avg_speed_kmh"] < 31.0 and result["collisions"] == 0


def test_baseline_drives_the_racetrack_far_better_than_random():
    from lightning_td3.envs.racetrack import RacetrackEnv

    env = RacetrackEnv(max_episode_steps=100)
    controller = evaluate(ClassicalController.from_env(env), env, episodes=1, seed=0)
    rng = np.random.default_rng(0)
    random = evaluate(lambda obs: rng.uniform(-1, 1, 2).astype(np.float32), env, episodes=1, seed=0)
    env.close()
    assert controller["route_completion_mean"] > 3 * random["route_completion_mean"]
    assert controller["episode_length_mean"] == 100 and controller["collisions"] == 0
    assert 25.0 < controller["avg_speed_kmh"] < 35.0


def test_a_checkpoint_is_evaluated_by_the_same_cli_and_bad_paths_are_one_line_errors(tmp_path):
    import json
    import subprocess
    import sys

    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from lightning_td3.agent import TD3
    from lightning_td3.agent.synthetic import SyntheticBatches

    torch.manual_seed(0)
    module = TD3(image_shape=(4, 84, 84), vector_dim=53, feature_dim=8, hidden_dim=8)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")  # fmt: skip
    trainer.fit(module, DataLoader(SyntheticBatches(1, 4, image_shape=(4, 84, 84), vector_dim=53), batch_size=None))
    ckpt = tmp_path / "agent.ckpt"
    trainer.save_checkpoint(ckpt)
    config = tmp_path / "eval.yaml"
    config.write_text("data:\n  env: racetrack\n  env_kwargs: {max_episode_steps: 20}\n")
    base = [sys.executable, "-m", "lightning_td3.baselines", "--config", str(config), "--episodes", "1"]
    out = subprocess.run([*base, "--policy", "checkpoint", "--ckpt", str(ckpt)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1000:]
    result = json.loads(out.stdout)
    assert result["policy"] == "checkpoint" and result["ckpt"] == str(ckpt) and result["episodes"] == 1
    assert 1 <= result["episode_length_mean"] <= 20
    for args, message in (
        (["--policy", "checkpoint", "--ckpt", str(tmp_path / "missing.ckpt")], "error: checkpoint not found"),
        (["--policy", "checkpoint"], "error: --ckpt goes with --policy checkpoint"),
    ):
        bad = subprocess.run([*base, *args], capture_output=True, text=True)
        assert bad.returncode == 2 and bad.stderr.startswith(message) and len(bad.stderr.splitlines()) == 1


def test_the_classical_controller_cruises_at_the_asked_speed_and_bad_speeds_are_one_line_errors(tmp_path):
    import json
    import subprocess
    import sys

    config = tmp_path / "eval.yaml"
    config.write_text("data:\n  env: racetrack\n  env_kwargs: {max_episode_steps: 80}\n")
    base = [sys.executable, "-m", "lightning_td3.baselines", "--config", str(config), "--episodes", "1"]
    speeds = {}
    for target in (20.0, 40.0):
        out = subprocess.run([*base, "--target_kmh", str(target)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-1000:]
        result = json.loads(out.stdout)
        assert result["policy"] == "classical" and result["target_kmh"] == target and result["collisions"] == 0
        speeds[target] = result["avg_speed_kmh"]
    assert 19.0 < speeds[20.0] < 21.0 and 38.0 < speeds[40.0] < 42.0  # 20.0 and 40.3 when written
    for args in (["--target_kmh", "0"], ["--target_kmh", "30", "--policy", "random"]):
        bad = subprocess.run([*base, *args], capture_output=True, text=True)
        assert bad.returncode == 2 and bad.stderr.startswith("error: --target_kmh goes with --policy classical")
        assert len(bad.stderr.splitlines()) == 1


def test_a_lap_pays_a_slower_pace_more_and_a_fixed_time_pays_a_faster_one_more():
    """Why configs/overlays/eval_fixed_time.yaml exists: the reward's per-step terms add up over the lap's steps."""
    from lightning_td3.envs.racetrack import RacetrackEnv

    def drive(target_kmh: float, **env_kwargs) -> dict:
        env = RacetrackEnv(spawn="start", **env_kwargs)
        try:
            return evaluate(ClassicalController.from_env(env, target_speed_kmh=target_kmh), env, episodes=1, seed=0)
        finally:
            env.close()

    lap = {v: drive(v, max_episode_steps=500) for v in (20.0, 40.0)}
    assert all(r["success_rate"] == 1.0 for r in lap.values())
    assert lap[20.0]["episode_length_mean"] > 1.8 * lap[40.0]["episode_length_mean"]
    assert lap[20.0]["return_mean"] > lap[40.0]["return_mean"] + 200  # 2199 and 1815 over the ten eval laps
    timed = {v: drive(v, max_episode_steps=250, route_length=100000.0) for v in (20.0, 40.0)}
    assert all(r["termination_reasons"] == {"time_limit": 1} for r in timed.values())
    assert timed[40.0]["distance_mean"] > 500.0 > lap[40.0]["distance_mean"]  # on past the end of the lap
    assert timed[40.0]["distance_mean"] > 1.8 * timed[20.0]["distance_mean"]
    assert timed[40.0]["return_mean"] > timed[20.0]["return_mean"] + 500
