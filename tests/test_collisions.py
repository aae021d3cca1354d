"""The collision report: each crash's kind, speeds and the steps before it, from the racetrack with traffic."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lightning_td3.baselines.classical import ClassicalController
from lightning_td3.baselines.collisions import collision_kind, find_collisions, markdown_report

ROOT = Path(__file__).resolve().parents[1]
INF = math.inf


@pytest.mark.parametrize("forward, lateral, gaps_before, kind", [
    (5.0, 0.3, (4.0, 3.0, 2.0), "rear_end"),
    (5.0, 0.3, (2.6, INF, 0.6), "rear_end"),  # a weaving ego loses the car ahead from its lane band for a step
    (5.0, 0.3, (INF, INF, 0.0), "sideways"),  # it came into the lane at the last moment: a cut-in or lane change
    (5.0, 0.3, (), "sideways"),
    (5.0, 2.6, (4.0, 3.0, 2.0), "sideways"),  # more than half a lane to the side
    (-5.0, 0.3, (INF, INF, INF), "hit_from_behind"),
])  # fmt: skip
def test_collision_kind(forward, lateral, gaps_before, kind):
    assert collision_kind(forward, lateral, 2.5, gaps_before) == kind


@pytest.fixture(scope="module")
def traffic_env():
    from lightning_td3.envs.racetrack import RacetrackEnv

    env = RacetrackEnv(scenario=2, spawn="anywhere", max_episode_steps=60)
    yield env
    env.close()


def test_a_fast_lane_follower_rear_ends_the_car_ahead_and_the_report_shows_it_closing(traffic_env):
    controller = ClassicalController.from_env(traffic_env, target_speed_kmh=45.0)  # blind to cars, too fast
    report = find_collisions(controller.act, traffic_env, episodes=1, seed=5)
    assert dict(report.endings) == {"collision": 1} and len(report.collisions) == 1
    crash = report.collisions[0]
    assert report.steps == crash.step and report.throttle_change < 0.1  # a PID holds its throttle
    assert crash.kind == "rear_end" and crash.episode == 0 and len(crash.gaps) == len(crash.throttles) == 8
    assert crash.forward == pytest.approx(5.0, abs=0.2) and abs(crash.lateral) < 0.5  # bumper to bumper: 5 m cars
    assert crash.ego_speed > crash.other_speed > 0
    closing = -np.diff(crash.gaps)  # the gap shrinks each 0.2 s step by the speed difference
    assert np.all(closing > 0) and crash.gaps[-1] < 0.1
    assert closing.mean() == pytest.approx((crash.ego_speed - crash.other_speed) * traffic_env.dt, rel=0.3)

    text = markdown_report("fast follower", report)
    assert "episodes ended collision 1; collisions rear_end 1, sideways 0, hit_from_behind 0" in text
    assert f"| 0 | {crash.step} | rear_end | {crash.ego_speed * 3.6:.0f} |" in text


def test_a_car_cutting_across_is_not_a_rear_end_and_quiet_episodes_report_nothing(traffic_env):
    controller = ClassicalController.from_env(traffic_env, target_speed_kmh=45.0)
    report = find_collisions(controller.act, traffic_env, episodes=1, seed=3)
    assert dict(report.endings) == {"collision": 1} and [c.kind for c in report.collisions] == ["sideways"]
    assert math.isinf(report.collisions[0].gaps[-3])  # nothing ahead in the lane until the last steps
    calm = ClassicalController.from_env(traffic_env)  # 30 km/h
    report = find_collisions(calm.act, traffic_env, episodes=1, seed=0)
    assert (report.collisions, dict(report.endings), report.steps) == ([], {"time_limit": 1}, 60)
    assert markdown_report("calm", report).splitlines() == [
        "**calm**: episodes ended time_limit 1; collisions rear_end 0, sideways 0, hit_from_behind 0; mean change "
        f"per step (60 steps): steer {report.steer_change:.2f}, throttle_brake {report.throttle_change:.2f}"]


def test_bang_bang_throttle_shows_as_its_mean_change_per_step(traffic_env):
    pedal = iter(np.tile([1.0, -1.0], 100))
    report = find_collisions(lambda obs: np.array([0.0, next(pedal)]), traffic_env, episodes=2, seed=0)
    assert report.throttle_change == 2.0 and report.steer_change == 0.0
    assert "mean change per step" in markdown_report("bang-bang", report)


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts/collision_report.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)  # fmt: skip


def test_the_report_script_lists_the_classical_controllers_collisions(tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text("data:\n  env_kwargs: {scenario: 2, max_episode_steps: 60, spawn: anywhere}\n")
    done = run_script("--config", "configs/racetrack.yaml", "--config", str(short), "--classical", "--episodes", "2",
                      "--training_env", "--seed", "3")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 episodes of the training env per policy, env seed 3+" in done.stdout
    assert "**classical controller**: episodes ended " in done.stdout


@pytest.mark.parametrize("args, message", [
    (("--config", "configs/racetrack.yaml"), "error: nothing to report: give --ckpt and/or --classical"),
    (("--config", "configs/racetrack.yaml", "--ckpt", "missing.ckpt"), "error: checkpoint not found: missing.ckpt"),
    (("--config", "configs/racetrack.yaml", "--classical", "--episodes", "0"), "error: --episodes must be >= 1"),
    (("--config", "nope.yaml", "--classical"), "error: "),
])  # fmt: skip
def test_the_report_script_rejects_bad_input_in_one_line(args, message):
    done = run_script(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1
