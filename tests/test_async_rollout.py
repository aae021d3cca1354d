"""Asynchronous rollout: rate limiter, replay shards, the shared acting policy, and real worker processes
on the embedded racetrack (schedule, weight sync, a SIGKILLed worker, repeated failures, CLI resume)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.multiprocessing as tmp

from lightning_td3.agent.td3 import TD3
from lightning_td3.data import TD3DataModule, sidecar_path
from lightning_td3.envs.contract import DrivingState, action_space, make_info, observation_space
from lightning_td3.replay.buffer import FrameReplayBuffer
from lightning_td3.rollout.async_pool import RolloutWorkerError
from lightning_td3.rollout.async_replay import ShardedReplay
from lightning_td3.rollout.async_worker import ActingPolicy, SharedPolicy
from lightning_td3.rollout.rate_limiter import RateLimiter

torch.set_num_threads(1)
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")


class SlowStartEnv(gym.Env):
    """A simulator that takes `delay` s to come up (a CARLA world loading) and `step_seconds` per step."""

    def __init__(self, delay: float = 0.0, step_seconds: float = 0.005) -> None:
        time.sleep(delay)
        self.step_seconds = step_seconds
        self.observation_space = observation_space(vector_dim=2, image_size=36)
        self.action_space = action_space()

    def _obs(self):
        return {"image": np.zeros((1, 36, 36), np.uint8), "vector": np.zeros(2, np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action):
        time.sleep(self.step_seconds)
        return self._obs(), 0.0, False, False, make_info(DrivingState(), {}, 0.0, "running", False)


class ExplodingEnv(SlowStartEnv):
    """A simulator that fails on its third step (imported by the worker processes by class path)."""

    def __init__(self) -> None:
        super().__init__(step_seconds=0.0)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        if self.t >= 3:
            raise RuntimeError("simulator\nexploded")
        return super().step(action)


def _module(dm: TD3DataModule) -> TD3:
    return TD3(image_shape=dm.image_shape, vector_dim=dm.vector_dim, action_dim=dm.action_dim,
               feature_dim=16, hidden_dim=16)  # fmt: skip


def _async_data(**kwargs) -> TD3DataModule:
    args = dict(env="racetrack", env_kwargs={"max_episode_steps": 30}, buffer_size=1000, batch_size=8,
                learning_starts=16, max_env_steps=5000, eval_episodes=0, rollout_workers=2, rate_tolerance=4,
                weight_sync_every=5, worker_restart_backoff=0.1)  # fmt: skip
    args.update(kwargs)
    dm = TD3DataModule(**args)
    dm.setup("fit")
    return dm


def _fake_update(module: TD3) -> None:
    """What matters to the data side: the update count advances and the actor's weights change."""
    module.updates += 1
    with torch.no_grad():
        for p in module.actor.parameters():
            p.add_(0.01)


# -- units --------------------------------------------------------------------------------------------
def test_rate_limiter_lets_workers_run_at_most_tolerance_ahead_of_the_schedule():
    limiter = RateLimiter(2, max_env_steps=10, tolerance=3, ctx=tmp.get_context("spawn"))
    limiter.set_schedule(4)
    indices = [limiter.try_claim(k % 2) for k in range(8)]
    assert indices == [0, 1, 2, 3, 4, 5, 6, None]  # 4 scheduled + 3 ahead
    limiter.set_schedule(9)
    assert [limiter.try_claim(0) for _ in range(4)] == [7, 8, 9, None]  # capped at max_env_steps
    assert limiter.claimed(0) == 7 and limiter.claimed(1) == 3
    limiter.set_claims(0, 2)  # a dead worker's claims that never arrived are given back
    assert limiter.try_claim(1) == 5
    limiter.hold_start()  # the start gate: no claims until the learner releases it
    assert limiter.try_claim(1) is None and limiter.claimed() == 6
    limiter.release_start()
    assert limiter.try_claim(1) == 6
    limiter.stop()
    assert limiter.claim(1) is None


