"""The whole CARLA env against FakeCarlaBackend (real carla value types and map geometry, no server)."""

from __future__ import annotations

import numpy as np
import pytest

carla = pytest.importorskip("carla")

from lightning_td3.envs import contract  # noqa: E402
from lightning_td3.envs.carla.env import CarlaEnv  # noqa: E402
from lightning_td3.envs.carla.server import CarlaConnectionError  # noqa: E402
from lightning_td3.envs.carla.testing import FakeCarlaBackend  # noqa: E402
from lightning_td3.envs.contract import REWARD_TERMS  # noqa: E402

GO = np.array([0.0, 0.6], np.float32)


def make(backend=None, **kwargs) -> tuple[CarlaEnv, FakeCarlaBackend]:
    backend = backend or FakeCarlaBackend()
    options = dict(
        route_start=[2.0, 1.75], route_length=170.0, num_npcs=5, timeout=0.2, retries=3, backoff=0.0
    )
    env = CarlaEnv(backend=backend, **{**options, **kwargs})
    return env, backend


def ours(env: CarlaEnv) -> set[int]:
    return {env.ego_id, *env.sensor_ids, *env.npc_ids} - {None}


def test_reset_and_step_follow_the_contract_with_one_sync_tick_per_step():
    env, fake = make()
    obs, info = env.reset(seed=3)
    assert fake.synchronous and fake.dt == 0.05 and fake.town == "Town01"
    assert env.observation_space.contains(obs) and obs["vector"].shape == (53,)
    assert info["termination_reason"] == "running" and set(info["reward_terms"]) == set(REWARD_TERMS)
    ticks = fake.ticks
    for k in range(1, 6):
        obs, reward, terminated, truncated, info = env.step(GO)
        assert fake.ticks == ticks + k
        # the image is the camera reading of exactly this tick's frame (the fake paints frame % 256)
        assert int(obs["image"][0, 40, 40]) == fake.frame % 256
    assert not terminated and not truncated and reward == pytest.approx(sum(info["reward_terms"].values()))
    assert isinstance(fake.actors[env.ego_id].control, carla.VehicleControl)
    assert fake.actors[env.ego_id].control.throttle == pytest.approx(0.6)
    speed = info["metrics"]["speed"]
    assert speed > 0 and obs["vector"][0] == pytest.approx(speed * 3.6 / 30.0, rel=1e-5)
    # first waypoint 2 m ahead, straight on: x/50 = 0.04, y = 0
    assert obs["vector"][3] == pytest.approx(0.04, abs=0.01) and obs["vector"][4] == pytest.approx(
        0.0, abs=1e-3
    )
    env.close()


def test_stale_camera_frames_are_dropped_and_a_lost_frame_truncates_without_penalty():
    env, fake = make()
    env.reset(seed=0)
    fake.stale_camera = True  # every tick also delivers a copy of the previous frame first
    for _ in range(3):
        obs, *_ = env.step(GO)
        assert int(obs["image"][0, 0, 0]) == fake.frame % 256
    assert env.queues["camera"].dropped_stale == 3
    fake.stale_camera = False
    fake.drop_camera_frames = {fake.frame + 1}
    obs, reward, terminated, truncated, info = env.step(GO)
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["termination_reason"] == "simulator_timeout"
    assert all(v == 0.0 for v in info["reward_terms"].values())
    env.close()


def test_tick_timeout_truncates_then_reset_rebuilds_the_client_and_cleans_up():
    env, fake = make()
    env.reset(seed=0)
    before, connects = ours(env), fake.connects
    fake.hang_ticks = {fake.ticks + 2}
    env.step(GO)
    obs, reward, terminated, truncated, info = env.step(GO)
    assert (reward, terminated, truncated, info["termination_reason"]) == (
        0.0,
        False,
        True,
        "simulator_timeout",
    )
    assert not fake.connected  # the old client is dead
    fake.refuse_connects = 1  # the server needs a moment: one refused try, then backoff
    env.reset(seed=1)
    assert fake.connects == connects + 2 and env.connections == 2
    assert not before & set(fake.actors)  # the previous episode's actors were destroyed after reconnecting
    assert env.step(GO)[4]["termination_reason"] == "running"
    env.close()


def test_unreachable_server_ends_with_a_clear_error():
    fake = FakeCarlaBackend()
    fake.refuse_connects = 10
    with pytest.raises(
        CarlaConnectionError, match=r"^CARLA server at 127.0.0.1:2000 unreachable after 3 attempts"
    ):
        make(fake)
    assert fake.connects == 3


def test_cleanup_destroys_only_own_actors_sensors_stopped_first_in_one_batch():
    env, fake = make()
    foreign = set(fake.actors)  # e.g. the spectator
    env.reset(seed=0)
    sensors, everything = list(env.sensor_ids), ours(env)
    assert len(sensors) == 4 and len(env.npc_ids) == 5
    fake.log.clear()
    env.reset(seed=1)
    stops = [e for e in fake.log if e[0] == "stop"]
    destroys = [e for e in fake.log if e[0] == "destroy"]
    assert [i for _, i in stops] == sensors and len(destroys) == 1
    assert fake.log.index(stops[-1]) < fake.log.index(destroys[0])
    assert set(destroys[0][1]) == everything and list(destroys[0][1][:4]) == sensors
    env.close()
    assert set(fake.actors) == foreign and not fake.synchronous and not fake.connected


