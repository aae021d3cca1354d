"""Rollout worker, exploration, episode statistics and the replay stream's env-step accounting."""

import math
import os

import gymnasium as gym
import numpy as np
import pytest

from lightning_td3.envs.contract import DrivingState, action_space, make_info, observation_space
from lightning_td3.envs.factory import make_env
from lightning_td3.replay.buffer import FrameReplayBuffer
from lightning_td3.replay.stream import ReplayStream
from lightning_td3.rollout.episodes import FrameStacker
from lightning_td3.rollout.exploration import ExplorationConfig, WarmupConfig, WarmupPolicy
from lightning_td3.rollout.worker import RolloutWorker

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")


class CountingEnv(gym.Env):
    """Frames carry the step number; episodes last `length` steps (terminated) — enough to check bookkeeping."""

    def __init__(self, length: int = 7, size: int = 6) -> None:
        self.observation_space = observation_space(vector_dim=2, image_size=size)
        self.action_space = action_space()
        self.length, self.size, self.t, self.total = length, size, 0, 0

    def _obs(self):
        frame = np.full((1, self.size, self.size), self.total % 256, np.uint8)
        return {"image": frame, "vector": np.array([self.t, self.total], np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.total += 1
        done = self.t >= self.length
        state = DrivingState(speed=1.0, collision_intensity=1.0 if self.t in (2, 5) else 0.0)
        reason = "collision" if done else "running"
        info = make_info(state, {"progress": 1.0, "safety": -0.5}, float(self.t), reason, False)
        return self._obs(), 0.5, done, False, info


class ZeroPolicy:
    def __init__(self):
        self.calls = 0

    def act(self, observation, explore=False, noise_std=0.1):
        self.calls += 1
        assert observation["image"].shape == (4, 6, 6)
        return np.zeros(2, np.float32)


def _worker(env, learning_starts=5, capacity=500):
    buffer = FrameReplayBuffer(capacity, frame_shape=(6, 6), vector_dim=2, frame_stack=4, memory_check=False)
    worker = RolloutWorker(env, buffer, 4, learning_starts, WarmupConfig(), ExplorationConfig(), seed=0)
    return worker, buffer


def test_frame_stacker_repeats_the_first_frame_then_slides():
    stacker = FrameStacker(3)
    stacker.reset(np.full((1, 2, 2), 1, np.uint8))
    assert stacker.stacked()[:, 0, 0].tolist() == [1, 1, 1]
    stacker.push(np.full((1, 2, 2), 2, np.uint8))
    stacker.push(np.full((1, 2, 2), 3, np.uint8))
    stacker.push(np.full((1, 2, 2), 4, np.uint8))
    assert stacker.stacked()[:, 0, 0].tolist() == [2, 3, 4]


def test_episode_statistics_sum_the_whole_episode():
    worker, _ = _worker(CountingEnv(length=7))
    finished = worker.step(7, ZeroPolicy())
    assert len(finished) == 1
    stats = finished[0].summary()
    # collisions on steps 2 and 5, none on the last step: the reference would have reported 0
    assert stats["collisions"] == 2
    assert stats["return"] == pytest.approx(3.5) and stats["length"] == 7
    assert finished[0].reward_terms == {"progress": pytest.approx(7.0), "safety": pytest.approx(-3.5)}
    assert stats["distance"] == 7.0 and stats["avg_speed"] == 1.0


def test_worker_uses_warmup_then_the_policy_and_feeds_the_buffer():
    worker, buffer = _worker(CountingEnv(length=7), learning_starts=5)
    policy = ZeroPolicy()
    worker.step(12, policy)
    assert policy.calls == 7  # steps 6..12 act with the policy
    assert worker.env_steps == 12 and worker.episodes == 1
    assert buffer.num_added == 12


def test_exploration_schedule_decays_linearly_then_holds():
    cfg = ExplorationConfig(noise_std=0.3, final_noise_std=0.1, decay_steps=100)
    assert cfg.std_at(0) == pytest.approx(0.3)
    assert cfg.std_at(50) == pytest.approx(0.2)
    assert cfg.std_at(1000) == pytest.approx(0.1)
    assert ExplorationConfig(noise_std=0.2).std_at(10**6) == 0.2


def test_warmup_configs_are_validated():
    with pytest.raises(ValueError, match="throttle_low"):
        WarmupConfig(throttle_low=0.5, throttle_high=0.1)
    with pytest.raises(ValueError, match="kind"):
        WarmupConfig(kind="sideways")


def test_forward_warmup_moves_the_vehicle_and_uniform_barely_does():
    speeds = {}
    for kind in ("forward", "uniform"):
        env = make_env("racetrack", max_episode_steps=200)
        policy = WarmupPolicy(WarmupConfig(kind=kind), np.random.default_rng(0), env)
        obs, _ = env.reset(seed=0)
        seen = []
        for _ in range(150):
            obs, _, terminated, truncated, info = env.step(policy(obs))
            seen.append(info["metrics"]["speed"])
            if terminated or truncated:
                obs, _ = env.reset()
        speeds[kind] = float(np.mean(seen))
        env.close()
    assert speeds["forward"] > 6.0, speeds  # m/s; the racetrack's car starts at 5 m/s
    assert speeds["forward"] > speeds["uniform"] + 2.0, speeds


@pytest.mark.parametrize("ratio", [1.0, 0.5, 2.0, 1 / 3, 3.0])
def test_stream_steps_the_env_per_update_and_knows_its_length(ratio):
    worker, buffer = _worker(CountingEnv(length=9), learning_starts=16)
    stream = ReplayStream(worker, buffer, ZeroPolicy, batch_size=4, env_steps_per_update=ratio,
                          learning_starts=16, max_env_steps=60)
    expected = len(stream)
    env_steps_after = []
    for batch in stream:
        assert batch["obs_image"].shape == (4, 4, 6, 6)
        env_steps_after.append(worker.env_steps)
    assert len(env_steps_after) == expected == math.ceil(44 / ratio - 1e-9)
    assert worker.env_steps == 60
    # env steps grow as floor(k * ratio) after warm-up
    assert env_steps_after[:6] == [16 + min(math.floor((k + 1) * ratio + 1e-9), 44) for k in range(6)]