def test_sharded_replay_samples_shards_in_proportion_and_restores_its_sampler():
    shards = [FrameReplayBuffer(200, frame_shape=(6, 6), vector_dim=1, frame_stack=2, seed=k, memory_check=False)
              for k in range(2)]  # fmt: skip
    for shard, (tag, steps) in zip(shards, [(0.0, 90), (1.0, 30)], strict=True):
        obs = {"image": np.zeros((1, 6, 6), np.uint8), "vector": np.array([tag], np.float32)}
        shard.start_episode(obs)
        for t in range(steps):
            shard.add(np.zeros(2, np.float32), 1.0, obs, False, t == steps - 1)
    replay = ShardedReplay(shards, seed=0)
    assert len(replay) == len(shards[0]) + len(shards[1])
    share = np.mean([replay.sample(64)["obs_vector"][:, 0].mean().item() for _ in range(50)])
    assert share == pytest.approx(len(shards[1]) / len(replay), abs=0.03)
    state = replay.state_dict()
    first = replay.sample(16)
    replay.load_state_dict(state)
    again = replay.sample(16)
    for key in first:
        torch.testing.assert_close(first[key], again[key])
    with pytest.raises(ValueError, match="same data.rollout_workers"):
        ShardedReplay(shards[:1], seed=0).load_state_dict(state)


def test_shared_policy_acts_like_td3_and_publishes_versions_without_hooks():
    module = TD3(image_shape=(4, 36, 36), vector_dim=3, feature_dim=16, hidden_dim=16)
    calls = []
    module.actor_encoder.register_forward_hook(lambda *args: calls.append(1))
    obs = {"image": np.random.default_rng(0).integers(0, 255, (4, 36, 36), dtype=np.uint8),
           "vector": np.array([0.1, -0.2, 0.3], np.float32)}  # fmt: skip
    shared = SharedPolicy(module, tmp.get_context("spawn"))
    local = shared.local_copy()
    generator = torch.Generator().manual_seed(0)
    assert shared.read_into(local, -2) == -1  # nothing published yet
    np.testing.assert_allclose(local.act(obs, False, 0.0, generator), module.act(obs), rtol=0, atol=1e-6)
    calls.clear()
    _fake_update(module)
    shared.publish(module, version=7)
    assert calls == [] and not any(p.requires_grad for p in shared.net.parameters())
    assert shared.read_into(local, -1) == 7 and shared.version == 7
    np.testing.assert_allclose(local.act(obs, False, 0.0, generator), module.act(obs), rtol=0, atol=1e-6)
    assert calls == [1]  # only the live module's hook ran: the copies carry none
    noisy = local.act(obs, True, 0.5, generator)
    assert noisy.shape == (2,) and np.all(np.abs(noisy) <= 1) and not np.allclose(noisy, module.act(obs))
    shared_mode = TD3(image_shape=(4, 36, 36), vector_dim=3, feature_dim=16, hidden_dim=16, encoder="shared")
    snapshot = ActingPolicy.snapshot(shared_mode)
    np.testing.assert_allclose(snapshot.act(obs, False, 0.0, generator), shared_mode.act(obs), atol=1e-6)


def test_sidecar_names_and_per_slot_env_kwargs():
    base = Path("ckpts/env_steps=50.replay")
    assert sidecar_path(base, 0, None) == base
    assert sidecar_path(base, 1, None).name == "env_steps=50.rank1.replay"
    assert sidecar_path(base, 0, 1).name == "env_steps=50.w1.replay"
    assert sidecar_path(base, 2, 0).name == "env_steps=50.rank2.w0.replay"
    dm = SimpleNamespace(env_kwargs={"host": "h", "port": 2000, "tm_port": 8000}, worker_port_stride=2,
                         worker_env_overrides=[], rank=0)  # fmt: skip
    assert TD3DataModule.slot_env_kwargs(dm, 3) == {"host": "h", "port": 2006, "tm_port": 8006}
    dm.worker_port_stride, dm.worker_env_overrides = 0, [{"host": "a"}, {"host": "b", "port": 3000}]
    assert TD3DataModule.slot_env_kwargs(dm, 1) == {"host": "b", "port": 3000, "tm_port": 8000}
    with pytest.raises(ValueError, match="worker_env_overrides has 2 entries but rollout slot 2"):
        TD3DataModule.slot_env_kwargs(dm, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rollout_workers": -1}, "rollout_workers must be >= 0"),
        ({"rollout_workers": 2, "rate_tolerance": 0}, "rate_tolerance must be >= 1"),
        ({"weight_sync_every": 0}, "weight_sync_every must be >= 1"),
        ({"worker_max_restarts": -1}, "worker_max_restarts must be >= 0"),
        ({"worker_port_stride": 2}, "worker_port_stride needs data.env_kwargs.port"),
        ({"rollout_workers": 3, "worker_env_overrides": [{}, {}]}, "worker_env_overrides has 2 entries"),
    ],
)
def test_scale_out_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TD3DataModule(**kwargs)


