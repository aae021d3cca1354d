"""The lead-vehicle probe: counterfactual frames with the car ahead erased, and a policy's response to them."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_td3.agent import TD3
from lightning_td3.baselines.classical import ClassicalController
from lightning_td3.baselines.lead_vehicle import PairedStates, collect_paired_states, lead_response, markdown_table

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def traffic_env(**kwargs):
    from lightning_td3.envs.racetrack import RacetrackEnv

    return RacetrackEnv(scenario=2, spawn="anywhere", max_episode_steps=60, **kwargs)


def closing_run(env, steps=60, seed=5):
    """A blind lane follower that runs into the car ahead (seed 5: see test_collisions). Yields each state."""
    controller = ClassicalController.from_env(env, target_speed_kmh=45.0)
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        yield obs, info
        obs, _, terminated, truncated, info = env.step(controller.act(obs))
        if terminated or truncated:
            return


def test_erasing_the_lead_changes_only_its_pixels_and_never_the_simulation():
    env, twin = traffic_env(), traffic_env()
    seen_lead = 0
    twin_run = closing_run(twin)
    for (obs, info), (twin_obs, twin_info) in zip(closing_run(env), twin_run, strict=True):
        # the probe renders counterfactuals in env only; its twin runs untouched and must stay identical
        assert np.array_equal(obs["image"], twin_obs["image"]) and np.array_equal(obs["vector"], twin_obs["vector"])
        assert info["state"] == twin_info["state"]
        assert np.array_equal(env.frame_without([]), obs["image"])
        visible = env.other_vehicles(visible_only=True)
        for vehicle in env.other_vehicles():
            if not any(vehicle is v for v in visible):  # out of reach: erasing it cannot change the frame
                assert np.array_equal(env.frame_without([vehicle]), obs["image"])
        lead = env.lead_vehicle()
        if lead is None:
            assert info["state"]["obstacle_distance"] == np.inf
            continue
        ego = env.sim.vehicle
        forward = np.dot(lead.position - ego.position, [np.cos(ego.heading), np.sin(ego.heading)])
        assert info["state"]["obstacle_distance"] == pytest.approx(max(forward - 5.0, 0.0), abs=1e-6)  # 5 m cars
        changed = env.frame_without([lead]) != obs["image"]
        if info["state"]["obstacle_distance"] < 10:  # well inside the 42 m frame: drawn, and nothing else erased
            seen_lead += 1
            assert 20 <= changed.sum() <= 2 * (5 * 2) * (2 * 2)  # a 5 x 2 m car is 10 x 4 px at 2 px/m; room to turn
    assert seen_lead >= 5
    env.close()
    twin.close()


def test_heading_frame_shows_the_car_ahead_straight_up_at_its_gap():
    env = traffic_env(frame="heading")
    drawn = []
    for obs, info in (state for seed in (2, 5) for state in closing_run(env, seed=seed)):
        lead, gap = env.lead_vehicle(), info["state"]["obstacle_distance"]
        if lead is None or gap > 24:  # the view reaches 31.5 m ahead of the ego's centre: gap + 5 m of cars
            continue
        rows, cols = np.nonzero(env.frame_without([lead])[0] != obs["image"][0])
        drawn.append(gap)
        ego = env.sim.vehicle
        offset = lead.position - ego.position
        ahead = np.dot(offset, [np.cos(ego.heading), np.sin(ego.heading)])  # m; y points down the screen,
        right = np.dot(offset, [-np.sin(ego.heading), np.cos(ego.heading)])  # so +90 deg is the right
        assert ahead == pytest.approx(gap + 5, abs=1e-6) and abs(right) < 2.5  # ahead, in the ego's lane
        # its centre at 2 px/m from the ego's (row 63, column 42): up by what is ahead, right by what is right;
        # within 3 px, as highway-env draws every vehicle ~1.5 px up and left of its position (world frame too)
        assert abs(rows.mean() - (63 - 2 * ahead)) <= 3 and abs(cols.mean() - (42 + 2 * right)) <= 3
    env.close()
    assert len(drawn) >= 30 and max(drawn) > 20


def test_paired_states_keep_only_states_with_the_lead_drawn_and_erase_it_from_every_frame():
    env = traffic_env()
    states = collect_paired_states(env, ClassicalController.from_env(env, target_speed_kmh=45.0).act,
                                   episodes=1, seed=5, frame_stack=4)
    env.close()
    n = len(states.gaps)
    assert n >= 5 and states.images.shape == states.images_erased.shape == (n, 4, 84, 84)
    assert states.vectors.shape == (n, env.observation_space["vector"].shape[0]) and states.closing.shape == (n,)
    differs = (states.images != states.images_erased).reshape(n, 4, -1).any(-1)
    assert differs.any(axis=1).all()  # every kept state shows the lead somewhere in its stack
    assert differs[:, -1].sum() >= n - 1  # and, but at the edge of view, in its newest frame
    assert (states.gaps >= 0).all() and (states.gaps < 21).all()  # the frame reaches 21 m along each axis
    assert states.closing.mean() > 0  # the 45 km/h follower closes on slower IDM cars
    assert np.diff(states.gaps[-5:]).max() < 0  # ... up to the crash


SHAPE, VECTOR = (4, 36, 36), 5


def small_agent(encoder="shared"):
    torch.manual_seed(0)
    return TD3(image_shape=SHAPE, vector_dim=VECTOR, feature_dim=8, hidden_dim=16, encoder=encoder).eval()


def synthetic_states(n=12, erased_equal=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, *SHAPE), dtype=np.uint8)
    erased = images.copy()
    if not erased_equal:
        erased[:, :, 10:14, 10:16] = 99  # the "car" painted over with road gray
    gaps = np.linspace(0.5, 15.5, n)
    return PairedStates(images, erased, rng.normal(size=(n, VECTOR)).astype(np.float32), gaps, np.ones(n))


@pytest.mark.parametrize("encoder", ["shared", "separate"])
def test_the_response_equals_the_naive_per_state_computation(encoder):
    agent, states = small_agent(encoder), synthetic_states()
    rows = lead_response(agent, states, bins=(0.0, 8.0, float("inf")))
    assert [(r.gap_low, r.gap_high, r.states) for r in rows] == [(0, 8, 6), (8, np.inf, 6), (0, np.inf, 12)]

    def naive(images):
        actions, values = [], []
        with torch.no_grad():
            for image, vector in zip(images, states.vectors, strict=True):
                action = agent.act({"image": image, "vector": vector})
                feature = agent.critic_encoder(torch.as_tensor(image[None]))
                state = torch.cat([feature, torch.as_tensor(vector[None])], -1)
                actions.append(action)
                values.append(float(agent.critic.q1(state, torch.as_tensor(action[None]))))
        return np.array(actions), np.array(values)

    (a_seen, v_seen), (a_erased, v_erased) = naive(states.images), naive(states.images_erased)
    for row, mask in zip(rows, [states.gaps < 8, states.gaps >= 8, np.ones(12, bool)], strict=True):
        assert row.throttle_seen == pytest.approx(a_seen[mask, 1].mean(), abs=1e-5)
        assert row.throttle_drop == pytest.approx((a_erased[mask, 1] - a_seen[mask, 1]).mean(), abs=1e-5)
        assert row.steer_change == pytest.approx(np.abs(a_seen[mask, 0] - a_erased[mask, 0]).mean(), abs=1e-5)
        assert row.brakes_for_it == np.mean(a_seen[mask, 1] < a_erased[mask, 1] - 0.1)
        assert (row.value_seen, row.value_erased) == pytest.approx((v_seen[mask].mean(), v_erased[mask].mean()),
                                                                   rel=1e-5)
        assert row.feature_shift > 0


def test_identical_twins_show_no_response_and_a_pixel_blind_actor_shows_none_either():
    agent = small_agent()
    same = lead_response(agent, synthetic_states(erased_equal=True))[-1]
    assert (same.throttle_drop, same.steer_change, same.brakes_for_it, same.feature_shift) == (0, 0, 0, 0)
    assert same.value_seen == same.value_erased

    with torch.no_grad():
        agent.actor.net[0].weight[:, :8] = 0.0  # the actor no longer reads the image features
    blind = lead_response(agent, synthetic_states())[-1]
    assert blind.throttle_drop == 0 and blind.steer_change == 0
    assert blind.feature_shift > 0 and blind.value_seen != blind.value_erased  # the critic still sees the change

    table = markdown_table([("blind", lead_response(agent, synthetic_states()))])
    assert table.splitlines()[-1].startswith("| blind | all | 12 |") and "| 0–4 | 3 |" in table
    assert lead_response(agent, PairedStates(*(np.zeros((0, *SHAPE), np.uint8),) * 2, np.zeros((0, VECTOR)),
                                             np.zeros(0), np.zeros(0))) == []


def run_script(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts/lead_vehicle_response.py"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_script_refuses_an_env_without_traffic_and_a_missing_checkpoint(tmp_path):
    ckpt = tmp_path / "a.ckpt"
    ckpt.touch()  # the env is checked before any checkpoint is loaded
    empty = run_script("--config", "configs/racetrack.yaml", "--ckpt", str(ckpt), "--episodes", "1")
    assert empty.returncode == 2 and empty.stderr.strip().splitlines() == [
        "error: the lead-vehicle probe needs the racetrack with traffic (e.g. "
        "--config configs/overlays/racetrack_traffic.yaml)"]
    missing = run_script("--config", "configs/racetrack.yaml", "--ckpt", str(tmp_path / "none.ckpt"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: checkpoint not found: {tmp_path / 'none.ckpt'}"