def test_nothing_leaks_across_1000_resets():
    env, fake = make(num_npcs=3, camera_width=32, camera_height=18)
    foreign = set(fake.actors)
    for seed in range(1000):
        env.reset(seed=seed)
        if seed % 100 == 0:
            env.step(GO)
        assert len(fake.actors) == len(foreign) + 1 + 4 + 3
    assert len(env.sensor_ids) == 4 and len(env.queues) == 4
    env.close()
    assert set(fake.actors) == foreign


def test_npcs_spawn_at_least_20_m_from_the_ego_and_depend_on_the_seed():
    env, fake = make(num_npcs=4)
    env.reset(seed=0)
    ego = fake.actors[env.ego_id].transform.location
    first = [fake.actors[i].transform.location.x for i in env.npc_ids]
    assert all(fake.actors[i].transform.location.distance(ego) >= 20.0 for i in env.npc_ids)
    env.reset(seed=0)
    assert [fake.actors[i].transform.location.x for i in env.npc_ids] == first
    env.reset(seed=5)
    assert [fake.actors[i].transform.location.x for i in env.npc_ids] != first
    env.close()


def test_collision_terminates_and_counts_as_a_vehicle_infraction():
    blocker = carla.Transform(carla.Location(x=30.0, y=1.75, z=0.5))
    env, fake = make(FakeCarlaBackend(spawn_points=[blocker]), num_npcs=1, npc_min_distance=20.0)
    env.reset(seed=0)
    for _ in range(400):
        obs, reward, terminated, truncated, info = env.step(GO)
        if terminated or truncated:
            break
    assert terminated and info["termination_reason"] == "collision" and info["events"]["collision"]
    assert info["metrics"]["collisions_vehicle"] == 1.0 and info["metrics"]["min_ttc"] < 3.0
    assert info["metrics"]["driving_score"] == pytest.approx(info["metrics"]["route_completion"] * 0.6)
    assert info["reward_terms"]["safety"] < -5.0
    env.close()


def test_steering_right_leaves_the_road_and_reports_negative_lateral_offset():
    env, fake = make(num_npcs=0)
    env.reset(seed=0)
    laterals = []
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(np.array([0.3, 0.5], np.float32))
        laterals.append(info["metrics"]["lateral_offset"])
        if terminated:
            break
    assert info["termination_reason"] == "off_road" and info["events"]["off_road"]
    # a right turn goes right of the lane centre; the road ends 1.75 m right of it (no drivable lane there)
    assert -2.5 < min(laterals) < -1.75 and max(laterals) <= 1e-6
    assert info["metrics"]["lane_invasions"] == 0.0  # the fake's right edge has no lane to invade
    env.close()


def test_time_limit_truncates_and_route_completion_succeeds():
    env, _ = make(num_npcs=0, max_episode_steps=10)
    env.reset(seed=0)
    for _ in range(10):
        *_, terminated, truncated, info = env.step(GO)
    assert truncated and not terminated and info["termination_reason"] == "time_limit"
    env.close()

    env, _ = make(num_npcs=0, route=[[2.0, 1.75], [40.0, 1.75]], max_episode_steps=400)
    env.reset(seed=0)
    for _ in range(400):
        *_, terminated, truncated, info = env.step(GO)
        if terminated or truncated:
            break
    assert terminated and info["termination_reason"] == "route_completed" and info["success"]
    assert info["metrics"]["distance"] == pytest.approx(38.0 - 3.0, abs=1.5)
    env.close()


def test_bad_configuration_and_actions_give_one_clear_error():
    with pytest.raises(ValueError, match="scenario must be one of"):
        CarlaEnv(backend=FakeCarlaBackend(), scenario=7)
    env, _ = make()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(GO)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(2,\)"):
        env.step(np.zeros(3))
    env.close()
    env.close()  # idempotent


def test_sensor_queue_matches_frames_and_keeps_future_events():
    from lightning_td3.envs.carla.sensors import CollisionReading, SensorQueue, SimulatorTimeout

    q = SensorQueue("collision")
    for frame in (4, 5, 7):
        q.put(CollisionReading(frame, "vehicle.a", 1.0))
    assert [r.frame for r in q.drain(5)] == [4, 5] and len(q) == 1  # frame 7 stays for its own tick
    with pytest.raises(SimulatorTimeout, match="got frame 7 while waiting for 6"):
        q.get(6, timeout=0.01)
    with pytest.raises(SimulatorTimeout, match="no reading for frame 8 within 0.01s"):
        q.get(8, timeout=0.01)


def test_stuck_detection_is_off_by_default_and_terminates_when_configured():
    for limit, expect_stuck in ((None, False), (5, True)):
        env = CarlaEnv(backend=FakeCarlaBackend(), route_start=[2.0, 1.75], route_length=170.0, num_npcs=0,
                       max_episode_steps=60, max_stopped_steps=limit)
        env.reset(seed=0)
        for _ in range(60):
            _, _, terminated, truncated, info = env.step(np.array([0.0, -1.0], np.float32))
            if terminated or truncated:
                break
        env.close()
        assert (info["termination_reason"] == contract.STUCK) == expect_stuck, info["termination_reason"]
        assert terminated == expect_stuck and truncated == (not expect_stuck)