# -- real worker processes ------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_workers_feed_the_replay_on_schedule_and_a_killed_worker_is_restarted():
    dm = _async_data()
    module = _module(dm)
    stream, pool, replay = dm.stream, dm.worker, dm.buffer
    stream.policy, stream.on_exhausted = (lambda: module), None
    tolerance, workers = dm.rate_tolerance, dm.rollout_workers
    processes = []
    batches = iter(stream)
    ahead, versions = [], set()

    def train_one() -> None:
        batch = next(batches)
        assert batch["obs_image"].shape == (8, 4, 84, 84)
        k = module.updates + 1
        # the learner's side is exact: the replay holds the synchronous schedule's env steps
        assert pool.env_steps == dm.learning_starts + k
        ahead.append(pool.limiter.claimed() - pool.env_steps)
        versions.update(pool.worker_versions())
        _fake_update(module)

    try:
        for _ in range(60):
            train_one()
        # both start together (the start gate), but a loaded 2-core machine can still leave one unscheduled
        # for a while; keep training (the schedule stays exact) until it has delivered too
        deadline = time.monotonic() + 45
        while not all(shard.num_added > 0 for shard in replay.shards):
            assert time.monotonic() < deadline, [shard.num_added for shard in replay.shards]
            train_one()
        processes = [w.process for w in pool.workers]
        assert sum(shard.num_added for shard in replay.shards) == pool.env_steps
        assert max(versions) >= 30 and len(versions - {-1}) >= 5  # published weights reached the workers
        assert max(ahead) <= tolerance + workers - 1, ahead  # workers paused when too far ahead

        victim = pool.workers[0]
        pid, inserted, added = victim.process.pid, victim.inserted, replay[0].num_added
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 45
        while not (victim.generation == 2 and victim.inserted > inserted + 5):
            assert time.monotonic() < deadline, "the killed worker was not restarted"
            train_one()
        assert pool.restarts == 1 and pool.pids()[0] != pid
        assert replay[0].num_added >= added + 5  # nothing lost, and the new process feeds the same shard
        assert max(ahead) <= tolerance + workers - 1
    finally:
        processes += [w.process for w in pool.workers]
        pool.close(timeout=30.0)  # a loaded 2-core machine can take seconds to schedule the worker's exit
    assert all(p.exitcode is not None for p in processes if p is not None)  # every worker process is gone
    assert pool.workers[1].process is None and processes[1].exitcode == 0  # stopped cleanly, not killed


@pytest.mark.slow
def test_a_worker_that_starts_seconds_late_still_gets_its_share_of_the_warm_up():
    dm = _async_data(env=f"{__name__}.SlowStartEnv", env_kwargs={}, learning_starts=40,
                     worker_env_overrides=[{}, {"delay": 3.0}])  # fmt: skip
    dm.stream.policy, dm.stream.on_exhausted = (lambda: _module(dm)), None
    try:
        next(iter(dm.stream))  # the first batch waits for the 40 warm-up steps (and one more)
        added, inserted = [shard.num_added for shard in dm.buffer.shards], dm.worker.env_steps
    finally:
        dm.worker.close()
    # without the start gate worker 0 takes all 40 (0.2 s of steps) while worker 1 is still loading
    assert sum(added) == inserted == 41 and min(added) > 0, added


class HangingResetEnv(SlowStartEnv):
    """A simulator that hangs for good in its second reset (its first episode lasts three steps)."""

    def __init__(self) -> None:
        super().__init__(step_seconds=0.0)
        self.resets, self.t = 0, 0

    def reset(self, *, seed=None, options=None):
        self.resets, self.t = self.resets + 1, 0
        if self.resets == 2:
            time.sleep(3600)
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        obs, reward, terminated, _, info = super().step(action)
        return obs, reward, terminated, self.t >= 3, info


@pytest.mark.slow
@pytest.mark.parametrize("env, worker_kwargs", [("SlowStartEnv", {"delay": 3600.0}), ("HangingResetEnv", {})],
                         ids=["hangs_starting", "hangs_resetting"])  # fmt: skip
def test_a_worker_hung_outside_a_step_is_killed_after_worker_timeout(env, worker_kwargs):
    dm = _async_data(env=f"{__name__}.{env}", env_kwargs={}, worker_env_overrides=[worker_kwargs], rollout_workers=1,
                     worker_timeout=2.0, worker_max_restarts=0)  # fmt: skip
    dm.stream.policy, dm.stream.on_exhausted = (lambda: _module(dm)), None
    raised: list[BaseException] = []

    def first_batch() -> None:
        try:
            next(iter(dm.stream))
        except BaseException as err:  # noqa: BLE001 - inspected below
            raised.append(err)

    learner = threading.Thread(target=first_batch, daemon=True)  # undetected, the learner would wait forever
    try:
        learner.start()
        learner.join(60)
    finally:
        dm.worker.close()
    assert not learner.is_alive(), "the hung worker was never killed"
    assert [type(err) for err in raised] == [RolloutWorkerError]
    assert str(raised[0]) == (
        "rollout worker 0 failed 1 times in a row (last: no env step or reset for 2 s (hung simulator?)); "
        "giving up (data.worker_max_restarts=0)"
    )


@pytest.mark.slow
def test_a_worker_that_keeps_failing_ends_training_with_one_line():
    dm = _async_data(env=f"{__name__}.ExplodingEnv", env_kwargs={}, worker_max_restarts=1,
                     worker_restart_backoff=0.01, rollout_workers=1)  # fmt: skip
    dm.stream.policy, dm.stream.on_exhausted = (lambda: _module(dm)), None
    try:
        with pytest.raises(RolloutWorkerError) as info:
            next(iter(dm.stream))
    finally:
        dm.worker.close()
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "rollout worker 0 failed 2 times in a row (last: RuntimeError: simulator exploded); "
        "giving up (data.worker_max_restarts=1)"
    )


def _run_cli(cwd: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SDL_VIDEODRIVER": "offscreen", "OMP_NUM_THREADS": "1"}
    common = ["fit", "--config", SMOKE, "--trainer.enable_progress_bar", "false",
              "--trainer.logger.init_args.name", "async", "--data.rollout_workers", "2",
              "--data.rate_tolerance", "4", "--data.weight_sync_every", "5", "--data.eval_episodes", "0"]  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "lightning_td3", *common, *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def async_run(tmp_path_factory) -> Path:
    """One CLI fit with two workers (70 env steps, checkpoints at 50 and 70); returns its folder."""
    cwd = tmp_path_factory.mktemp("async_cli")
    _run_cli(cwd, "--data.max_env_steps", "70", "--checkpoint.every_n_env_steps", "50")
    return cwd


@pytest.mark.slow
def test_cli_fit_with_two_workers_writes_shards_and_counters(async_run):
    ckpt_dir = async_run / "lightning_logs/async/version_0/checkpoints"
    final = sorted(p.name for p in ckpt_dir.glob("env_steps=70.*"))
    assert final == ["env_steps=70.ckpt", "env_steps=70.w0.replay", "env_steps=70.w1.replay"]
    state = torch.load(ckpt_dir / "env_steps=70.ckpt", weights_only=True)
    worker = state["TD3DataModule"]["worker"]
    assert worker["mode"] == "async" and worker["env_steps"] == 70
    assert sum(w["inserted"] for w in worker["workers"]) == 70 and min(w["inserted"] for w in worker["workers"]) > 0
    assert max(w["version"] for w in worker["workers"]) >= 15  # acted with republished weights
    assert state["td3_counters"]["updates"] == 30


@pytest.mark.slow
def test_cli_resume_in_async_mode_restores_counters_and_replay(async_run):
    ckpt_dir = async_run / "lightning_logs/async/version_0/checkpoints"
    _run_cli(async_run, "--data.max_env_steps", "90", "--ckpt_path", "last")
    state = torch.load(ckpt_dir / "last.ckpt", weights_only=True)
    worker = state["TD3DataModule"]["worker"]
    assert worker["env_steps"] == 90 and state["td3_counters"]["updates"] == 50
    assert [w["generation"] for w in worker["workers"]] == [2, 2]  # fresh processes (and seeds) after resume
    shards = state["TD3DataModule"]["buffer"]["shards"]
    assert sum(s["num_added"] for s in shards) == 90  # the replay was restored, then grew
    assert not (async_run / "lightning_logs/async/version_1").exists()
